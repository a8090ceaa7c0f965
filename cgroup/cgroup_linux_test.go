//go:build linux

package cgroup_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container/cgroup"
	"github.com/cocoonrt/container/internal/testutil"
)

// helperEnv selects a role when the test binary re-executes itself as a
// workload (a plain child process, not a container).
const helperEnv = "COCOON_CGROUP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "alloc":
		// Touch every page so the memory is charged, not just reserved.
		var keep [][]byte
		for i := 0; i < 1024; i++ {
			b := make([]byte, 1<<20)
			for j := range len(b) / 4096 {
				b[j*4096] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB without being stopped")
		os.Exit(3)
	case "vacate":
		os.Exit(vacateHelper())
	case "vacate-in-container":
		os.Exit(vacateInContainerHelper())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

var seq atomic.Int64

// name returns a cgroup name that is ours beyond doubt and unique per call.
func name(t testing.TB) string {
	n := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("cocoon-test-%d-%s-%d", os.Getpid(), n, seq.Add(1))
}

func host(t testing.TB) *cgroup.Host {
	t.Helper()
	testutil.RequireRoot(t)
	h, err := cgroup.Detect()
	require.NoError(t, err)
	return h
}

// requireUnified skips a test of v2-only behaviour on other hosts; the test
// command runs the package again inside a cgroup v2 VM where it runs.
func requireUnified(t testing.TB) {
	t.Helper()
	if h := host(t); h.Mode != cgroup.Unified {
		t.Skipf("needs a pure cgroup v2 host (this one is %s); runs in the VM: go run ./internal/vmtest/cmd/vmtest -pkg ./cgroup", h.Mode)
	}
}

func newCgroup(t testing.TB, r *specs.LinuxResources) *cgroup.Cgroup {
	t.Helper()
	cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: r})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cg.Destroy()) })
	return cg
}

type proc struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	waited chan error
}

// start runs argv inside cg the way a container start does: born inside on
// v2 (CLONE_INTO_CGROUP), attached before it is released on v1 (a shell
// waits on stdin until the parent has attached it).
func start(t testing.TB, cg *cgroup.Cgroup, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{waited: make(chan error, 1)}
	var gate io.WriteCloser
	if fd := cg.PlacementFD(); fd >= 0 {
		p.cmd = exec.Command(argv[0], argv[1:]...)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	} else {
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", `read _ && exec "$0" "$@"`}, argv...)...)
		var err error
		gate, err = p.cmd.StdinPipe()
		require.NoError(t, err)
	}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	// A workload's stray child can hold the output pipe open forever.
	p.cmd.WaitDelay = 2 * time.Second
	require.NoError(t, p.cmd.Start())
	go func() { p.waited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.waited
	})
	if gate != nil {
		require.NoError(t, cg.Attach(p.cmd.Process.Pid))
		_, err := gate.Write([]byte("\n"))
		require.NoError(t, err)
		gate.Close() // a quick workload's Wait may have closed it already
	}
	return p
}

func (p *proc) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.waited:
		p.waited <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("process %v still running after %v; output:\n%s", p.cmd.Args, d, p.out.String())
		return nil
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }

// dirs lists where a cgroup of that name would live, in every hierarchy.
func dirs(t testing.TB, h *cgroup.Host, cgPath string) []string {
	t.Helper()
	if h.Mode == cgroup.Unified {
		return []string{filepath.Join(h.UnifiedMount, cgPath)}
	}
	seen := map[string]bool{}
	var out []string
	for _, mnt := range h.V1 {
		if !seen[mnt] {
			seen[mnt] = true
			out = append(out, filepath.Join(mnt, cgPath))
		}
	}
	return out
}

