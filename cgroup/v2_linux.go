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
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Controllers are the controllers New delegates down to the container's
// cgroup when the parent offers them.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "pids", "hugetlb", "misc", "rdma"}

type v2 struct {
	dir           string // the container's cgroup directory
	parentDir     string
	defaultParent bool
	fd            int // open directory fd for CLONE_INTO_CGROUP; -1 once closed
	log           *slog.Logger
}

// ownV2Path returns the caller's cgroup path in the unified hierarchy.
func ownV2Path() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return path.Clean(strings.TrimSuffix(p, " (deleted)")), nil
		}
	}
	return "", fmt.Errorf("cgroup: /proc/self/cgroup has no cgroup v2 entry: %w", ErrNotSupported)
}

func newV2(h *Host, cfg Config, log *slog.Logger) (driver, string, error) {
	mnt := h.UnifiedMount
	parent := cfg.Parent
	var start string // the highest level whose subtree_control New may edit
	if parent == "" {
		own, err := ownV2Path()
		if err != nil {
			return nil, "", err
		}
		if err := vacateForDelegation(filepath.Join(mnt, own), log); err != nil {
			return nil, "", err
		}
		parent, start = path.Join(own, "cocoon"), own
	} else {
		parent = path.Clean(parent)
		// Only levels the caller asked New to create, and the parent
		// itself, are New's to edit; above that the parent's owner decides.
		start = parent
		for start != "/" {
			if _, err := os.Stat(filepath.Join(mnt, path.Dir(start))); err == nil {
				break
			}
			start = path.Dir(start)
		}
		if start != parent {
			start = path.Dir(start)
		}
	}
	d := &v2{
		parentDir:     filepath.Join(mnt, parent),
		dir:           filepath.Join(mnt, parent, cfg.Name),
		defaultParent: cfg.Parent == "",
		fd:            -1,
		log:           log,
	}
	cgp := path.Join(parent, cfg.Name)
	// The child inherits the parent's subtree_control at mkdir: delegate
	// first, under the lock that keeps the shared parent from going away.
	if err := d.create(mnt, func() error { return delegate(mnt, start, parent) }); err != nil {
		return nil, "", d.undo(err)
	}
	fd, err := unix.Open(d.dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", d.undo(errors.Join(fmt.Errorf("cgroup: open %s: %w", d.dir, err), d.remove()))
	}
	d.fd = fd
	return d, cgp, nil
}

// create makes the container's directory, under the shared lock when the
// parent is the default one.
func (d *v2) create(mnt string, parentReady func() error) error {
	if d.defaultParent {
		unlock, err := flockDir(filepath.Dir(d.parentDir), unix.LOCK_SH)
		if err != nil {
			return err
		}
		defer unlock()
	}
	return mkdirCgroup(mnt, d.dir, nil, parentReady)
}

// undo removes the shared default parent after a failed New (it holds
// nothing of ours yet) and passes err on.
func (d *v2) undo(err error) error {
	if d.defaultParent {
		removeIfEmpty(filepath.Dir(d.parentDir), []string{d.parentDir}, d.log)
	}
	return err
}

