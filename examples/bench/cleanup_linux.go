//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

type mountEntry struct {
	point, fstype string
}

func mounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f1, f2 := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f1) < 5 || len(f2) < 1 {
			continue
		}
		ms = append(ms, mountEntry{point: unescapeMount(f1[4]), fstype: f2[0]})
	}
	return ms, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func mountPoints() (map[string]bool, error) {
	ms, err := mounts()
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	set := map[string]bool{}
	for _, m := range ms {
		set[m.point] = true
	}
	return set, nil
}

// cleanup releases what the run made and reports what a runtime (or cocoon)
// left behind. Each entry is one leak; empty means nothing was left.
func (e *env) cleanup(mountsBefore map[string]bool) []string {
	var leaks []string
	prefix := "cb-" + e.runID + "-"
	if e.runc != "" {
		out, err := exec.Command(e.runc, "list", "-q").Output()
		if err != nil {
			leaks = append(leaks, fmt.Sprintf("runc list: %v (could not check)", err))
		}
		for _, id := range strings.Fields(string(out)) {
			if strings.HasPrefix(id, prefix) {
				err := exec.Command(e.runc, "delete", "-f", id).Run()
				leaks = append(leaks, fmt.Sprintf("runc container %s (runc delete -f: %v)", id, errOrOK(err)))
			}
		}
	}
	if e.h != nil {
		// On a hybrid host crun must see the same cgroup layout as when it
		// created the containers: ask it through the helper.
		out, err := e.h.cmdOutput(e.crun, "list", "-q")
		if err != nil {
			leaks = append(leaks, fmt.Sprintf("crun list: %v (could not check)", err))
		}
		for _, id := range strings.Fields(out) {
			if strings.HasPrefix(id, prefix) {
				_, err := e.h.cmdOutput(e.crun, "delete", "-f", id)
				leaks = append(leaks, fmt.Sprintf("crun container %s (crun delete -f: %v)", id, errOrOK(err)))
			}
		}
		if err := e.h.Close(); err != nil {
			leaks = append(leaks, fmt.Sprintf("crun helper: %v", err))
		}
	}
	if e.p != nil {
		e.p.Close()
	}

	ms, err := mounts()
	if err != nil {
		leaks = append(leaks, fmt.Sprintf("mounts: %v (could not check)", err))
	}
	// runc and crun: /cocoon-bench/<id>; cocoon: /cocoon/cocoon-<id> (the
	// cgroup package's default parent on v1 and hybrid hosts).
	cgLeaks := map[string][]string{} // container ID -> leftover cgroup dirs
	for _, m := range ms {
		if m.fstype != "cgroup" && m.fstype != "cgroup2" {
			continue
		}
		for _, parent := range []struct{ dir, prefix string }{
			{filepath.Join(m.point, "cocoon-bench"), prefix},
			{filepath.Join(m.point, "cocoon"), "cocoon-" + prefix},
		} {
			left, errs := cleanCgroups(parent.dir, parent.prefix, parent.dir == filepath.Join(m.point, "cocoon-bench"))
			for _, d := range left {
				id := strings.TrimPrefix(filepath.Base(d), "cocoon-")
				cgLeaks[id] = append(cgLeaks[id], d)
			}
			leaks = append(leaks, errs...)
		}
	}
	if len(cgLeaks) > 0 {
		var ids []string
		n := 0
		for id, dirs := range cgLeaks {
			ids = append(ids, id)
			n += len(dirs)
		}
		slices.Sort(ids)
		ex := ids
		if len(ex) > 5 {
			ex = ex[:5]
		}
		leaks = append(leaks, fmt.Sprintf("%d cgroup directories of %d containers (%s), e.g. %s; removed now",
			n, len(ids), strings.Join(ex, ", "), cgLeaks[ids[0]][0]))
	}
	mountUnderTmp := false
	for _, m := range ms {
		if mountsBefore[m.point] {
			continue
		}
		if (e.tmp != "" && strings.HasPrefix(m.point, e.tmp)) || strings.Contains(m.point, prefix) {
			leaks = append(leaks, fmt.Sprintf("mount on %s (%s)", m.point, m.fstype))
			mountUnderTmp = mountUnderTmp || strings.HasPrefix(m.point, e.tmp)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.stateDir, "containers", prefix+"*")); len(dirs) > 0 {
		leaks = append(leaks, fmt.Sprintf("%d cocoon state directories, e.g. %s (left in place)", len(dirs), dirs[0]))
	}
	for _, pid := range children() {
		leaks = append(leaks, fmt.Sprintf("child process %d still there", pid))
	}
	if e.tmp != "" {
		if mountUnderTmp {
			leaks = append(leaks, fmt.Sprintf("temporary dir %s kept: something is mounted below it", e.tmp))
		} else if err := os.RemoveAll(e.tmp); err != nil {
			leaks = append(leaks, fmt.Sprintf("temporary dir: %v", err))
		}
	}
	return leaks
}

// cleanCgroups removes the cgroups named prefix* below dir and returns
// them, with the errors of those it could not remove. With removeParent, dir
// itself goes too when empty: runc and crun create the parent of
// linux.cgroupsPath and never remove it (another run of the bench may still
// be using it: then it stays).
func cleanCgroups(dir, prefix string, removeParent bool) (left, errs []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil // not there: nothing used this hierarchy
	}
	for _, ent := range ents {
		if !ent.IsDir() || !strings.HasPrefix(ent.Name(), prefix) {
			continue
		}
		p := filepath.Join(dir, ent.Name())
		left = append(left, p)
		if err := unix.Rmdir(p); err != nil {
			errs = append(errs, fmt.Sprintf("cgroup %s: rmdir: %v", p, err))
		}
	}
	if !removeParent {
		return left, errs
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Sprintf("cgroup %s: rmdir: %v", dir, err))
	}
	return left, errs
}

func errOrOK(err error) string {
	if err == nil {
		return "removed now"
	}
	return err.Error()
}

// children lists the PIDs whose parent is this process.
func children() []int {
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == me {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
