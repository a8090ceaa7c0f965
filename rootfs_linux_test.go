//go:build linux

package container_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/rootfs"
)

func TestDefaultRootfsIsIsolatedFromTheHost(t *testing.T) {
	testutil.RequireRoot(t)
	marker, err := os.CreateTemp("/tmp", "cocoon-host-marker-")
	require.NoError(t, err)
	marker.Close()
	defer os.Remove(marker.Name())
	os.Remove("/etc/cocoon-probe")

	b, _ := newT(t, "sh", "-c", `
echo probe > /etc/cocoon-probe && cat /etc/cocoon-probe
echo "kcore=$(cat /proc/kcore 2>/dev/null | wc -c)"
echo "timer_list=$(cat /proc/timer_list | wc -c) interrupts=$(cat /proc/interrupts | wc -c)"
if (echo x > /proc/sys/kernel/hostname) 2>/dev/null; then echo hostname=WROTE; else echo hostname=refused; fi
echo "dev=$(ls -A /dev | tr '\n' ' ')"
echo "root=$(awk '$5=="/" {print $9}' /proc/self/mountinfo)"
echo "tmp=$(ls -A /tmp | tr '\n' ' ')"
echo "blk=$(find /dev -type b | wc -l)"
echo "shadow=$(cat /etc/shadow | wc -c) sshkeys=$(ls /etc/ssh 2>/dev/null | wc -l)"
`)
	out := output(t, b)
	assert.Contains(t, out, "probe\n")
	assert.Contains(t, out, "kcore=0\n") // absent on some kernels, masked on the others
	// Masked files that exist on this kernel read empty (the host's do not).
	assert.Contains(t, out, "timer_list=0 interrupts=0\n")
	assert.Contains(t, out, "hostname=refused\n")
	assert.Contains(t, out, "dev=fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \n")
	assert.Contains(t, out, "root=overlay\n")
	assert.Contains(t, out, "tmp=\n", "the host's /tmp leaked in")
	assert.Contains(t, out, "blk=0\n")
	assert.Contains(t, out, "shadow=0 sshkeys=0\n", "the host's password hashes or ssh keys are readable")
	_, err = os.Stat("/etc/cocoon-probe")
	assert.ErrorIs(t, err, os.ErrNotExist, "a write inside the container reached the host")
}

// layer makes a layer directory with the given files ("path": content; a
// content of "\x00whiteout" makes an overlay whiteout, a path ending in "/"
// a directory, "/!opaque" an opaque directory).
func layer(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, "/!opaque"):
			d := strings.TrimSuffix(p, "/!opaque")
			require.NoError(t, os.MkdirAll(d, 0o755))
			require.NoError(t, unix.Setxattr(d, "trusted.overlay.opaque", []byte("y"), 0))
		case strings.HasSuffix(name, "/"):
			require.NoError(t, os.MkdirAll(p, 0o755))
		case content == "\x00whiteout":
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, unix.Mknod(p, unix.S_IFCHR, 0))
		default:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		}
	}
	return dir
}

func TestLayersWithWhiteoutAndOpaqueDirectory(t *testing.T) {
	testutil.RequireRoot(t)
	base := testutil.BusyboxRootfs(t, t.TempDir())
	l1 := layer(t, map[string]string{"data/a": "a1", "data/b": "b1", "data/dir/old": "old"})
	l2 := layer(t, map[string]string{"data/a": "\x00whiteout", "data/c": "c2", "data/b": "b2"})
	l3 := layer(t, map[string]string{"data/dir/!opaque": "", "data/dir/new": "new3"})
	b, _ := newT(t, "sh", "-c", "cd /data && find . | sort && cat b")
	out := output(t, b.WithLayers(base, l1, l2, l3))
	assert.Equal(t, ".\n./b\n./c\n./dir\n./dir/new\nb2", out)
	// The layers themselves are untouched by the container.
	_, err := os.Stat(filepath.Join(l1, "data", "a"))
	assert.NoError(t, err)
}

func TestPlainRootfsDirectory(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t, t.TempDir())
	b, _ := newT(t, "sh", "-c", "cat /etc/passwd; cat /etc/hostname; echo written > /hello")
	out := output(t, b.WithRootfs(root).WithHostname("plain"))
	assert.Equal(t, "root:x:0:0:root:/root:/bin/sh\nplain\n", out)
	// The hostname file is mounted over, not written: the directory may be
	// shared by many containers (at most an empty mount point is created).
	hn, _ := os.ReadFile(filepath.Join(root, "etc", "hostname"))
	assert.Empty(t, hn)
	data, err := os.ReadFile(filepath.Join(root, "hello"))
	require.NoError(t, err, "WithRootfs writes go to the directory itself")
	assert.Equal(t, "written\n", string(data))
}

