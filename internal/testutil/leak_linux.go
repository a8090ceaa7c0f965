//go:build linux

package testutil

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Snapshot is the set of process-wide resources a test must give back.
type Snapshot struct {
	FDs        map[int]string
	Mounts     int
	Children   []int
	Goroutines int
}

// Take records the current fds, mount count, child processes and goroutines.
func Take() Snapshot {
	return Snapshot{FDs: openFDs(), Mounts: countMounts(), Children: Children(os.Getpid()), Goroutines: runtime.NumGoroutine()}
}

// CheckLeaks registers a cleanup that fails tb when, at the end of the test,
// the process holds more fds, mounts, children or goroutines than at the start.
// Goroutines and children get a short grace period to finish.
func CheckLeaks(tb testing.TB) {
	tb.Helper()
	before := Take()
	tb.Cleanup(func() { AssertNoLeaks(tb, before) })
}

// AssertNoLeaks compares the process with an earlier Snapshot.
func AssertNoLeaks(tb testing.TB, before Snapshot) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Second)
	var after Snapshot
	for {
		after = Take()
		if (len(after.Children) <= len(before.Children) && after.Goroutines <= before.Goroutines &&
			len(after.FDs) <= len(before.FDs) && after.Mounts <= before.Mounts) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var extra []string
	for fd, target := range after.FDs {
		if _, ok := before.FDs[fd]; !ok {
			extra = append(extra, fmt.Sprintf("%d -> %s", fd, target))
		}
	}
	assert.Empty(tb, extra, "file descriptors leaked")
	assert.LessOrEqual(tb, after.Mounts, before.Mounts, "mounts leaked in /proc/self/mountinfo")
	assert.LessOrEqual(tb, len(after.Children), len(before.Children), "child processes left: %v", after.Children)
	if after.Goroutines > before.Goroutines {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		assert.LessOrEqual(tb, after.Goroutines, before.Goroutines, "goroutines leaked:\n%s", buf[:n])
	}
}

func openFDs() map[int]string {
	fds := map[int]string{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fds
	}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fds[n] = target
	}
	// The directory fd used by ReadDir is closed again; drop whatever is gone.
	for n := range fds {
		if _, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", n)); err != nil {
			delete(fds, n)
		}
	}
	return fds
}

func countMounts() int {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		n++
	}
	return n
}

// Children lists the PIDs whose parent is pid, zombies included.
func Children(pid int) []int {
	var out []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
