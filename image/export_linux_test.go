//go:build linux

package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mutateChild mounts a writable overlay (lower, upper, work) and changes it
// the way a container would: add, overwrite, delete a lower file (whiteout),
// replace a lower directory (opaque), hardlink, symlink. It prints the tree
// the container sees.
func mutateChild() int {
	mnt := os.Getenv("COCOON_IMAGE_MNT")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", os.Getenv("COCOON_IMAGE_LOWER"),
		os.Getenv("COCOON_IMAGE_UPPER"), os.Getenv("COCOON_IMAGE_WORK"))
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		fmt.Fprintf(os.Stderr, "mount overlay: %v\n", err)
		return 1
	}
	j := func(p string) string { return filepath.Join(mnt, p) }
	for _, step := range []error{
		os.WriteFile(j("etc/new"), []byte("new"), 0o600),
		os.WriteFile(j("etc/a"), []byte("changed"), 0o644),
		os.Remove(j("etc/b")),
		os.RemoveAll(j("var")),
		os.Mkdir(j("var"), 0o750),
		os.WriteFile(j("var/fresh"), []byte("f"), 0o644),
		os.Link(j("etc/new"), j("etc/new-link")),
		os.Symlink("/etc/a", j("a-link")),
		os.Chown(j("etc/new"), 1234, 5678),
	} {
		if step != nil {
			fmt.Fprintln(os.Stderr, step)
			return 1
		}
	}
	tree := shapeOf(snapshot(childTB{}, mnt))
	delete(tree, ".")
	if err := json.NewEncoder(os.Stdout).Encode(tree); err != nil {
		return 1
	}
	return 0
}

func TestExportLayerRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	base := unpackLayers(t, []ent{dir("etc"), file("etc/a", "a"), file("etc/b", "b"),
		dir("var"), file("var/old", "o"), dir("var/sub"), file("var/sub/deep", "d")})[0]
	tmp := t.TempDir()
	upper, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
	require.NoError(t, os.Mkdir(upper, 0o755))
	require.NoError(t, os.Mkdir(work, 0o700))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=mutate", "COCOON_IMAGE_LOWER="+base, "COCOON_IMAGE_UPPER="+upper,
		"COCOON_IMAGE_WORK="+work, "COCOON_IMAGE_MNT="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var inContainer map[string]string
	require.NoError(t, json.Unmarshal(out, &inContainer))

	var layer bytes.Buffer
	id, err := ExportLayer(t.Context(), upper, &layer)
	require.NoError(t, err)
	assert.Equal(t, sha(layer.Bytes()), id.String())

	d := filepath.Join(t.TempDir(), "layer")
	require.NoError(t, os.Mkdir(d, 0o755))
	got, err := Unpack(t.Context(), bytes.NewReader(layer.Bytes()), d, UnpackOptions{})
	require.NoError(t, err)
	assert.Equal(t, id, got)
	snap := snapshot(t, d)
	assert.Equal(t, "char 0:0 0:0", snap["etc/b"], "the deleted lower file is a whiteout again")
	assert.Contains(t, snap["var"], "trusted.overlay.opaque=y")
	assert.Equal(t, "file 600 1234:5678 \"new\" nlink=2", snap["etc/new"])

	assert.Equal(t, inContainer, overlayTree(t, []string{base, d}),
		"the exported layer on top of its base shows what the container saw")
}
