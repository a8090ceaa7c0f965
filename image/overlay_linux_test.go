//go:build linux

package image

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// overlayTree mounts layer dirs (lowest first) as a read-only overlay in a
// re-executed child with its own mount namespace and returns the merged tree.
func overlayTree(t *testing.T, layers []string) map[string]string {
	t.Helper()
	lower := make([]string, len(layers))
	for i, l := range layers {
		lower[len(layers)-1-i] = l // overlay lists the top layer first
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=overlay", "COCOON_IMAGE_LOWER="+strings.Join(lower, ":"),
		"COCOON_IMAGE_MNT="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in the child
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && assert.ErrorAs(t, err, &ee) {
		t.Fatalf("overlay child: %v: %s", err, ee.Stderr)
	}
	require.NoError(t, err)
	var tree map[string]string
	require.NoError(t, json.Unmarshal(out, &tree))
	return tree
}

func overlayChild() int {
	mnt := os.Getenv("COCOON_IMAGE_MNT")
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+os.Getenv("COCOON_IMAGE_LOWER")); err != nil {
		fmt.Fprintf(os.Stderr, "mount overlay: %v\n", err)
		return 1
	}
	tree := shapeOf(snapshot(childTB{}, mnt))
	delete(tree, ".")
	if err := json.NewEncoder(os.Stdout).Encode(tree); err != nil {
		return 1
	}
	return 0
}

// childTB lets the snapshot helper run outside a test; any failure aborts.
type childTB struct{ testing.TB }

func (childTB) Helper() {}
func (childTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
func (c childTB) FailNow() { os.Exit(1) }

func TestWhiteoutLayersMergeAsOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	base := tarOf(t, dir("etc"), file("etc/a", "a"), file("etc/b", "b"), file("removed", "r"),
		dir("usr"), file("usr/keep", "k"), file("usr/gone", "g"), dir("opt"), file("opt/o", "o"))
	top := tarOf(t, dir("etc"), file("etc/.wh..wh..opq", ""), file("etc/new", "n"),
		file(".wh.removed", ""), file("usr/.wh.gone", ""), file("usr/added", "+"), file("opt/o", "o2"))
	var dirs []string
	for _, l := range [][]byte{base, top} {
		d := filepath.Join(t.TempDir(), "layer")
		require.NoError(t, os.Mkdir(d, 0o755))
		_, err := Unpack(t.Context(), strings.NewReader(string(l)), d, UnpackOptions{})
		require.NoError(t, err)
		dirs = append(dirs, d)
	}
	assert.Equal(t, map[string]string{
		"etc":       "dir",
		"etc/new":   `file "n"`,
		"usr":       "dir",
		"usr/keep":  `file "k"`,
		"usr/added": `file "+"`,
		"opt":       "dir",
		"opt/o":     `file "o2"`,
	}, overlayTree(t, dirs))
}

// runInImageChild mounts the layers as overlay (read-only) in its own mount
// namespace and runs the process described by COCOON_IMAGE_PROCESS chrooted
// into it: enough to show that pulled layer dirs form a working root.
func runInImageChild() int {
	mnt := os.Getenv("COCOON_IMAGE_MNT")
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+os.Getenv("COCOON_IMAGE_LOWER")); err != nil {
		fmt.Fprintf(os.Stderr, "mount overlay: %v\n", err)
		return 1
	}
	var p rspec.Process
	if err := json.Unmarshal([]byte(os.Getenv("COCOON_IMAGE_PROCESS")), &p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Path is looked up after chroot: give it absolute (the container's init
	// searches PATH inside the root itself).
	cmd := &exec.Cmd{Path: p.Args[0], Args: p.Args}
	cmd.Env, cmd.Dir = p.Env, p.Cwd
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: mnt, Credential: &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID}}
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestPulledBusyboxRuns(t *testing.T) {
	testutil.RequireRoot(t)
	requireBusybox(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	reg.push(t, "busybox:latest", imageOf(t, v1.Config{Cmd: []string{"sh"}, WorkingDir: "/tmp"}, busyboxLayer(t),
		layer(t, file("etc/motd", "layer two\n"), file(".wh.home", ""))))
	s := openStore(t)
	img, err := s.Pull(t.Context(), reg.host+"/busybox:latest", reg.opts())
	require.NoError(t, err)
	var p rspec.Process
	require.NoError(t, img.ApplyProcess(&p, ProcessOverrides{Args: []string{"/bin/sh", "-c", "ls /; cat /etc/os-release /etc/motd; pwd; id -u"}}))
	pj, err := json.Marshal(p)
	require.NoError(t, err)
	dirs := img.ShortLayerDirs() // overlay follows the store's short links
	lower := []string{dirs[1], dirs[0]}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=run", "COCOON_IMAGE_LOWER="+strings.Join(lower, ":"),
		"COCOON_IMAGE_MNT="+t.TempDir(), "COCOON_IMAGE_PROCESS="+string(pj))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "bin\netc\nroot\ntmp\nNAME=\"cocoon busybox\"\nID=busybox\nlayer two\n/tmp\n0\n", string(out),
		"home is whited out by the second layer")
}
