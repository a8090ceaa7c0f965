//go:build linux

package namespace_test

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/namespace"
)

func TestCloneFlagsLeaveOutJoinedAndTime(t *testing.T) {
	f := namespace.CloneFlags([]specs.LinuxNamespace{
		{Type: namespace.PID}, {Type: namespace.Network, Path: "/proc/1/ns/net"}, {Type: namespace.Time}, {Type: namespace.User},
	})
	assert.Equal(t, uintptr(unix.CLONE_NEWPID|unix.CLONE_NEWUSER), f)
}

func TestCheckJoinable(t *testing.T) {
	testutil.RequireRoot(t)
	assert.NoError(t, namespace.CheckJoinable([]specs.LinuxNamespace{{Type: namespace.Network, Path: "/proc/self/ns/net"}}))
	assert.ErrorIs(t, namespace.CheckJoinable([]specs.LinuxNamespace{{Type: namespace.Mount, Path: "/proc/self/ns/mnt"}}), namespace.ErrNotSupported)
	assert.ErrorContains(t, namespace.CheckJoinable([]specs.LinuxNamespace{{Type: namespace.Network, Path: "/proc/self/ns/uts"}}), "another type")
	assert.ErrorContains(t, namespace.CheckJoinable([]specs.LinuxNamespace{{Type: namespace.Network, Path: "/etc/hostname"}}), "not a namespace file")
	assert.ErrorIs(t, namespace.CheckJoinable([]specs.LinuxNamespace{{Type: namespace.Network, Path: "/nonexistent"}}), os.ErrNotExist)
}

func TestSame(t *testing.T) {
	same, err := namespace.Same("/proc/self/ns/net", "/proc/thread-self/ns/net")
	require.NoError(t, err)
	assert.True(t, same)
	same, err = namespace.Same("/proc/self/ns/net", "/proc/self/ns/uts")
	require.NoError(t, err)
	assert.False(t, same)
}
