//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// driver is one cgroup version's implementation behind Cgroup.
type driver interface {
	apply(r *specs.LinuxResources) error
	placementFD() int
	attach(pid int) error
	procs() ([]int, error)
	stats(*Stats) error
	oomKills() (uint64, error)
	setFrozen(frozen bool) error
	// kill sends SIGKILL to every process; it does not wait for them.
	kill() error
	// remove deletes every directory the driver created; it fails while
	// processes are still inside.
	remove() error
}

// Cgroup is one container's cgroup: a directory per hierarchy (one on v2),
// created by New and removed by Destroy, its only release point.
type Cgroup struct {
	path string
	log  *slog.Logger
	d    driver

	mu        sync.Mutex
	destroyed bool
}

// detectOnce caches the mount table scan: hierarchies are not remounted
// under a running program, and New is on every container's start path.
var detectOnce = sync.OnceValues(detect)

// Detect reports how the host mounts its cgroup hierarchies.
func Detect() (*Host, error) {
	h, err := detectOnce()
	if err != nil {
		return nil, err
	}
	c := *h
	c.UnifiedControllers = slices.Clone(h.UnifiedControllers)
	c.V1 = make(map[string]string, len(h.V1))
	for k, v := range h.V1 {
		c.V1[k] = v
	}
	return &c, nil
}

func detect() (*Host, error) {
	ms, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: detect: read mountinfo: %w", err)
	}
	h := &Host{V1: map[string]string{}}
	for _, m := range ms {
		switch m.FSType {
		case "cgroup2":
			// Prefer the conventional place when several cgroup2 mounts exist.
			if h.UnifiedMount == "" || m.Mountpoint == "/sys/fs/cgroup" {
				h.UnifiedMount = m.Mountpoint
			}
		case "cgroup":
			for _, opt := range strings.Split(m.VFSOptions, ",") {
				if slices.Contains(v1Controllers, opt) {
					if _, dup := h.V1[opt]; !dup {
						h.V1[opt] = m.Mountpoint
					}
				}
			}
		}
	}
	if h.UnifiedMount != "" {
		b, err := os.ReadFile(filepath.Join(h.UnifiedMount, "cgroup.controllers"))
		if err == nil {
			h.UnifiedControllers = strings.Fields(string(b))
		}
	}
	switch {
	case len(h.V1) == 0 && h.UnifiedMount != "":
		h.Mode = Unified
	case len(h.V1) > 0 && h.UnifiedMount != "":
		h.Mode = Hybrid
	case len(h.V1) > 0:
		h.Mode = Legacy
	default:
		return nil, fmt.Errorf("cgroup: no cgroup hierarchy is mounted: %w", ErrNotSupported)
	}
	return h, nil
}