func TestDetect(t *testing.T) {
	h := host(t)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs("/sys/fs/cgroup", &st))
	const cgroup2Magic = 0x63677270
	switch h.Mode {
	case cgroup.Unified:
		assert.EqualValues(t, cgroup2Magic, st.Type, "unified mode but /sys/fs/cgroup is not cgroup2")
		assert.Empty(t, h.V1)
		assert.Contains(t, h.UnifiedControllers, "memory")
	case cgroup.Hybrid, cgroup.Legacy:
		assert.NotEqualValues(t, cgroup2Magic, st.Type)
		for _, c := range []string{"memory", "cpu", "pids", "freezer"} {
			assert.DirExists(t, h.V1[c], "v1 %s hierarchy", c)
		}
		if h.Mode == cgroup.Hybrid {
			assert.NotEmpty(t, h.UnifiedMount)
		}
	default:
		t.Fatalf("unexpected mode %v", h.Mode)
	}
	t.Logf("mode %s; cgroup2 at %q with %v; v1 %v", h.Mode, h.UnifiedMount, h.UnifiedControllers, h.V1)
}

func TestCreateDestroyLayout(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20)},
		CPU:    &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)},
		Pids:   &specs.LinuxPids{Limit: i64(64)},
	}})
	require.NoError(t, err)
	ds := dirs(t, h, cg.Path())
	for _, d := range ds {
		assert.DirExists(t, d)
	}
	if h.Mode == cgroup.Unified {
		assert.GreaterOrEqual(t, cg.PlacementFD(), 0)
		for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000", "pids.max": "64"} {
			b, err := os.ReadFile(filepath.Join(ds[0], file))
			require.NoError(t, err)
			assert.Equal(t, want, strings.TrimSpace(string(b)), file)
		}
	} else {
		assert.Equal(t, -1, cg.PlacementFD(), "v1 has no CLONE_INTO_CGROUP placement")
		for ctrl, fv := range map[string][2]string{"memory": {"memory.limit_in_bytes", "67108864"}, "cpu": {"cpu.cfs_quota_us", "50000"}, "pids": {"pids.max", "64"}} {
			b, err := os.ReadFile(filepath.Join(h.V1[ctrl], cg.Path(), fv[0]))
			require.NoError(t, err)
			assert.Equal(t, fv[1], strings.TrimSpace(string(b)), fv[0])
		}
	}
	require.NoError(t, cg.Destroy())
	require.NoError(t, cg.Destroy(), "Destroy is idempotent")
	_, err = cg.Stats()
	assert.ErrorIs(t, err, os.ErrNotExist, "no all-zero stats from a destroyed cgroup")
	for _, d := range ds {
		assert.NoDirExists(t, d)
	}
}

