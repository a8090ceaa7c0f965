//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cpuSnap is the machine's busy CPU time and this benchmark's share of it.
// The load average cannot tell the two apart: on a 2-CPU machine the
// benchmark alone keeps it above 1.
type cpuSnap struct {
	at   time.Time
	busy time.Duration // all CPUs, from /proc/stat
	self time.Duration // this process, its reaped descendants and the crun helper's tree
	// kthreads is the CPU time of the kernel's threads alive at the
	// snapshot: much of it works for the containers (network namespace and
	// cgroup teardown, RCU), some for everything else.
	kthreads time.Duration
}

// clockTick is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports (sysconf(_SC_CLK_TCK) would need cgo to ask).
const clockTick = 10 * time.Millisecond

func takeCPU(helperPid int) (cpuSnap, error) {
	s := cpuSnap{at: time.Now()}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %w", err)
		}
		s.busy += time.Duration(n) * clockTick
	}
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if err := unix.Getrusage(who, &ru); err != nil {
			return s, err
		}
		s.self += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if helperPid > 0 {
		// Not reaped yet: its own and its reaped children's times.
		_, times, err := procTimes(helperPid)
		if err != nil {
			return s, err
		}
		s.self += times[0] + times[1] + times[2] + times[3]
	}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if ppid, times, err := procTimes(pid); err == nil && (pid == 2 || ppid == 2) {
			s.kthreads += times[0] + times[1]
		}
	}
	return s, nil
}

// procTimes reads a process's parent and its utime, stime, cutime and cstime.
func procTimes(pid int) (ppid int, times [4]time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, times, err
	}
	st := string(data)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return 0, times, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	// After "pid (comm)": state, ppid, ... utime..cstime are fields 14-17.
	rest := strings.Fields(st[i+1:])
	if len(rest) < 15 {
		return 0, times, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	if ppid, err = strconv.Atoi(rest[1]); err != nil {
		return 0, times, err
	}
	for k, v := range rest[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, times, err
		}
		times[k] = time.Duration(n) * clockTick
	}
	return ppid, times, nil
}

// cpuUse returns how many CPUs, on average between a and b, the benchmark,
// the kernel's threads and everything else (other users' processes) kept busy.
func cpuUse(a, b cpuSnap) (self, kthreads, others float64) {
	wall := float64(b.at.Sub(a.at))
	if wall <= 0 {
		return 0, 0, 0
	}
	self = float64(b.self-a.self) / wall
	kthreads = max(float64(b.kthreads-a.kthreads)/wall, 0)
	others = float64((b.busy-a.busy)-(b.self-a.self)-(b.kthreads-a.kthreads)) / wall
	return self, kthreads, max(others, 0)
}
