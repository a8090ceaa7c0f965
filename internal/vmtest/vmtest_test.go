package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container/internal/testutil"
)

// readCpio parses a newc archive: name -> mode and contents.
func readCpio(t *testing.T, b []byte) map[string][2]string {
	out := map[string][2]string{}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		require.Equal(t, "070701", string(b[off:off+6]))
		field := func(i int) int {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			require.NoError(t, err)
			return int(v)
		}
		mode, size, nameLen := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+nameLen-1])
		data := align(off + 110 + nameLen)
		if name == "TRAILER!!!" {
			return out
		}
		out[name] = [2]string{fmt.Sprintf("%o", mode), string(b[data : data+size])}
		off = align(data + size)
	}
}

func TestCpio(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tree", "sub", "f"), []byte("hello"), 0o600))
	require.NoError(t, os.Symlink("sub/f", filepath.Join(dir, "tree", "l")))
	var buf bytes.Buffer
	c := newCpio(&buf)
	require.NoError(t, c.bytes("/a/b/c.txt", 0o644, []byte("abc")))
	require.NoError(t, c.symlink("/bin/sh", "busybox"))
	require.NoError(t, c.tree("/t", filepath.Join(dir, "tree")))
	require.NoError(t, c.close())
	got := readCpio(t, buf.Bytes())
	assert.Equal(t, [2]string{"40755", ""}, got["/a"])
	assert.Equal(t, [2]string{"40755", ""}, got["/a/b"])
	assert.Equal(t, [2]string{"100644", "abc"}, got["/a/b/c.txt"])
	assert.Equal(t, [2]string{"120777", "busybox"}, got["/bin/sh"])
	assert.Equal(t, [2]string{"100600", "hello"}, got["/t/sub/f"])
	assert.Equal(t, [2]string{"120777", "sub/f"}, got["/t/l"])
	if cpio, err := exec.LookPath("cpio"); err == nil {
		// The reference reader agrees.
		cmd := exec.Command(cpio, "-t", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		require.NoError(t, err)
		assert.Contains(t, string(out), "/t/sub/f")
	}
}

// requireVM skips when the runner's tools are missing, except in CI, where
// the VM tests are part of what must run.
func requireVM(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "busybox", "apt-get"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testutil.InCI() {
				t.Fatalf("CI=true but %s is missing: %v", tool, err)
			}
			t.Skipf("needs %s (apt-get install qemu-system-x86 busybox-static): %v", tool, err)
		}
	}
}

func TestResolveModules(t *testing.T) {
	requireVM(t)
	k, err := ensureKernel(context.Background(), DefaultCacheDir(), t.Logf)
	require.NoError(t, err)
	mods, err := resolveModules(k.modDir, []string{"bridge"})
	require.NoError(t, err)
	var names []string
	for _, m := range mods {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".ko"))
	}
	require.Contains(t, names, "stp")
	assert.Equal(t, "bridge", names[len(names)-1], "dependencies first: %v", names)
	_, err = resolveModules(k.modDir, []string{"no_such_module"})
	assert.ErrorContains(t, err, "no_such_module")
}

func runGuestcheck(t *testing.T, timeout time.Duration, run string, env ...string) (*Result, string, error) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{
		Package:  "./testdata/guestcheck",
		TestArgs: []string{"-test.v", "-test.run=" + run},
		Env:      append([]string{"GUESTCHECK=passed-through"}, env...),
		Timeout:  timeout,
		Stdout:   &out,
		Logf:     t.Logf,
	})
	t.Logf("guest output:\n%s", out.String())
	return res, out.String(), err
}

func TestRunInVM(t *testing.T) {
	requireVM(t)
	res, out, err := runGuestcheck(t, 2*time.Minute, "TestEnvironment|TestPivotRoot|TestModuleAutoload|TestFails")
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Contains(t, out, "--- PASS: TestPivotRoot")
	assert.Contains(t, out, "--- PASS: TestModuleAutoload")
	assert.NotContains(t, out, "COCOON-VMTEST", "markers are the runner's, not output")
	t.Logf("boot %v, total %v", res.Boot, res.Total)
}

func TestRunReportsFailure(t *testing.T) {
	requireVM(t)
	res, out, err := runGuestcheck(t, 2*time.Minute, "TestFails", "GUESTCHECK_FAIL=1")
	require.NoError(t, err)
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, out, "failing on purpose")
}

func TestRunTimesOut(t *testing.T) {
	requireVM(t)
	res, out, err := runGuestcheck(t, 5*time.Second, "TestHangs", "GUESTCHECK_HANG=1")
	require.NoError(t, err)
	assert.True(t, res.TimedOut)
	assert.Contains(t, out, "SIGQUIT", "a goroutine dump comes with the timeout")
	assert.Contains(t, out, "goroutine ")
}
