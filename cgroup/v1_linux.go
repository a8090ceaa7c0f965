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

// userHZ is the unit of cpuacct.stat; the kernel fixes it at 100 on x86
// and arm64 whatever CONFIG_HZ is.
const userHZ = 100

type v1 struct {
	ctrl          map[string]string // controller -> the container's directory in its hierarchy
	dirs          []string          // one directory per hierarchy (co-mounted controllers share one)
	parentDirs    []string          // in the order of dirs' hierarchies
	lockDir       string            // guards the default parents (see flockDir)
	defaultParent bool
	log           *slog.Logger
}

// create makes the container's directory in every hierarchy, under the
// shared lock when the parent is the default one.
func (d *v1) create(h *Host, mounts []string, name string) error {
	if d.defaultParent {
		unlock, err := flockDir(d.lockDir, unix.LOCK_SH)
		if err != nil {
			return err
		}
		defer unlock()
	}
	for i, mnt := range mounts {
		dir := filepath.Join(d.parentDirs[i], name)
		var prepare func(string) error
		if h.V1["cpuset"] == mnt {
			prepare = inheritCpuset
		}
		if err := mkdirCgroup(mnt, dir, prepare, nil); err != nil {
			return err
		}
		d.dirs = append(d.dirs, dir)
		if prepare != nil {
			if err := prepare(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

func newV1(h *Host, cfg Config, log *slog.Logger) (driver, string, error) {
	parent := cfg.Parent
	if parent == "" {
		// The root of every v1 hierarchy, not the caller's own cgroup: on
		// a hybrid host the caller's memory cgroup may belong to a
		// supervisor that must not get children.
		parent = "/cocoon"
	}
	parent = path.Clean(parent)
	d := &v1{ctrl: map[string]string{}, defaultParent: cfg.Parent == "", log: log}
	mounts := map[string]bool{}
	for _, mnt := range h.V1 {
		mounts[mnt] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for m := range mounts {
			if !yield(m) {
				return
			}
		}
	})
	if len(sorted) == 0 {
		return nil, "", fmt.Errorf("cgroup: no v1 controller hierarchy: %w", ErrNotSupported)
	}
	d.lockDir = sorted[0]
	for _, mnt := range sorted {
		d.parentDirs = append(d.parentDirs, filepath.Join(mnt, parent))
	}
	if err := d.create(h, sorted, cfg.Name); err != nil {
		return nil, "", errors.Join(err, d.remove())
	}
	for c, mnt := range h.V1 {
		d.ctrl[c] = filepath.Join(mnt, parent, cfg.Name)
	}
	// Removal goes in this order and stops at the first busy hierarchy:
	// the freezer last, so Destroy can still freeze and kill strays.
	if fz, ok := d.ctrl["freezer"]; ok {
		if i := slices.Index(d.dirs, fz); i >= 0 {
			d.dirs = append(slices.Delete(d.dirs, i, i+1), fz)
		}
	}
	return d, path.Join(parent, cfg.Name), nil
}

// inheritCpuset copies cpus and mems from the parent: a new v1 cpuset starts
// with none, and a task cannot join a cpuset without both.
func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readString(dir, f)
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		parent := filepath.Dir(dir)
		v, err := readString(parent, f)
		if err != nil {
			return err
		}
		if v == "" {
			// A parent left unprepared (a crash right after its mkdir);
			// the hierarchy root is never empty, so this ends.
			if err := inheritCpuset(parent); err != nil {
				return err
			}
			if v, err = readString(parent, f); err != nil {
				return err
			}
		}

		if err := writeFile(dir, f, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *v1) placementFD() int { return -1 }

func (d *v1) attach(pid int) error {
	for _, dir := range d.dirs {
		if err := writeFile(dir, "cgroup.procs", fmt.Sprint(pid)); err != nil {
			if errors.Is(err, unix.EINVAL) && dir == d.ctrl["cpu"] {
				return fmt.Errorf("cgroup: attach %d: %w (a real-time task cannot join a v1 cpu cgroup whose cpu.rt_runtime_us is 0)", pid, err)
			}
			return fmt.Errorf("cgroup: attach %d: %w", pid, err)
		}
	}
	return nil
}

func (d *v1) procs() ([]int, error) {
	var all []int
	for _, dir := range d.dirs {
		p, err := readProcs(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		all = append(all, p...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

func (d *v1) apply(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	set, err := v1Settings(r)
	if err != nil {
		return err
	}
	for i := 0; i < len(set); i++ {
		s := set[i]
		dir, ok := d.ctrl[s.ctrl]
		if !ok {
			return fmt.Errorf("cgroup: %s: %w", s.what, notSupported(s.ctrl+" controller", s.file, errors.New("no v1 hierarchy mounts it")))
		}
		err := writeFile(dir, s.file, s.val)
		if err == nil {
			continue
		}
		switch {
		case s.file == "memory.limit_in_bytes" && errors.Is(err, unix.EINVAL) && i+1 < len(set) && set[i+1].file == "memory.memsw.limit_in_bytes":
			// Lowering memsw below the current limit, or the limit above
			// the current memsw, is refused: write them the other way round.
			if err = writeFile(dir, set[i+1].file, set[i+1].val); err == nil {
				err = writeFile(dir, s.file, s.val)
				i++
			}
		case (s.file == "blkio.weight" || s.file == "blkio.weight_device") && errors.Is(err, ErrNotSupported):
			// Without CFQ, BFQ's files are the ones that take effect.
			err = writeFile(dir, strings.Replace(s.file, "blkio.", "blkio.bfq.", 1), s.val)
		}
		if err != nil {
			return fmt.Errorf("cgroup: %s: %w", s.what, err)
		}
	}
	return nil
}

func v1Settings(r *specs.LinuxResources) ([]setting, error) {
	if err := unsupportedEverywhere(r); err != nil {
		return nil, err
	}
	if len(r.Unified) > 0 {
		return nil, notSupported("unified resources", "linux.resources.unified", errors.New("they name cgroup v2 files; this host's controllers are on v1"))
	}
	var set []setting
	add := func(ctrl, file, val, what string) {
		set = append(set, setting{ctrl: ctrl, file: file, val: val, what: what})
	}
	if m := r.Memory; m != nil {
		if m.Reservation != nil {
			v, err := memoryValue("memory reservation", *m.Reservation, "-1")
			if err != nil {
				return nil, err
			}
			add("memory", "memory.soft_limit_in_bytes", v, "memory reservation")
		}
		if m.Limit != nil {
			v, err := memoryValue("memory limit", *m.Limit, "-1")
			if err != nil {
				return nil, err
			}
			add("memory", "memory.limit_in_bytes", v, "memory limit")
		}
		if m.Swap != nil {
			if *m.Swap != -1 && m.Limit != nil && *m.Limit != -1 && *m.Swap < *m.Limit {
				return nil, fmt.Errorf("memory+swap limit %d below the memory limit %d: %w", *m.Swap, *m.Limit, ErrInvalid)
			}
			v, err := memoryValue("memory+swap limit", *m.Swap, "-1")
			if err != nil {
				return nil, err
			}
			add("memory", "memory.memsw.limit_in_bytes", v, "memory+swap limit")
		}
		if m.Swappiness != nil {
			add("memory", "memory.swappiness", utoa(*m.Swappiness), "memory swappiness")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			add("memory", "memory.oom_control", "1", "disabling the OOM killer")
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			add("cpu", "cpu.shares", utoa(*c.Shares), "cpu shares")
		}
		if c.Period != nil && *c.Period != 0 {
			add("cpu", "cpu.cfs_period_us", utoa(*c.Period), "cpu period")
		}
		if c.Quota != nil {
			q := *c.Quota
			if q <= 0 {
				q = -1
			}
			add("cpu", "cpu.cfs_quota_us", itoa(q), "cpu quota")
		}
		if c.Burst != nil {
			add("cpu", "cpu.cfs_burst_us", utoa(*c.Burst), "cpu burst")
		}
		if c.RealtimePeriod != nil {
			add("cpu", "cpu.rt_period_us", utoa(*c.RealtimePeriod), "real-time period")
		}
		if c.RealtimeRuntime != nil {
			add("cpu", "cpu.rt_runtime_us", itoa(*c.RealtimeRuntime), "real-time runtime")
		}
		if c.Idle != nil {
			add("cpu", "cpu.idle", itoa(*c.Idle), "cpu idle")
		}
		if c.Cpus != "" {
			add("cpuset", "cpuset.cpus", c.Cpus, "cpuset cpus")
		}
		if c.Mems != "" {
			add("cpuset", "cpuset.mems", c.Mems, "cpuset mems")
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		v := "max"
		if *p.Limit > 0 {
			v = itoa(*p.Limit)
		}
		add("pids", "pids.max", v, "pids limit")
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			add("blkio", "blkio.weight", utoa(uint64(*b.Weight)), "blkio weight")
		}
		if b.LeafWeight != nil {
			add("blkio", "blkio.leaf_weight", utoa(uint64(*b.LeafWeight)), "blkio leaf weight")
		}
		for _, wd := range b.WeightDevice {
			if wd.Weight != nil {
				add("blkio", "blkio.weight_device", dev(wd.LinuxBlockIODevice)+" "+utoa(uint64(*wd.Weight)), "blkio weight of device "+dev(wd.LinuxBlockIODevice))
			}
			if wd.LeafWeight != nil {
				add("blkio", "blkio.leaf_weight_device", dev(wd.LinuxBlockIODevice)+" "+utoa(uint64(*wd.LeafWeight)), "blkio leaf weight of device "+dev(wd.LinuxBlockIODevice))
			}
		}
		for _, t := range []struct {
			file string
			devs []specs.LinuxThrottleDevice
		}{{"read_bps_device", b.ThrottleReadBpsDevice}, {"write_bps_device", b.ThrottleWriteBpsDevice}, {"read_iops_device", b.ThrottleReadIOPSDevice}, {"write_iops_device", b.ThrottleWriteIOPSDevice}} {
			for _, td := range t.devs {
				add("blkio", "blkio.throttle."+t.file, dev(td.LinuxBlockIODevice)+" "+utoa(td.Rate), "blkio "+t.file+" of "+dev(td.LinuxBlockIODevice))
			}
		}
	}
	for _, hp := range r.HugepageLimits {
		add("hugetlb", "hugetlb."+hp.Pagesize+".limit_in_bytes", utoa(hp.Limit), "hugetlb limit "+hp.Pagesize)
	}
	for _, dr := range r.Devices {
		file := "devices.deny"
		if dr.Allow {
			file = "devices.allow"
		}
		typ, access := dr.Type, dr.Access
		if typ == "" {
			typ = "a"
		}
		if access == "" {
			access = "rwm"
		}
		val := typ
		if typ != "a" {
			maj, mnr := "*", "*"
			if dr.Major != nil {
				maj = itoa(*dr.Major)
			}
			if dr.Minor != nil {
				mnr = itoa(*dr.Minor)
			}
			val = fmt.Sprintf("%s %s:%s %s", typ, maj, mnr, access)
		}
		add("devices", file, val, "device rule "+val)
	}
	return set, nil
}

func (d *v1) stats(s *Stats) error {
	var errs []error
	opt := func(err error) {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	var err error
	if dir, ok := d.ctrl["memory"]; ok {
		s.MemoryCurrent, err = readUint(dir, "memory.usage_in_bytes")
		opt(err)
		s.MemoryPeak, err = readUint(dir, "memory.max_usage_in_bytes")
		opt(err)
		s.OOMKills, err = d.oomKills()
		opt(err)
	}
	if dir, ok := d.ctrl["cpuacct"]; ok {
		var ns uint64
		ns, err = readUint(dir, "cpuacct.usage")
		opt(err)
		s.CPUUsage = time.Duration(ns)
		if st, err := readKeyed(dir, "cpuacct.stat"); err == nil {
			s.CPUUser = time.Duration(st["user"]) * time.Second / userHZ
			s.CPUSystem = time.Duration(st["system"]) * time.Second / userHZ
		} else {
			opt(err)
		}
	}
	if dir, ok := d.ctrl["cpu"]; ok {
		if st, err := readKeyed(dir, "cpu.stat"); err == nil {
			s.CPUThrottledPeriods = st["nr_throttled"]
			s.CPUThrottledTime = time.Duration(st["throttled_time"])
		} else {
			opt(err)
		}
	}
	if dir, ok := d.ctrl["pids"]; ok {
		s.PidsCurrent, err = readUint(dir, "pids.current")
		opt(err)
	}
	if dir, ok := d.ctrl["blkio"]; ok {
		for file, fields := range map[string][2]*uint64{
			"blkio.throttle.io_service_bytes_recursive": {&s.IOReadBytes, &s.IOWriteBytes},
			"blkio.throttle.io_serviced_recursive":      {&s.IOReadOps, &s.IOWriteOps},
		} {
			st, err := readString(dir, file)
			if err != nil {
				opt(err)
				continue
			}
			for _, line := range strings.Split(st, "\n") {
				f := strings.Fields(line)
				if len(f) != 3 {
					continue
				}
				var n uint64
				fmt.Sscan(f[2], &n)
				switch f[1] {
				case "Read":
					*fields[0] += n
				case "Write":
					*fields[1] += n
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (d *v1) oomKills() (uint64, error) {
	dir, ok := d.ctrl["memory"]
	if !ok {
		return 0, notSupported("OOM kill events", "memory.oom_control", errors.New("no v1 memory hierarchy"))
	}
	st, err := readKeyed(dir, "memory.oom_control")
	if err != nil {
		return 0, err
	}
	return st["oom_kill"], nil
}

func (d *v1) setFrozen(frozen bool) error {
	dir, ok := d.ctrl["freezer"]
	if !ok {
		return notSupported("freezing", "freezer.state", errors.New("no v1 freezer hierarchy"))
	}
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	deadline := time.Now().Add(5 * time.Second)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		// Writing again is how v1 retries a freeze stuck in FREEZING.
		if err := writeFile(dir, "freezer.state", want); err != nil {
			return fmt.Errorf("cgroup: freeze: %w", err)
		}
		st, err := readString(dir, "freezer.state")
		if err != nil {
			return err
		}
		if st == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %s: still %s after 5s, want %s", dir, st, want)
		}
		time.Sleep(delay)
	}
}

func (d *v1) kill() error {
	// Frozen tasks cannot fork, so one pass over cgroup.procs gets them all;
	// the SIGKILL takes effect when they thaw.
	_, hasFreezer := d.ctrl["freezer"]
	if hasFreezer {
		if err := d.setFrozen(true); err != nil {
			return err
		}
	}
	procs, err := d.procs()
	for _, pid := range procs {
		if kerr := unix.Kill(pid, unix.SIGKILL); kerr != nil && kerr != unix.ESRCH {
			err = errors.Join(err, fmt.Errorf("cgroup: kill %d: %w", pid, kerr))
		}
	}
	if hasFreezer {
		err = errors.Join(err, d.setFrozen(false))
	}
	return err
}

func (d *v1) remove() error {
	for _, dir := range d.dirs {
		if err := rmdirTree(dir); err != nil {
			return err
		}
	}
	if d.defaultParent {
		removeIfEmpty(d.lockDir, d.parentDirs, d.log)
	}
	return nil
}
