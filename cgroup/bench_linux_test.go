//go:build linux

package cgroup_test

import (
	"testing"
	"time"

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
	pid := sleeper(b, holder)
	for b.Loop() {
		cg, err := cgroup.New(cgroup.Config{Name: name(b), Resources: benchResources})
		require.NoError(b, err)
		b.Cleanup(func() { _ = cg.Destroy() }) // only does work when the loop failed
		require.NoError(b, cg.Attach(pid))
		require.NoError(b, holder.Attach(pid))
		require.NoError(b, cg.Destroy())
	}
}

// BenchmarkAttach is one Attach of a process (moving it between two
// cgroups): the part of a v1 start that v2's CLONE_INTO_CGROUP saves.
func BenchmarkAttach(b *testing.B) {
	host(b)
	a, c := newCgroup(b, nil), newCgroup(b, nil)
	pid := sleeper(b, a)
	for i := 0; b.Loop(); i++ {
		to := a
		if i%2 == 0 {
			to = c
		}
		require.NoError(b, to.Attach(pid))
	}
}

// sleeper starts a shell with one sleeping child in cg and returns the
// shell's pid once the child exists: a child forked later would be born
// wherever the benchmark had moved the shell, and Destroy would kill it.
func sleeper(b *testing.B, cg *cgroup.Cgroup) int {
	p := start(b, cg, nil, "/bin/sh", "-c", "sleep 600 & wait")
	require.Eventually(b, func() bool { ps, _ := cg.Procs(); return len(ps) == 2 }, 10*time.Second, time.Millisecond)
	return p.cmd.Process.Pid
}
