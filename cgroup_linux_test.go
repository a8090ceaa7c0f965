//go:build linux

package container_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/namespace"
)

func TestMemoryLimitEndsInOOMKilled(t *testing.T) {
	testutil.RequireRoot(t)
	// dd allocates its block size up front: 200 MiB under a 32 MiB limit.
	b, _ := newT(t, "sh", "-c", "dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null && echo allocated")
	var out bytes.Buffer
	res, err := b.WithMemoryLimit(32 << 20).WithStdout(&out).Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, container.OOMKilled, res.Reason, "result %v", res)
	assert.Equal(t, 137, res.ExitCode)
	assert.Empty(t, out.String())
}

func TestPidsLimitStopsAForkBomb(t *testing.T) {
	testutil.RequireRoot(t)
	// This test binary, bind-mounted in, forks 60 children against a limit of
	// 20 tasks (its own Go threads count too): the forks past the limit fail
	// with EAGAIN, and the container still ends.
	self, err := os.Executable()
	require.NoError(t, err)
	b, _ := newT(t, "/cocoon-test")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := b.WithBind(self, "/cocoon-test", true).WithEnv("COCOON_TEST_ROLE=forks").
		WithPidsLimit(20).WithStdout(&out).Run(ctx)
	require.NoError(t, err)
	require.True(t, res.Success(), "%v", res)
	var forked int
	_, err = fmt.Sscanf(out.String(), "%d", &forked)
	require.NoError(t, err, "output %q", out.String())
	assert.Less(t, forked, 20, "more tasks than the pids limit")
	assert.Positive(t, forked)
}

func TestContainerIsPlacedInItsOwnCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	id := fmt.Sprintf("placed%d", os.Getpid())
	b, _ := newT(t, "sh", "-c", "echo $(cat /proc/self/cgroup); sleep 10")
	c, line := startLine(t, b.WithID(id).WithCgroup())
	host, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.Pid()))
	require.NoError(t, err)
	mine := 0
	for _, l := range strings.Split(strings.TrimSpace(string(host)), "\n") {
		if strings.Contains(l, "/cocoon-"+id) {
			mine++
		}
	}
	assert.Positive(t, mine, "the init is in no cgroup of its own: %s", host)
	// Inside, the cgroup namespace makes the container's cgroup its root.
	assert.NotContains(t, line, "cocoon", "the container sees host cgroup paths: %s", line)
}

// A CPU hog under a 0.5-core quota gets about half of one core: over 2 s of
// wall time it may use 1 s of CPU. Tolerance: at most 1.25 s (the quota is
// enforced per 100 ms period, so the real bound is 1 s plus one period), at
// least 0.5 s (the machine is shared; less means the hog was starved, not limited).
func TestCPULimitGivesHalfACore(t *testing.T) {
	testutil.RequireRoot(t)
	// With an init, so the timeout's SIGKILL does not target PID 1 (busybox's
	// timeout execs the command in its own process).
	b, _ := newT(t, "timeout", "-s", "KILL", "2", "sh", "-c", "while :; do :; done")
	c, err := b.WithInit().WithCPULimit(0.5).Start(context.Background())
	require.NoError(t, err)
	defer c.Delete()
	_, err = c.Wait()
	require.NoError(t, err)
	st, err := c.Stats()
	require.NoError(t, err)
	t.Logf("cpu used in 2 s under a 0.5-core limit: %v (throttled %d periods)", st.CPUUsage, st.CPUThrottledPeriods)
	assert.LessOrEqual(t, st.CPUUsage, 1250*time.Millisecond)
	assert.GreaterOrEqual(t, st.CPUUsage, 500*time.Millisecond)
	assert.Positive(t, st.CPUThrottledPeriods)
}

func TestPauseStopsProgressAndResumeRestartsIt(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "echo ready; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.01; done")
	c, _ := startLine(t, b.WithCgroup())
	count := func() string {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/count", c.Pid()))
		return string(data)
	}
	require.NoError(t, c.Pause())
	time.Sleep(50 * time.Millisecond)
	frozen := count()
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, frozen, count(), "the container made progress while paused")
	require.NoError(t, c.Resume())
	assert.Eventually(t, func() bool { return count() != frozen }, 2*time.Second, 20*time.Millisecond)
	st, err := c.Stats()
	require.NoError(t, err)
	assert.Positive(t, st.PidsCurrent)
	assert.Positive(t, st.MemoryCurrent)
}

func TestNoCgroupLeftAfter200Runs(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	state := t.TempDir()
	prefix := fmt.Sprintf("leak%d-", os.Getpid())
	for i := range 200 {
		res, err := container.New("true").WithStateDir(state).WithID(fmt.Sprintf("%s%d", prefix, i)).
			WithMemoryLimit(64 << 20).WithPidsLimit(100).Run(context.Background())
		require.NoError(t, err, "run %d", i)
		require.True(t, res.Success())
	}
	left, err := filepath.Glob("/sys/fs/cgroup/*/*/cocoon-" + prefix + "*")
	require.NoError(t, err)
	left2, err := filepath.Glob("/sys/fs/cgroup/*/*/*/cocoon-" + prefix + "*")
	require.NoError(t, err)
	assert.Empty(t, append(left, left2...), "cgroups left behind")
	assertNoContainersLeft(t, state)
}

func TestImpossibleLimitFailsCleanly(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	b, state := newT(t, "true")
	_, err := b.WithID(fmt.Sprintf("impossible%d", os.Getpid())).WithCPUSet("1000-1001").Run(context.Background())
	require.Error(t, err)
	var se *container.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "cgroup", se.Step)
	left, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/*/cocoon-impossible%d", os.Getpid()))
	assert.Empty(t, left)
	assertNoContainersLeft(t, state)
}

func TestKillReachesProcessesThatLeftTheTree(t *testing.T) {
	testutil.RequireRoot(t)
	// No pid namespace: killing the first process kills nothing else, and a
	// daemon in a session of its own escapes the process group too. The
	// container's cgroup still holds it.
	b, _ := newT(t, "sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 < /dev/null & echo $!; wait")
	b.WithNamespaces(namespace.Mount, namespace.UTS, namespace.IPC, namespace.Network, namespace.Cgroup)
	c, line := startLine(t, b.WithCgroup())
	daemon, err := strconv.Atoi(line)
	require.NoError(t, err, "output %q", line)
	require.Eventually(t, func() bool { return alive(daemon) }, time.Second, 10*time.Millisecond)
	require.NoError(t, c.Kill())
	assert.Eventually(t, func() bool { return !alive(daemon) }, 3*time.Second, 10*time.Millisecond, "the escaped daemon survived Kill")
}