func TestReadonlyRootTmpfsAndBinds(t *testing.T) {
	testutil.RequireRoot(t)
	rw, ro := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ro, "f"), []byte("ro content"), 0o644))
	b, _ := newT(t, "sh", "-c", `
touch /x 2>/dev/null && echo root=WROTE || echo root=refused
dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null && echo tmpfs=unbounded || echo tmpfs=full
rm /scratch/big
echo hi > /scratch/small && echo tmpfs=ok
cat /in/f; echo no > /in/f 2>/dev/null && echo ro=WROTE || echo ro=refused
echo from-container > /out/g`)
	out := output(t, b.WithReadonlyRootfs().WithTmpfs("/scratch", 1<<20, 0).WithBind(ro, "/in", true).WithBind(rw, "/out", false))
	assert.Equal(t, "root=refused\ntmpfs=full\ntmpfs=ok\nro contentro=refused\n", out)
	data, err := os.ReadFile(filepath.Join(rw, "g"))
	require.NoError(t, err)
	assert.Equal(t, "from-container\n", string(data))
}

func TestKeepLayerSurvivesDelete(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "echo kept > /etc/kept-file")
	c, err := b.WithKeepLayer().Start(context.Background())
	require.NoError(t, err)
	res, err := c.Wait()
	require.NoError(t, err)
	require.True(t, res.Success())
	require.NoError(t, c.Delete())
	data, err := os.ReadFile(filepath.Join(c.LayerDir(), "upper", "etc", "kept-file"))
	require.NoError(t, err)
	assert.Equal(t, "kept\n", string(data))
	// It is the caller's now: reclaiming crashed containers leaves it.
	removed, err := container.Reclaim(filepath.Dir(filepath.Dir(c.LayerDir())))
	require.NoError(t, err)
	assert.NotContains(t, removed, c.ID())
	require.NoError(t, os.RemoveAll(c.LayerDir()))
}

func TestHostileRootfsFailsSafely(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	base := testutil.BusyboxRootfs(t, t.TempDir())

	t.Run("bind target is a symlink to /", func(t *testing.T) {
		evil := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(evil, "mnt"), 0o755))
		require.NoError(t, os.Symlink("/", filepath.Join(evil, "mnt", "evil")))
		b, state := newT(t, "true")
		_, err := b.WithLayers(base, evil).WithBind(t.TempDir(), "/mnt/evil", false).Run(context.Background())
		require.ErrorIs(t, err, rootfs.ErrUnsafePath)
		assert.ErrorContains(t, err, "/mnt/evil is a symlink")
		assertNoContainersLeft(t, state)
	})
	t.Run("layer has proc -> /", func(t *testing.T) {
		evil := t.TempDir()
		require.NoError(t, os.Symlink("/", filepath.Join(evil, "proc")))
		b, state := newT(t, "true")
		// The lower layer's /proc directory is replaced by the symlink.
		_, err := b.WithLayers(base, evil).Run(context.Background())
		require.ErrorIs(t, err, rootfs.ErrUnsafePath)
		assert.ErrorContains(t, err, "/proc is a symlink")
		assertNoContainersLeft(t, state)
	})
	t.Run("symlinked parent stays inside the root", func(t *testing.T) {
		// /vol -> ../../../../etc must resolve inside the container: the bind
		// lands on the container's /etc/x, never on the host's /etc/x.
		evil := t.TempDir()
		require.NoError(t, os.Symlink("../../../../../../etc", filepath.Join(evil, "vol")))
		src := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("vol"), 0o644))
		b, _ := newT(t, "cat", "/etc/cocoon-x/f")
		out := output(t, b.WithLayers(base, evil).WithBind(src, "/vol/cocoon-x", true))
		assert.Equal(t, "vol", out)
		_, err := os.Stat("/etc/cocoon-x")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("volume source does not exist", func(t *testing.T) {
		b, state := newT(t, "true")
		_, err := b.WithBind("/nonexistent/cocoon/volume", "/data", false).Run(context.Background())
		require.ErrorIs(t, err, unix.ENOENT)
		assert.ErrorContains(t, err, "bind mount source /nonexistent/cocoon/volume does not exist")
		assertNoContainersLeft(t, state)
	})
	t.Run("layer that does not exist", func(t *testing.T) {
		b, state := newT(t, "true")
		_, err := b.WithLayers(base, "/nonexistent/cocoon/layer").Run(context.Background())
		require.ErrorIs(t, err, os.ErrNotExist)
		assertNoContainersLeft(t, state)
	})
}

func TestTwoHundredRunsLeaveNoMountsOrDirectories(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t) // includes the mount count of /proc/self/mountinfo
	state := t.TempDir()
	before, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for i := range 200 {
		res, err := container.New("true").WithStateDir(state).Run(context.Background())
		require.NoError(t, err, "run %d", i)
		require.True(t, res.Success())
	}
	after, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.Equal(t, strings.Count(string(before), "\n"), strings.Count(string(after), "\n"))
	assert.NotContains(t, string(after), state)
	assertNoContainersLeft(t, state)
}

func TestNoPivotRootUsesChroot(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t, t.TempDir())
	b, _ := newT(t, "sh", "-c", "cat /etc/passwd; echo $$")
	out := output(t, b.WithRootfs(root).WithNoPivotRoot())
	assert.Equal(t, "root:x:0:0:root:/root:/bin/sh\n1\n", out)
}
