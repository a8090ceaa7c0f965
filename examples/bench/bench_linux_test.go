//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/rootfs"
)

func TestMain(m *testing.M) {
	// The test binary plays every role the benchmark binary plays: the
	// containers' init, the crun helper and the RSS self-report.
	container.Init()
	if code, ok := role(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func ds(ms ...float64) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m * float64(time.Millisecond))
	}
	return out
}

func TestMedianAndQuantile(t *testing.T) {
	assert.Equal(t, 3*time.Millisecond, median(ds(1, 3, 9)))
	assert.Equal(t, 2500*time.Microsecond, median(ds(1, 2, 3, 9)), "even count: mean of the middle two")
	ten := ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	assert.Equal(t, 9*time.Millisecond, quantile(ten, 0.9), "nearest rank: the 9th of 10")
	assert.Equal(t, 10*time.Millisecond, quantile(ten, 1))
	assert.Equal(t, 1*time.Millisecond, quantile(ds(1), 0.9))
}

func TestPairedDiffSkipsFailedRounds(t *testing.T) {
	mk := func(ms []float64, failAt int) *row {
		r := &row{}
		for i, d := range ds(ms...) {
			s := sample{d: d}
			if i == failAt {
				s.err = assert.AnError
			}
			r.samples = append(r.samples, s)
		}
		return r
	}
	a := mk([]float64{5, 6, 100, 7}, 2) // round 2 failed: its 100 ms must not count
	b := mk([]float64{1, 1, 1, 1}, -1)
	d, n := pairedDiff(a, b)
	assert.Equal(t, 3, n)
	assert.Equal(t, 5*time.Millisecond, d)
	_, n = pairedDiff(mk(nil, -1), b)
	assert.Zero(t, n)
}

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-n", "7", "-memory", "64m", "-order", "fixed"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, 7, o.n)
	assert.Equal(t, int64(64<<20), o.memory)
	assert.Equal(t, "fixed", o.order)
	assert.Equal(t, 50, o.concurrent, "default")

	for _, bad := range [][]string{
		{"-n", "0"}, {"-order", "random"}, {"-memory", "1m"}, {"-memory", "lots"},
		{"-burst-rounds", "0"}, {"-rss-runs", "0"}, {"stray"},
	} {
		_, err := parseFlags(bad, &stderr)
		assert.Error(t, err, "%q", bad)
	}
	code := run([]string{"bench", "-h"}, &stderr, &stderr)
	assert.Zero(t, code, "-h is not an error")
	assert.Contains(t, stderr.String(), "-concurrent")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "1G": 1 << 30, "512k": 512 << 10, "4096": 4096} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "m", "-1m", "0", "1x"} {
		_, err := parseSize(bad)
		assert.Error(t, err, bad)
	}
}