func TestMemoryLimitOOMKill(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	cg := newCgroup(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}})
	exe, err := os.Executable()
	require.NoError(t, err)
	p := start(t, cg, []string{helperEnv + "=alloc"}, exe)
	err = p.wait(t, 60*time.Second)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the allocator must be killed; output:\n%s", p.out.String())
	ws := ee.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "exit status %v; output:\n%s", ws, p.out.String())
	assert.Equal(t, syscall.SIGKILL, ws.Signal())
	oom, err := cg.OOMKilled()
	require.NoError(t, err)
	assert.True(t, oom, "OOMKilled must report the kill")
	st, err := cg.Stats()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.OOMKills, uint64(1))
	if _, err := os.Stat(filepath.Join(h.UnifiedMount, cg.Path(), "memory.peak")); h.Mode == cgroup.Unified && err != nil {
		t.Logf("not checking the peak: this kernel has no memory.peak (Linux 5.19+): %v", err)
	} else {
		assert.GreaterOrEqual(t, st.MemoryPeak, uint64(24<<20), "peak should be near the limit")
		// The charge may overshoot the limit by a page or so before reclaim.
		assert.LessOrEqual(t, st.MemoryPeak, uint64(32<<20+64<<10))
	}
	if h.Mode == cgroup.Unified {
		b, err := os.ReadFile(filepath.Join(h.UnifiedMount, cg.Path(), "memory.events"))
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^oom_kill [1-9]`, string(b), "memory.events")
	}
}

func TestNoOOMWithoutPressure(t *testing.T) {
	host(t)
	cg := newCgroup(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}})
	p := start(t, cg, nil, "/bin/sh", "-c", "exit 7")
	var ee *exec.ExitError
	require.ErrorAs(t, p.wait(t, 30*time.Second), &ee)
	assert.Equal(t, 7, ee.ExitCode())
	oom, err := cg.OOMKilled()
	require.NoError(t, err)
	assert.False(t, oom)
}

func pidsEvents(t testing.TB, h *cgroup.Host, cg *cgroup.Cgroup) string {
	dir := filepath.Join(h.UnifiedMount, cg.Path())
	if h.Mode != cgroup.Unified {
		dir = filepath.Join(h.V1["pids"], cg.Path())
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids.events"))
	require.NoError(t, err)
	return string(b)
}

func TestPidsLimitStopsForkBomb(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	const limit = 16
	cg := newCgroup(t, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(limit)}})
	// A bounded bomb: 200 forks that each stay alive. Were the limit not
	// enforced, 200 sleeping shells would still be harmless on a shared host.
	p := start(t, cg, nil, "/bin/sh", "-c", `i=0; while [ $i -lt 200 ]; do sleep 600 & i=$((i+1)); done; wait`)
	var st *cgroup.Stats
	require.Eventually(t, func() bool {
		return strings.Contains(pidsEvents(t, h, cg), "max ") && !strings.Contains(pidsEvents(t, h, cg), "max 0")
	}, 60*time.Second, 20*time.Millisecond, "fork never hit the limit; pids.events: %s", pidsEvents(t, h, cg))
	st, err := cg.Stats()
	require.NoError(t, err)
	assert.LessOrEqual(t, st.PidsCurrent, uint64(limit))
	assert.Greater(t, st.PidsCurrent, uint64(1))
	procs, err := cg.Procs()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(procs), limit)
	t.Logf("pids.current %d with limit %d; pids.events %q", st.PidsCurrent, limit, strings.TrimSpace(pidsEvents(t, h, cg)))
	require.NoError(t, cg.Kill())
	p.wait(t, 30*time.Second)
	require.Eventually(t, func() bool { ps, _ := cg.Procs(); return len(ps) == 0 }, 10*time.Second, 10*time.Millisecond)
}

// TestCPUQuota runs a busy loop under 0.5 CPU and measures the share of one
// core it got over 2 s. The quota is an upper bound the kernel enforces per
// 100 ms period, so the ratio may not exceed 0.5 by more than accounting
// slack (0.6). Other work on the shared 2-core machine (and TCG in the VM)
// can only take time away, so the lower bound is generous (0.25); the
// throttle counter proves the quota, not luck, held the loop back.
func TestCPUQuota(t *testing.T) {
	host(t)
	cg := newCgroup(t, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}})
	start(t, cg, nil, "/bin/sh", "-c", "while :; do :; done")
	time.Sleep(300 * time.Millisecond) // past start-up
	s0, err := cg.Stats()
	require.NoError(t, err)
	t0 := time.Now()
	time.Sleep(2 * time.Second)
	s1, err := cg.Stats()
	require.NoError(t, err)
	ratio := float64(s1.CPUUsage-s0.CPUUsage) / float64(time.Since(t0))
	t.Logf("cpu share under a 0.5 quota: %.3f of one core over %v (throttled periods %d)", ratio, time.Since(t0).Round(time.Millisecond), s1.CPUThrottledPeriods-s0.CPUThrottledPeriods)
	assert.LessOrEqual(t, ratio, 0.6)
	assert.GreaterOrEqual(t, ratio, 0.25)
	assert.Greater(t, s1.CPUThrottledPeriods, s0.CPUThrottledPeriods, "the quota never throttled the loop")
}

func TestFreezeThaw(t *testing.T) {
	host(t)
	testutil.CheckLeaks(t)
	cg := newCgroup(t, nil)
	start(t, cg, nil, "/bin/sh", "-c", "while :; do :; done")
	usage := func() time.Duration {
		st, err := cg.Stats()
		require.NoError(t, err)
		return st.CPUUsage
	}
	require.Eventually(t, func() bool { return usage() > 0 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, cg.Freeze())
	u0 := usage()
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, u0, usage(), "a frozen loop must not make progress")
	require.NoError(t, cg.Thaw())
	u1 := usage()
	require.Eventually(t, func() bool { return usage() > u1 }, 10*time.Second, 10*time.Millisecond, "thawed loop makes progress")
}

// TestKillEscaped kills a process that left the started process's tree
// (reparented to init by a double fork) through the cgroup alone.
func TestKillEscaped(t *testing.T) {
	host(t)
	testutil.CheckLeaks(t)
	cg := newCgroup(t, nil)
	p := start(t, cg, nil, "/bin/sh", "-c", "(sleep 600 >/dev/null 2>&1 &); exit 0")
	require.NoError(t, p.wait(t, 30*time.Second))
	var procs []int
	require.Eventually(t, func() bool {
		var err error
		procs, err = cg.Procs()
		return err == nil && len(procs) == 1
	}, 10*time.Second, 10*time.Millisecond)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", procs[0]))
	require.NoError(t, err)
	assert.NotContains(t, testutil.Children(os.Getpid()), procs[0], "the escaped process is not our child")
	t.Logf("escaped: %s", strings.TrimSpace(string(stat)))
	require.NoError(t, cg.Kill())
	require.Eventually(t, func() bool { ps, _ := cg.Procs(); return len(ps) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestDestroyKillsStrays(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	cg, err := cgroup.New(cgroup.Config{Name: name(t)})
	require.NoError(t, err)
	p := start(t, cg, nil, "/bin/sh", "-c", "sleep 600 & sleep 600 & wait")
	require.Eventually(t, func() bool { ps, _ := cg.Procs(); return len(ps) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, cg.Destroy())
	p.wait(t, 10*time.Second)
	for _, d := range dirs(t, h, cg.Path()) {
		assert.NoDirExists(t, d)
	}
}

func TestStats(t *testing.T) {
	host(t)
	cg := newCgroup(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}})
	start(t, cg, nil, "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 600 & wait")
	require.Eventually(t, func() bool {
		st, err := cg.Stats()
		require.NoError(t, err)
		return st.CPUUsage > 0 && st.CPUUser+st.CPUSystem > 0 && st.MemoryCurrent > 0 && st.PidsCurrent == 2
	}, 30*time.Second, 20*time.Millisecond)
	st, err := cg.Stats()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.MemoryPeak, st.MemoryCurrent)
	t.Logf("%+v", *st)
}

// TestNoCgroupLeftAfter200Runs starts a process in a fresh cgroup 200 times
// and checks that nothing of ours is left in any hierarchy.
func TestNoCgroupLeftAfter200Runs(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	var paths []string
	for i := 0; i < 200; i++ {
		cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(64 << 20)},
			Pids:   &specs.LinuxPids{Limit: i64(32)},
			CPU:    &specs.LinuxCPU{Quota: i64(50000)},
		}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = cg.Destroy() }) // only does work when the loop failed
		paths = append(paths, cg.Path())
		p := start(t, cg, nil, "/bin/true")
		require.NoError(t, p.wait(t, 30*time.Second))
		require.NoError(t, cg.Destroy())
	}
	for _, cp := range paths {
		for _, d := range dirs(t, h, cp) {
			assert.NoDirExists(t, d)
		}
	}
	pattern := fmt.Sprintf("cocoon-test-%d-", os.Getpid())
	for _, d := range dirs(t, h, filepath.Dir(paths[0])) {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			assert.False(t, strings.HasPrefix(e.Name(), pattern+"TestNoCgroupLeft"), "left behind: %s/%s", d, e.Name())
		}
	}
}

func TestFailedNewLeavesNothing(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	n := name(t)
	_, err := cgroup.New(cgroup.Config{Name: n, Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20)},
		CPU:    &specs.LinuxCPU{Cpus: "0-4095"},
	}})
	require.Error(t, err)
	var errno syscall.Errno
	assert.ErrorAs(t, err, &errno, "the kernel's refusal is wrapped")
	assert.Contains(t, err.Error(), "cpuset")
	parent := "/cocoon"
	if h.Mode == cgroup.Unified {
		own, rerr := os.ReadFile("/proc/self/cgroup")
		require.NoError(t, rerr)
		parent = filepath.Join(strings.TrimSpace(strings.TrimPrefix(string(own), "0::")), "cocoon")
	}
	for _, d := range dirs(t, h, filepath.Join(parent, n)) {
		assert.NoDirExists(t, d)
	}

	// A name already taken is refused, and the existing cgroup survives.
	cg := newCgroup(t, nil)
	_, err = cgroup.New(cgroup.Config{Name: filepath.Base(cg.Path())})
	assert.ErrorIs(t, err, cgroup.ErrExists)
	for _, d := range dirs(t, h, cg.Path()) {
		assert.DirExists(t, d)
	}
}

func TestUnenforceableIsAnError(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	try := func(r *specs.LinuxResources) error {
		cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: r})
		if err == nil {
			assert.NoError(t, cg.Destroy())
		}
		return err
	}
	//lint:ignore SA1019 checking that the deprecated field is refused
	err := try(&specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1 << 20)}})
	assert.ErrorIs(t, err, cgroup.ErrNotSupported)
	assert.ErrorContains(t, err, "kernel memory")
	err = try(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(1 << 10)}})
	assert.ErrorIs(t, err, cgroup.ErrInvalid)
	err = try(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(0)}})
	assert.ErrorIs(t, err, cgroup.ErrInvalid)
	if h.Mode == cgroup.Unified {
		err = try(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}})
		assert.ErrorIs(t, err, cgroup.ErrNotSupported)
		assert.ErrorContains(t, err, "swappiness")
		deny := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		err = try(&specs.LinuxResources{Devices: deny})
		assert.ErrorIs(t, err, cgroup.ErrNotSupported)
		assert.ErrorContains(t, err, "device rules")
	} else {
		err = try(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}})
		assert.ErrorIs(t, err, cgroup.ErrNotSupported)
		assert.ErrorContains(t, err, "unified")
		// Weight files exist only below the root and only with CFQ or BFQ:
		// either the weight lands in one of them or New refuses it.
		cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}})
		if err != nil {
			assert.ErrorIs(t, err, cgroup.ErrNotSupported)
			assert.ErrorContains(t, err, "blkio weight")
		} else {
			var got []string
			for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
				if b, err := os.ReadFile(filepath.Join(h.V1["blkio"], cg.Path(), f)); err == nil {
					got = append(got, strings.TrimSpace(string(b)))
				}
			}
			assert.Contains(t, strings.Join(got, " "), "500")
			assert.NoError(t, cg.Destroy())
		}
	}
	assert.False(t, errors.Is(try(nil), cgroup.ErrNotSupported))
}

func cmdInCgroup(fd int, argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	return cmd
}

// TestConcurrentDefaultParent creates and destroys cgroups from several
// goroutines at once: the shared default parent is removed by whichever
// Destroy empties it and recreated by the next New, and neither may fail.
func TestConcurrentDefaultParent(t *testing.T) {
	host(t)
	testutil.CheckLeaks(t)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 25 {
				cg, err := cgroup.New(cgroup.Config{Name: name(t), Resources: &specs.LinuxResources{
					Memory: &specs.LinuxMemory{Limit: i64(64 << 20)},
					CPU:    &specs.LinuxCPU{Cpus: "0"},
				}})
				if err != nil {
					errs <- err
					return
				}
				if err := cg.Destroy(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		assert.NoError(t, <-errs)
	}
}

// TestUpdate raises limits on a live cgroup, including memory and
// memory+swap together, which v1 accepts only in the right order.
func TestUpdate(t *testing.T) {
	h := host(t)
	testutil.CheckLeaks(t)
	cg := newCgroup(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(64 << 20)}})
	require.NoError(t, cg.Update(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(128 << 20), Swap: i64(256 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64(10)},
	}))
	read := func(ctrl, file string) string {
		dir := filepath.Join(h.UnifiedMount, cg.Path())
		if h.Mode != cgroup.Unified {
			dir = filepath.Join(h.V1[ctrl], cg.Path())
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	if h.Mode == cgroup.Unified {
		assert.Equal(t, "134217728", read("", "memory.max"))
		assert.Equal(t, "134217728", read("", "memory.swap.max"), "swap alone: memory+swap minus memory")
		assert.Equal(t, "10", read("", "pids.max"))
	} else {
		assert.Equal(t, "134217728", read("memory", "memory.limit_in_bytes"))
		assert.Equal(t, "268435456", read("memory", "memory.memsw.limit_in_bytes"))
		assert.Equal(t, "10", read("pids", "pids.max"))
	}
}
