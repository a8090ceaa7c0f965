//go:build linux

package security

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/stretchr/testify/require"
)

// BenchmarkSeccompCompile is the uncached cost of compiling Docker's default
// profile: what the first container of a process pays.
func BenchmarkSeccompCompile(b *testing.B) {
	prof, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile(prof, "amd64"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeccompCached is what every later start pays for the same
// profile: hashing it and a cache lookup.
func BenchmarkSeccompCached(b *testing.B) {
	prof, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(b, err)
	_, err = CompileSeccomp(prof)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileSeccomp(prof); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareDefaults is the parent-side cost per start with the
// defaults: the profile resolved from moby's data, then Prepare (cached
// filter).
func BenchmarkPrepareDefaults(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, l := defaultSpec(b)
		if _, err := Prepare(p, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeccompLoad measures seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) of
// Docker's default filter. A filter cannot be removed, so each load happens in
// a fresh child, which reports the time of the syscall alone (metric
// ns/load); ns/op includes starting the child.
func BenchmarkSeccompLoad(b *testing.B) {
	testutil.RequireRoot(b)
	plan := defaultPlan(b)
	pj, err := json.Marshal(plan)
	require.NoError(b, err)
	var total time.Duration
	for b.Loop() {
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = append(os.Environ(), childEnv+"=loadbench", "COCOON_PLAN="+string(pj))
		out, err := cmd.Output()
		require.NoError(b, err)
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		require.NoError(b, err)
		total += time.Duration(ns)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/load")
}