func TestUnescapeMount(t *testing.T) {
	assert.Equal(t, "/tmp/a b", unescapeMount(`/tmp/a\040b`))
	assert.Equal(t, "/plain", unescapeMount("/plain"))
	assert.Equal(t, `/odd\`, unescapeMount(`/odd\`))
}

// The bundle must ask runc and crun for the work cocoon's WithRootfs does:
// that is what makes the ratios mean something.
func readBundle(t *testing.T, dir string) *specs.Spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var s specs.Spec
	require.NoError(t, json.Unmarshal(raw, &s))
	return &s
}

func TestBundleIsCocoonsSpec(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeBundle(dir, "/r", "/cocoon-bench/x", 0))
	s := readBundle(t, dir)

	want, err := container.New("/bin/true").WithRootfs("/r").Spec()
	require.NoError(t, err)
	want.Version, want.Annotations, want.Linux.CgroupsPath = "1.0.2", nil, "/cocoon-bench/x"
	assert.Equal(t, want, s, "cocoon's spec with three edits")

	// What that means today, spelled out.
	assert.Equal(t, namespace.Defaults(), s.Linux.Namespaces)
	assert.Equal(t, rootfs.DefaultMounts(), s.Mounts)
	assert.Equal(t, "/r", s.Root.Path)
	assert.False(t, s.Root.Readonly, "cocoon's WithRootfs root is writable")
	assert.Equal(t, []string{"/bin/true"}, s.Process.Args)
	assert.False(t, s.Process.Terminal)
	assert.Nil(t, s.Linux.Resources, "no limits unless asked")
	assert.Equal(t, "/cocoon-bench/x", s.Linux.CgroupsPath, "absolute: outside the caller's own cgroup")

	require.NoError(t, writeBundle(dir, "/r", "/cocoon-bench/y", 64<<20))
	s = readBundle(t, dir)
	require.NotNil(t, s.Linux.Resources)
	require.NotNil(t, s.Linux.Resources.Memory)
	assert.Equal(t, int64(64<<20), *s.Linux.Resources.Memory.Limit)
	if b := container.New("/bin/true").WithRootfs("/r"); optional(b, "WithMemoryLimit", int64(64<<20)) {
		want, err := b.Spec()
		require.NoError(t, err)
		assert.Equal(t, want.Linux.Resources, s.Linux.Resources, "the limit as cocoon's WithMemoryLimit sets it")
	} else {
		assert.Equal(t, int64(64<<20), *s.Linux.Resources.Memory.Swap, "swap = limit, WithMemoryLimit's documented meaning")
	}
}

func TestSpecSummary(t *testing.T) {
	s, err := bundleSpec("/r", "/x", 0)
	require.NoError(t, err)
	sum := specSummary(s)
	assert.Contains(t, sum, fmt.Sprintf("%d mounts", len(s.Mounts)))
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
	s.Process.NoNewPrivileges = true
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}}}}
	sum = specSummary(s)
	assert.Contains(t, sum, "capabilities (1 bounding, 0 effective)")
	assert.Contains(t, sum, "no_new_privs")
	assert.Contains(t, sum, "seccomp (default SCMP_ACT_ERRNO, 1 rules over 2 syscall names)")
	s.Process.Capabilities, s.Linux.Seccomp = nil, nil
	sum = specSummary(s)
	assert.Contains(t, sum, "all capabilities")
	assert.Contains(t, sum, "no seccomp")
}

func TestCPUAccounting(t *testing.T) {
	a, err := takeCPU(0)
	require.NoError(t, err)
	// Burn some CPU in this process: it must count as the benchmark's own.
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	b, err := takeCPU(os.Getpid()) // a live pid stands in for the helper
	require.NoError(t, err)
	assert.GreaterOrEqual(t, b.busy, a.busy)
	assert.Greater(t, b.self-a.self, 50*time.Millisecond, "the busy loop is ours")

	self, kthreads, others := cpuUse(
		cpuSnap{at: time.Unix(0, 0), busy: 0, self: 0, kthreads: 0},
		cpuSnap{at: time.Unix(10, 0), busy: 15 * time.Second, self: 10 * time.Second, kthreads: 2 * time.Second})
	assert.InDelta(t, 1.0, self, 1e-9)
	assert.InDelta(t, 0.2, kthreads, 1e-9)
	assert.InDelta(t, 0.3, others, 1e-9)
	assert.Len(t, cpuNote(1, 0.1, 0.1), 1, "a quiet machine: no warning")
	assert.Len(t, cpuNote(1, 0.1, float64(runtime.NumCPU())), 2, "a busy one: a warning")
}

func TestOptionalBuilderMethods(t *testing.T) {
	b := container.New("/bin/true")
	assert.True(t, optional(b, "WithHostname", "box"), "an existing method is called")
	s, err := b.Spec()
	require.NoError(t, err)
	assert.Equal(t, "box", s.Hostname)
	assert.False(t, optional(b, "WithNoSuchFeature"), "a missing method is reported, not called")
	assert.False(t, optional(b, "WithHostname", 42), "an argument of the wrong type is refused")
	assert.False(t, optional(b, "WithHostname"), "a wrong argument count is refused")
	assert.True(t, optional(b, "WithStopTimeout", int64(time.Second)), "numbers convert to the parameter's type")
}

// TestBenchSmoke runs the whole benchmark briefly: every row must start, and
// nothing may be left behind — checked here independently of the
// benchmark's own cleanup report.
func TestBenchSmoke(t *testing.T) {
	testutil.RequireRoot(t)
	// Two things live as long as the process, by design, and start before
	// the leak check's snapshot: the protected init binary, opened at the
	// first container start, and os/signal's receive loop, started by the
	// first Notify (the benchmark stops early on SIGINT).
	res, err := container.New(busyboxPath, "true").WithNamespaces(namespace.PID).WithSpec(noRootfs).Run(context.Background())
	require.NoError(t, err)
	require.True(t, res.Success())
	_, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stop()
	testutil.CheckLeaks(t)

	var out, errb bytes.Buffer
	o := &options{n: 2, warmup: 1, concurrent: 3, burstRounds: 1, rssRuns: 1, order: "shuffle", install: true}
	code := bench(o, &out, &errb)
	t.Log(out.String())
	require.Zero(t, code, "stderr: %s", errb.String())

	text := out.String()
	for _, want := range []string{
		"cocoon WithRootfs(dir)", "cocoon WithLayers(dir)", "cocoon default root", "cocoon run --rootfs DIR",
		"runc run", "crun run", "fork+exec busybox true", "no mount ns, no rootfs",
		"in-process cocoon WithRootfs / runc run", "whole-process cocoon run --rootfs / crun run",
		"rootfs step:", "overlay:", "concurrent: 3 containers", "cleanup: nothing left behind",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "FAILED")
	assert.Regexp(t, `runc version \S+`, text, "versions in the header")
	assert.Regexp(t, `peak RSS`, text)
	rssRow := regexp.MustCompile(`(?m)^  runc run +2 +0 .* (\d+) / (\d+)$`)
	assert.Regexp(t, rssRow, text, "runc's row has 2 starts, 0 failures and a peak RSS")

	m := regexp.MustCompile(`run id ([0-9a-f]+)`).FindStringSubmatch(text)
	require.Len(t, m, 2)
	prefix := "cb-" + m[1] + "-"
	for _, rt := range []string{"runc", "crun"} {
		list, err := exec.Command(rt, "list", "-q").Output()
		if rt == "crun" && err != nil {
			continue // crun cannot list on a hybrid host outside the helper; its state dir is checked below
		}
		require.NoError(t, err)
		assert.NotContains(t, string(list), prefix, "%s containers left", rt)
	}
	for _, pattern := range []string{
		"/sys/fs/cgroup/*/cocoon-bench/" + prefix + "*",
		"/sys/fs/cgroup/*/cocoon/cocoon-" + prefix + "*",
		"/run/runc/" + prefix + "*",
		"/run/crun/" + prefix + "*",
		filepath.Join(container.DefaultStateDir(), "containers", prefix+"*"),
		filepath.Join(os.TempDir(), "cocoon-bench-"+m[1]+"-*"),
	} {
		left, err := filepath.Glob(pattern)
		require.NoError(t, err)
		assert.Empty(t, left, pattern)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.False(t, strings.Contains(string(mountinfo), "cocoon-bench-"+m[1]), "a mount of the run is left")
}
