//go:build linux

package container_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
)

func TestMemoryLimitEndsInOOMKilled(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "python3", "-c", "x = bytearray(200 << 20); print('allocated')")
	var out bytes.Buffer
	res, err := b.WithMemoryLimit(32 << 20).WithStdout(&out).Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, container.OOMKilled, res.Reason, "result %v", res)
	assert.Equal(t, 137, res.ExitCode)
	assert.Empty(t, out.String())
}

func TestPidsLimitStopsAForkBomb(t *testing.T) {
	testutil.RequireRoot(t)
	// 60 forks against a limit of 20 tasks: the forks past the limit fail
	// (EAGAIN), and the container still ends.
	b, _ := newT(t, "python3", "-c", `
import os, time
n = 0
for i in range(60):
    try:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        n += 1
    except OSError:
        pass
print(n, flush=True)`)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := b.WithPidsLimit(20).WithStdout(&out).Run(ctx)
	require.NoError(t, err)
	require.True(t, res.Success(), "%v", res)
	var forked int
	_, err = fmt.Sscanf(out.String(), "%d", &forked)
	require.NoError(t, err, "output %q", out.String())
	assert.LessOrEqual(t, forked, 19, "more tasks than the pids limit")
	assert.GreaterOrEqual(t, forked, 10)
}

// A CPU hog under a 0.5-core quota gets about half of one core: over 2 s of
// wall time it may use 1 s of CPU. Tolerance: at most 1.25 s (the quota is
// enforced per 100 ms period, so the real bound is 1 s plus one period), at
// least 0.5 s (the machine is shared; less means the hog was starved, not limited).
func TestCPULimitGivesHalfACore(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "timeout", "2", "sh", "-c", "while :; do :; done")
	c, err := b.WithCPULimit(0.5).Start(context.Background())
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
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	c, err := b.WithCgroup().WithStdout(w).Start(context.Background())
	w.Close()
	require.NoError(t, err)
	defer c.Delete()
	_, err = bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
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
