//go:build linux

package cgroup_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container/cgroup"
)

// benchResources are the limits a typical container start asks for.
var benchResources = &specs.LinuxResources{
	Memory: &specs.LinuxMemory{Limit: i64(64 << 20)},
	CPU:    &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)},
	Pids:   &specs.LinuxPids{Limit: i64(64)},
}

// BenchmarkNewDestroy is the cgroup cost of a start on v2, where the init
// is born inside (CLONE_INTO_CGROUP) and needs no Attach.
func BenchmarkNewDestroy(b *testing.B) {
	host(b)
	newCgroup(b, nil) // another container: the default parent stays, as on a busy host
	for b.Loop() {
		cg, err := cgroup.New(cgroup.Config{Name: name(b), Resources: benchResources})
		require.NoError(b, err)
		require.NoError(b, cg.Destroy())
	}
}

// BenchmarkNewAttachDestroy is the cgroup cost of a start on v1/hybrid:
// New, Attach of the init, Destroy. The process attached is one sleeping
// helper, moved back to a holding cgroup before each Destroy; that move
// (one more write per hierarchy) is counted too, so this overstates the
// cost a little.
func BenchmarkNewAttachDestroy(b *testing.B) {
	host(b)
	holder := newCgroup(b, nil)
	p := start(b, holder, nil, "/bin/sh", "-c", "sleep 600 & wait")
	pid := p.cmd.Process.Pid
	for b.Loop() {
		cg, err := cgroup.New(cgroup.Config{Name: name(b), Resources: benchResources})
		require.NoError(b, err)
		b.Cleanup(func() { _ = cg.Destroy() }) // only does work when the loop failed
		require.NoError(b, cg.Attach(pid))
		require.NoError(b, holder.Attach(pid))
		require.NoError(b, cg.Destroy())
	}
}