// vacateForDelegation moves the processes of the caller's own cgroup into a
// "leaf" child when the cgroup must delegate controllers to children: v2
// forbids a non-root cgroup from both holding processes and enabling
// controllers for its children (the no-internal-processes rule).
func vacateForDelegation(own string, log *slog.Logger) error {
	// Only the real root is exempt. Inside a cgroup namespace (a caller in
	// a container) "/" is an ordinary cgroup; the real root is the one
	// without cgroup.type.
	if _, err := os.Stat(filepath.Join(own, "cgroup.type")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	want, enabled, err := controllerState(own)
	if err != nil {
		return err
	}
	missing := false
	for _, c := range want {
		if !slices.Contains(enabled, c) {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	procs, err := readProcs(own)
	if err != nil || len(procs) == 0 {
		return err
	}
	leaf := filepath.Join(own, "leaf")
	if err := unix.Mkdir(leaf, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("cgroup: mkdir %s (to vacate the caller's cgroup for delegation): %w", leaf, err)
	}
	for _, pid := range procs {
		if err := writeFile(leaf, "cgroup.procs", fmt.Sprint(pid)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("cgroup: move the caller's processes into %s (no-internal-processes rule): %w", leaf, err)
		}
	}
	log.Info("cgroup: moved the caller's processes into a leaf cgroup so their cgroup can delegate controllers",
		"leaf", leaf, "pids", procs)
	return nil
}

// controllerState returns the known controllers dir offers and those it
// already enables for its children.
func controllerState(dir string) (avail, enabled []string, err error) {
	a, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return nil, nil, err
	}
	e, err := readString(dir, "cgroup.subtree_control")
	if err != nil {
		return nil, nil, err
	}
	for _, c := range strings.Fields(a) {
		if slices.Contains(v2Controllers, c) {
			avail = append(avail, c)
		}
	}
	return avail, strings.Fields(e), nil
}

// delegate enables every available controller in the subtree_control of
// each level from start down to parent, so the container's cgroup gets all
// the interface files. Levels that already enable them are not written.
func delegate(mnt, start, parent string) error {
	levels := []string{start}
	if rel := strings.TrimPrefix(strings.TrimPrefix(parent, start), "/"); rel != "" && parent != start {
		cur := start
		for _, p := range strings.Split(rel, "/") {
			cur = path.Join(cur, p)
			levels = append(levels, cur)
		}
	}
	for _, lvl := range levels {
		dir := filepath.Join(mnt, lvl)
		avail, enabled, err := controllerState(dir)
		if err != nil {
			return err
		}
		var add []string
		for _, c := range avail {
			if !slices.Contains(enabled, c) {
				add = append(add, "+"+c)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := writeFile(dir, "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (cgroup v2's no-internal-processes rule: %s holds processes, so it cannot enable controllers for its children; move them into a leaf cgroup or pick another parent)", err, dir)
			}
			return err
		}
	}
	return nil
}

func (d *v2) placementFD() int { return d.fd }

func (d *v2) attach(pid int) error {
	return writeFile(d.dir, "cgroup.procs", fmt.Sprint(pid))
}

func (d *v2) procs() ([]int, error) { return readProcs(d.dir) }

func (d *v2) apply(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	set, err := v2Settings(r)
	if err != nil {
		return err
	}
	for _, s := range set {
		if err := writeFile(d.dir, s.file, s.val); err != nil {
			if s.file == "io.weight" && errors.Is(err, ErrNotSupported) {
				// Without iocost the BFQ scheduler's weight is the one
				// the kernel enforces.
				if err = writeFile(d.dir, "io.bfq.weight", strings.TrimPrefix(s.val, "default ")); err == nil {
					continue
				}
			}
			return fmt.Errorf("cgroup: %s: %w", s.what, err)
		}
	}
	return nil
}

// v2Settings translates the runtime spec's resources (v1-shaped) into v2
// interface files, with the conversions runc and crun use so a config.json
// means the same under every runtime.
func v2Settings(r *specs.LinuxResources) ([]setting, error) {
	if err := unsupportedEverywhere(r); err != nil {
		return nil, err
	}
	if len(r.Devices) > 0 && !trivialDevices(r.Devices) {
		return nil, notSupported("device rules", "BPF_CGROUP_DEVICE",
			errors.New("cgroup v2 enforces device rules with an eBPF program, which this package does not load; leave linux.resources.devices empty and rely on the container's /dev"))
	}
	var set []setting
	add := func(file, val, what string) { set = append(set, setting{file: file, val: val, what: what}) }
	if m := r.Memory; m != nil {
		if m.Swappiness != nil {
			return nil, notSupported("memory swappiness", "memory.swappiness", errors.New("cgroup v2 has no per-cgroup swappiness"))
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			return nil, notSupported("disabling the OOM killer", "memory.oom_control", errors.New("cgroup v2 cannot disable the OOM killer"))
		}
		if m.Reservation != nil {
			v, err := memoryValue("memory reservation", *m.Reservation, "max")
			if err != nil {
				return nil, err
			}
			add("memory.low", v, "memory reservation")
		}
		if m.Limit != nil {
			v, err := memoryValue("memory limit", *m.Limit, "max")
			if err != nil {
				return nil, err
			}
			add("memory.max", v, "memory limit")
		}
		if m.Swap != nil {
			// The spec's swap is memory+swap (v1's memsw); v2 limits swap alone.
			switch {
			case *m.Swap == -1:
				add("memory.swap.max", "max", "swap limit")
			case m.Limit == nil || *m.Limit == -1:
				return nil, fmt.Errorf("swap limit %d without a memory limit: %w", *m.Swap, ErrInvalid)
			case *m.Swap < *m.Limit:
				return nil, fmt.Errorf("memory+swap limit %d below the memory limit %d: %w", *m.Swap, *m.Limit, ErrInvalid)
			default:
				add("memory.swap.max", itoa(*m.Swap-*m.Limit), "swap limit")
			}
		}
	}
	if c := r.CPU; c != nil {
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			return nil, notSupported("real-time CPU bandwidth", "cpu.rt_runtime_us", errors.New("cgroup v2 has no real-time bandwidth control"))
		}
		if c.Shares != nil && *c.Shares != 0 {
			s := min(max(*c.Shares, 2), 262144)
			add("cpu.weight", utoa(1+((s-2)*9999)/262142), "cpu shares")
		}
		if c.Quota != nil || c.Period != nil {
			period := uint64(100000)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			quota := "max"
			if c.Quota != nil && *c.Quota > 0 {
				quota = itoa(*c.Quota)
			}
			add("cpu.max", quota+" "+utoa(period), "cpu quota")
		}
		if c.Burst != nil {
			add("cpu.max.burst", utoa(*c.Burst), "cpu burst")
		}
		if c.Idle != nil {
			add("cpu.idle", itoa(*c.Idle), "cpu idle")
		}
		if c.Cpus != "" {
			add("cpuset.cpus", c.Cpus, "cpuset cpus")
		}
		if c.Mems != "" {
			add("cpuset.mems", c.Mems, "cpuset mems")
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		v := "max"
		if *p.Limit > 0 {
			v = itoa(*p.Limit)
		}
		add("pids.max", v, "pids limit")
	}
	if b := r.BlockIO; b != nil {
		if b.LeafWeight != nil {
			return nil, notSupported("blkio leaf weight", "blkio.leaf_weight", errors.New("cgroup v2 has no leaf weight"))
		}
		ioWeight := func(w uint16) string { return utoa(1 + (uint64(max(w, 10))-10)*9999/990) }
		if b.Weight != nil {
			add("io.weight", "default "+ioWeight(*b.Weight), "io weight")
		}
		for _, wd := range b.WeightDevice {
			if wd.LeafWeight != nil {
				return nil, notSupported("blkio leaf weight", "blkio.leaf_weight_device", errors.New("cgroup v2 has no leaf weight"))
			}
			if wd.Weight != nil {
				add("io.weight", dev(wd.LinuxBlockIODevice)+" "+ioWeight(*wd.Weight), "io weight of device "+dev(wd.LinuxBlockIODevice))
			}
		}
		for _, t := range []struct {
			key  string
			devs []specs.LinuxThrottleDevice
		}{{"rbps", b.ThrottleReadBpsDevice}, {"wbps", b.ThrottleWriteBpsDevice}, {"riops", b.ThrottleReadIOPSDevice}, {"wiops", b.ThrottleWriteIOPSDevice}} {
			for _, td := range t.devs {
				v := utoa(td.Rate)
				if td.Rate == 0 {
					v = "max"
				}
				add("io.max", dev(td.LinuxBlockIODevice)+" "+t.key+"="+v, "io limit "+t.key+" of device "+dev(td.LinuxBlockIODevice))
			}
		}
	}
	for _, hp := range r.HugepageLimits {
		add("hugetlb."+hp.Pagesize+".max", utoa(hp.Limit), "hugetlb limit "+hp.Pagesize)
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." || strings.HasPrefix(k, "cgroup.") && k != "cgroup.max.depth" && k != "cgroup.max.descendants" {
			return nil, fmt.Errorf("unified key %q is not a resource file of the container's cgroup: %w", k, ErrInvalid)
		}
		add(k, r.Unified[k], "unified "+k)
	}
	return set, nil
}

func (d *v2) stats(s *Stats) error {
	var errs []error
	opt := func(err error) {
		// A controller the parent did not delegate has no files: leave zero.
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	var err error
	s.MemoryCurrent, err = readUint(d.dir, "memory.current")
	opt(err)
	s.MemoryPeak, err = readUint(d.dir, "memory.peak")
	opt(err)
	if cpu, err := readKeyed(d.dir, "cpu.stat"); err == nil {
		s.CPUUsage = time.Duration(cpu["usage_usec"]) * time.Microsecond
		s.CPUUser = time.Duration(cpu["user_usec"]) * time.Microsecond
		s.CPUSystem = time.Duration(cpu["system_usec"]) * time.Microsecond
		s.CPUThrottledPeriods = cpu["nr_throttled"]
		s.CPUThrottledTime = time.Duration(cpu["throttled_usec"]) * time.Microsecond
	} else {
		opt(err)
	}
	s.PidsCurrent, err = readUint(d.dir, "pids.current")
	opt(err)
	if io, err := readString(d.dir, "io.stat"); err == nil {
		for _, line := range strings.Split(io, "\n") {
			for _, f := range strings.Fields(line)[min(1, len(strings.Fields(line))):] {
				k, v, _ := strings.Cut(f, "=")
				var n uint64
				fmt.Sscan(v, &n)
				switch k {
				case "rbytes":
					s.IOReadBytes += n
				case "wbytes":
					s.IOWriteBytes += n
				case "rios":
					s.IOReadOps += n
				case "wios":
					s.IOWriteOps += n
				}
			}
		}
	} else {
		opt(err)
	}
	s.OOMKills, err = d.oomKills()
	opt(err)
	return errors.Join(errs...)
}

func (d *v2) oomKills() (uint64, error) {
	ev, err := readKeyed(d.dir, "memory.events")
	if err != nil {
		return 0, err
	}
	return ev["oom_kill"], nil
}

func (d *v2) setFrozen(frozen bool) error {
	val, want := "0", "frozen 0"
	if frozen {
		val, want = "1", "frozen 1"
	}
	if err := writeFile(d.dir, "cgroup.freeze", val); err != nil {
		return fmt.Errorf("cgroup: freeze: %w", err)
	}
	// The write returns before every task has stopped; cgroup.events says
	// when the whole cgroup is in the new state.
	deadline := time.Now().Add(5 * time.Second)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		ev, err := readString(d.dir, "cgroup.events")
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(ev, "\n"), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %s: still not %q after 5s", d.dir, want)
		}
		time.Sleep(delay)
	}
}

func (d *v2) kill() error {
	err := writeFile(d.dir, "cgroup.kill", "1")
	if !errors.Is(err, ErrNotSupported) {
		return err
	}
	// Before Linux 5.14: stop everything first so nothing forks past the kill.
	if err := d.setFrozen(true); err != nil {
		return err
	}
	procs, err := d.procs()
	for _, pid := range procs {
		if kerr := unix.Kill(pid, unix.SIGKILL); kerr != nil && kerr != unix.ESRCH {
			err = errors.Join(err, fmt.Errorf("cgroup: kill %d: %w", pid, kerr))
		}
	}
	return errors.Join(err, d.setFrozen(false))
}

func (d *v2) remove() error {
	if d.fd >= 0 {
		// Close first: the fd does not pin the directory, but once removal
		// starts nothing may be placed into it anymore.
		unix.Close(d.fd)
		d.fd = -1
	}
	if err := rmdirTree(d.dir); err != nil {
		return err
	}
	if d.defaultParent {
		removeIfEmpty(filepath.Dir(d.parentDir), []string{d.parentDir}, d.log)
	}
	return nil
}