// New creates the container's cgroup and applies cfg.Resources. On error it
// leaves nothing behind.
func New(cfg Config) (*Cgroup, error) {
	if cfg.Name == "" || cfg.Name == "." || cfg.Name == ".." || strings.ContainsAny(cfg.Name, "/\x00\n") {
		return nil, fmt.Errorf("cgroup: invalid name %q: %w", cfg.Name, ErrInvalid)
	}
	if cfg.Parent != "" && (!path.IsAbs(cfg.Parent) || strings.Contains(cfg.Parent, "\x00")) {
		return nil, fmt.Errorf("cgroup: parent %q must be an absolute cgroup path: %w", cfg.Parent, ErrInvalid)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := detectOnce()
	if err != nil {
		return nil, err
	}
	var (
		d   driver
		cgp string
	)
	switch h.Mode {
	case Unified:
		d, cgp, err = newV2(h, cfg, log)
	default:
		d, cgp, err = newV1(h, cfg, log)
	}
	if err != nil {
		return nil, err
	}
	if err := d.apply(cfg.Resources); err != nil {
		if rerr := d.remove(); rerr != nil {
			log.Warn("cgroup: remove after failed apply", "path", cgp, "err", rerr)
		}
		return nil, err
	}
	log.Debug("cgroup created", "path", cgp, "mode", h.Mode.String())
	return &Cgroup{path: cgp, log: log, d: d}, nil
}

// Path is the container's cgroup path relative to the hierarchy root (the
// same in every v1 hierarchy), e.g. "/cocoon/<name>"; the value for the
// runtime spec's linux.cgroupsPath and for a container's /proc/PID/cgroup as
// seen from the host's cgroup namespace.
func (c *Cgroup) Path() string { return c.path }

// PlacementFD returns an open directory fd of the v2 cgroup for
// SysProcAttr{UseCgroupFD: true, CgroupFD: fd}: with CLONE_INTO_CGROUP the
// child is born inside, never running unlimited. It returns -1 on v1/hybrid
// hosts, where the caller must Attach the child before releasing it. The fd
// belongs to the Cgroup and is closed by Destroy.
func (c *Cgroup) PlacementFD() int { return c.d.placementFD() }

// Attach moves the process pid (all its threads) into the cgroup, in every
// hierarchy.
func (c *Cgroup) Attach(pid int) error { return c.d.attach(pid) }

// Update applies resources to the existing cgroup (the runtime spec's update).
func (c *Cgroup) Update(r *specs.LinuxResources) error { return c.d.apply(r) }

// Procs lists the PIDs in the cgroup.
func (c *Cgroup) Procs() ([]int, error) { return c.d.procs() }

// Stats reads the cgroup's usage counters.
func (c *Cgroup) Stats() (*Stats, error) {
	c.mu.Lock()
	gone := c.destroyed
	c.mu.Unlock()
	if gone {
		// Missing files read as zero (an undelegated controller), so say
		// it here rather than report an all-zero snapshot.
		return nil, fmt.Errorf("cgroup: stats of %s after Destroy: %w", c.path, os.ErrNotExist)
	}
	var s Stats
	if err := c.d.stats(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// OOMKilled reports whether the kernel's OOM killer has killed a process in
// this cgroup (memory.events oom_kill on v2, memory.oom_control oom_kill on
// v1). Callers use it after the init died of SIGKILL to tell an OOM kill from
// a plain kill.
func (c *Cgroup) OOMKilled() (bool, error) {
	n, err := c.d.oomKills()
	return n > 0, err
}

// Freeze stops every process in the cgroup and returns once the kernel
// reports them frozen.
func (c *Cgroup) Freeze() error { return c.d.setFrozen(true) }

// Thaw lets the processes of a frozen cgroup run again.
func (c *Cgroup) Thaw() error { return c.d.setFrozen(false) }

// Kill sends SIGKILL to every process in the cgroup at once, also to those
// that left the init's process tree (cgroup.kill on v2; freeze, kill, thaw
// elsewhere). It does not wait for them to die.
func (c *Cgroup) Kill() error { return c.d.kill() }

// Destroy kills whatever still runs in the cgroup, waits for it to go, and
// removes every directory New created. It is idempotent.
func (c *Cgroup) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	// The common case is an empty cgroup: try removal first and only look
	// for strays when the kernel says busy. Exited processes are zombies
	// that no longer count as members, so this does not wait for the
	// caller to reap the init.
	deadline := time.Now().Add(10 * time.Second)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := c.d.remove()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: destroy %s: %w", c.path, err)
		}
		if procs, perr := c.d.procs(); perr == nil && len(procs) > 0 {
			c.log.Debug("cgroup: killing strays before removal", "path", c.path, "pids", procs)
			if kerr := c.d.kill(); kerr != nil {
				return fmt.Errorf("cgroup: destroy %s: kill strays: %w", c.path, kerr)
			}
		}
		time.Sleep(delay)
	}
	c.destroyed = true
	c.log.Debug("cgroup destroyed", "path", c.path)
	return nil
}

var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices", "hugetlb"}

// writeFile writes one value with one write(2), as cgroupfs expects. A
// missing interface file means the controller or kernel feature is absent.
func writeFile(dir, file, val string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return notSupported(file, p, err)
		}
		return fmt.Errorf("cgroup: open %s: %w", p, err)
	}
	_, err = f.WriteString(val)
	cerr := f.Close()
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cgroup: write %q to %s: %w", val, p, err)
	}
	if cerr != nil {
		return fmt.Errorf("cgroup: close %s: %w", p, cerr)
	}
	return nil
}

