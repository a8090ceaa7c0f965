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
