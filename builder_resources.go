package container

import (
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotations for the container's cgroup.
const (
	// AnnotationCgroup "true" gives the container a cgroup even without
	// limits (for Stats, Pause and killing every process at once). A
	// container with resources always gets one.
	AnnotationCgroup = "cocoon.cgroup"
	// AnnotationCgroupParent is the cgroup path the container's cgroup is
	// created under (see cgroup.Config.Parent for the default).
	AnnotationCgroupParent = "cocoon.cgroup.parent"
)

func (b *Builder) resources() *specs.LinuxResources {
	l := b.linux()
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

// WithMemoryLimit limits the container's memory to bytes, swap included (no
// swap beyond it), so exceeding it ends in the OOM killer, reported as
// Result.Reason OOMKilled.
func (b *Builder) WithMemoryLimit(bytes int64) *Builder {
	if bytes < 1<<20 {
		return b.fail("memory limit %d: below 1 MiB", bytes)
	}
	r := b.resources()
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	r.Memory.Limit = &bytes
	swap := bytes
	r.Memory.Swap = &swap
	return b
}

// WithCPULimit limits the container to cores CPUs of time (0.5: half of one
// core), as a CFS quota over a 100 ms period.
func (b *Builder) WithCPULimit(cores float64) *Builder {
	if cores <= 0 || cores > 1024 {
		return b.fail("cpu limit %g: want a number of cores above 0", cores)
	}
	r := b.resources()
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	period := uint64(100000)
	quota := int64(cores * float64(period))
	if quota < 1000 {
		return b.fail("cpu limit %g: below 0.01 cores", cores)
	}
	r.CPU.Period, r.CPU.Quota = &period, &quota
	return b
}

// WithPidsLimit limits the number of tasks (processes and threads).
func (b *Builder) WithPidsLimit(n int64) *Builder {
	if n <= 0 {
		return b.fail("pids limit %d: must be positive", n)
	}
	b.resources().Pids = &specs.LinuxPids{Limit: &n}
	return b
}

// WithCPUSet pins the container to CPUs, in the kernel's list format ("0", "0-1,3").
func (b *Builder) WithCPUSet(cpus string) *Builder {
	for _, part := range strings.Split(cpus, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		_, err1 := strconv.ParseUint(lo, 10, 16)
		var err2 error
		if isRange {
			_, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil {
			return b.fail("cpuset %q: want a CPU list like 0-1,3", cpus)
		}
	}
	r := b.resources()
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	r.CPU.Cpus = cpus
	return b
}

// WithIOWeight sets the container's relative block IO weight (10-1000).
func (b *Builder) WithIOWeight(w uint16) *Builder {
	if w < 10 || w > 1000 {
		return b.fail("io weight %d: want 10-1000", w)
	}
	r := b.resources()
	if r.BlockIO == nil {
		r.BlockIO = &specs.LinuxBlockIO{}
	}
	r.BlockIO.Weight = &w
	return b
}

// WithCgroup gives the container its own cgroup even without limits.
func (b *Builder) WithCgroup() *Builder {
	b.spec.Annotations[AnnotationCgroup] = "true"
	return b
}

// WithCgroupParent creates the container's cgroup under parent (a cgroup
// path such as "/myapp"), instead of the default.
func (b *Builder) WithCgroupParent(parent string) *Builder {
	if !path.IsAbs(parent) || path.Clean(parent) != parent {
		return b.fail("cgroup parent %q: want a clean absolute cgroup path", parent)
	}
	b.spec.Annotations[AnnotationCgroupParent] = parent
	b.spec.Annotations[AnnotationCgroup] = "true"
	return b
}

// wantsCgroup reports whether the spec asks for a cgroup.
func wantsCgroup(s *specs.Spec) bool {
	if s.Annotations[AnnotationCgroup] == "true" {
		return true
	}
	r := s.Linux.Resources
	return r != nil && (r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil ||
		len(r.HugepageLimits) > 0 || len(r.Unified) > 0 || r.Network != nil || len(r.Rdma) > 0)
}