func readString(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readUint(dir, file string) (uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return ^uint64(0), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup: parse %s/%s: %w", dir, file, err)
	}
	return n, nil
}

// readKeyed parses "key value" lines (cpu.stat, memory.events, oom_control).
func readKeyed(dir, file string) (map[string]uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}

func readProcs(dir string) ([]int, error) {
	s, err := readString(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// rmdirTree removes dir and any cgroups the workload created below it,
// deepest first (cgroupfs has no recursive removal). A dir already gone is
// success.
func rmdirTree(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EBUSY && err != unix.ENOTEMPTY {
		return fmt.Errorf("cgroup: rmdir %s: %w", dir, err)
	}
	// Busy: child cgroups, or processes (then the retry fails again and
	// the caller kills them).
	ents, rerr := os.ReadDir(dir)
	if rerr != nil {
		return fmt.Errorf("cgroup: %w", rerr)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("cgroup: rmdir %s: %w", dir, err)
	}
	return nil
}

// The shared default parent is created by New and removed by the Destroy
// that empties it. Both hold a flock(2) on one directory above it (shared
// in New, exclusive in removal), across goroutines and processes, so a
// removal never lands between New's mkdir of the parent and of its child.
// One lock covers all v1 hierarchies: locking each cost more than the
// mkdirs it protects.
func flockDir(dir string, how int) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cgroup: open %s: %w", dir, err)
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("cgroup: flock %s: %w", dir, err)
	}
	return func() { unix.Close(fd) }, nil // closing the last fd drops the lock
}

// removeIfEmpty removes the shared default parent (one per hierarchy) when
// the last container in it is gone. A busy one means other containers,
// which exist in every hierarchy, so the rest is not tried.
func removeIfEmpty(lockDir string, parents []string, log *slog.Logger) {
	unlock, err := flockDir(lockDir, unix.LOCK_EX)
	if err != nil {
		log.Debug("cgroup: keep default parent", "err", err)
		return
	}
	defer unlock()
	for _, dir := range parents {
		if err := unix.Rmdir(dir); err == unix.EBUSY || err == unix.ENOTEMPTY {
			return
		} else if err != nil && err != unix.ENOENT {
			log.Debug("cgroup: keep default parent", "dir", dir, "err", err)
		}
	}
}

// mkdirParent creates dir and its missing ancestors below root, calling
// prepare on each level it creates (a v1 cpuset needs cpus and mems before
// it can hold anything).
func mkdirParent(root, dir string, prepare func(string) error) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup: %s is outside %s: %w", dir, root, ErrInvalid)
	}
	cur := root
	if rel == "." {
		return nil
	}
	for _, part := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, part)
		err := unix.Mkdir(cur, 0o755)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return fmt.Errorf("cgroup: mkdir %s: %w", cur, err)
		}
		if prepare != nil {
			if err := prepare(cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdirCgroup creates the container's directory dir and its missing
// ancestors below root. parentReady (if any) runs between the parent's
// creation and the child's.
func mkdirCgroup(root, dir string, prepare func(string) error, parentReady func() error) error {
	if parentReady == nil {
		// Optimistic: the parent usually exists; one mkdir instead of one
		// per level.
		err := unix.Mkdir(dir, 0o755)
		switch err {
		case nil:
			return nil
		case unix.EEXIST:
			return fmt.Errorf("cgroup: %s: %w", dir, ErrExists)
		case unix.ENOENT:
		default:
			return fmt.Errorf("cgroup: mkdir %s: %w", dir, err)
		}
	}
	if err := mkdirParent(root, filepath.Dir(dir), prepare); err != nil {
		return err
	}
	if parentReady != nil {
		if err := parentReady(); err != nil {
			return err
		}
	}
	switch err := unix.Mkdir(dir, 0o755); err {
	case nil:
		return nil
	case unix.EEXIST:
		return fmt.Errorf("cgroup: %s: %w", dir, ErrExists)
	default:
		return fmt.Errorf("cgroup: mkdir %s: %w", dir, err)
	}
}
