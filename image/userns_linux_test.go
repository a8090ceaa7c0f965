//go:build linux

package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const usernsBase = 200000

func usernsLayer(tb testing.TB) []byte {
	owned := file("home/u/f", "mine")
	owned.uid, owned.gid = 1234, 567
	return tarOf(tb, dir("etc"), file("etc/.wh..wh..opq", ""), file(".wh.gone", ""), owned,
		ent{name: "dev/null", typ: '3', mode: 0o666, major: 1, minor: 3}, ent{name: "fifo", typ: '6', mode: 0o600})
}

// usernsChild unpacks usernsLayer into COCOON_IMAGE_DIR as root of a user
// namespace, with user.* overlay xattrs as an unprivileged overlay needs.
func usernsChild() int {
	var t childTB
	_, err := Unpack(context.Background(), bytes.NewReader(usernsLayer(t)), os.Getenv("COCOON_IMAGE_DIR"), UnpackOptions{UserXattr: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestUnpackInUserNamespace: as root of a user namespace, ownership goes
// through the mapping, device nodes are skipped, whiteouts are still made.
func TestUnpackInUserNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	base, err := os.MkdirTemp("", "cocoon-image-userns-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	d := filepath.Join(base, "layer")
	require.NoError(t, os.Mkdir(d, 0o755))
	require.NoError(t, os.Chown(d, usernsBase, usernsBase))

	// The test binary sits in a 0700 build directory the namespace's root
	// (host uid usernsBase) cannot enter: exec it through an inherited fd.
	bin, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer bin.Close()
	cmd := exec.Command("/proc/self/fd/3", "-test.run=^$")
	cmd.ExtraFiles = []*os.File{bin}
	cmd.Env = append(os.Environ(), childEnv+"=userns", "COCOON_IMAGE_DIR="+d)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: usernsBase, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: usernsBase, Size: 65536}},
		// Without setuid the child keeps host uid 0, which the namespace does
		// not map; Credential makes it the namespace's root (host usernsBase).
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	got := snapshot(t, d)
	assert.Equal(t, fmt.Sprintf("file 644 %d:%d \"mine\" nlink=1", usernsBase+1234, usernsBase+567), got["home/u/f"])
	assert.Equal(t, fmt.Sprintf("char 0:0 %d:%d", usernsBase, usernsBase), got["gone"])
	assert.Contains(t, got["etc"], "user.overlay.opaque=y")
	assert.NotContains(t, got, "dev/null", "no device nodes without CAP_MKNOD in the initial namespace")
	assert.Equal(t, "fifo 600", got["fifo"])
}
