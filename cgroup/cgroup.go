package cgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrNotSupported is returned when the host (or this OS) cannot enforce
	// what was asked: a missing controller, a kernel without the interface
	// file, or a resource this package does not implement for the host's
	// cgroup version. Asking for a limit and silently not getting it would be
	// worse than failing the start.
	ErrNotSupported = errors.New("cgroup: not supported")

	// ErrExists is returned by New when a cgroup of that name already exists
	// under the parent. New never adopts or removes a cgroup it did not create.
	ErrExists = errors.New("cgroup: already exists")

	// ErrInvalid is returned for a resource value that makes no sense before
	// the kernel is even asked (for example swap below the memory limit).
	ErrInvalid = errors.New("cgroup: invalid resource value")
)

// Mode is how the host mounts its cgroup hierarchies.
type Mode int

const (
	// ModeUnknown is the zero Mode: no cgroup hierarchy was found.
	ModeUnknown Mode = iota
	// Unified is a pure cgroup v2 host: one hierarchy holds every controller.
	Unified
	// Hybrid mounts cgroup v1 hierarchies for the controllers and a cgroup2
	// hierarchy beside them (systemd's "hybrid" layout). This package
	// manages such a host through its v1 hierarchies.
	Hybrid
	// Legacy has only cgroup v1 hierarchies.
	Legacy
)

func (m Mode) String() string {
	switch m {
	case Unified:
		return "unified (cgroup v2)"
	case Hybrid:
		return "hybrid (cgroup v1 controllers + cgroup2)"
	case Legacy:
		return "legacy (cgroup v1)"
	default:
		return "unknown"
	}
}

// Host describes the cgroup hierarchies this process can see.
type Host struct {
	Mode Mode
	// UnifiedMount is where the cgroup2 hierarchy is mounted ("" when none).
	UnifiedMount string
	// UnifiedControllers are the controllers available in the cgroup2
	// hierarchy's root (its cgroup.controllers).
	UnifiedControllers []string
	// V1 maps each v1 controller to the mount point of its hierarchy; two
	// controllers mounted together (cpu,cpuacct) share a mount point.
	V1 map[string]string
}

// Config says where to create a container's cgroup and what to limit.
type Config struct {
	// Parent is the cgroup path (as in /proc/self/cgroup, relative to the
	// hierarchy's root) under which the container's cgroup is created.
	// "" picks the default: on v2 "<the caller's own cgroup>/cocoon" (the
	// caller's processes are moved into "<own>/leaf" first when v2's
	// no-internal-processes rule requires it), on v1/hybrid "/cocoon" in
	// every controller hierarchy. An empty default parent is removed again by
	// Destroy; a caller-given parent is never removed.
	Parent string
	// Name is the container's cgroup directory name (the container ID). It
	// must be unique under Parent.
	Name string
	// Resources are the limits; nil creates an unlimited cgroup (still
	// useful for stats, freeze and kill). A value the host cannot enforce
	// makes New fail with an error wrapping ErrNotSupported.
	Resources *specs.LinuxResources
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Stats is a snapshot of a cgroup's usage. Fields the host does not track
// (memory.peak before Linux 5.19, io on a host without blkio) are zero.
type Stats struct {
	MemoryCurrent uint64 `json:"memoryCurrent"` // bytes in use now
	MemoryPeak    uint64 `json:"memoryPeak"`    // most bytes ever in use

	CPUUsage            time.Duration `json:"cpuUsage"` // user + system time of every process
	CPUUser             time.Duration `json:"cpuUser"`
	CPUSystem           time.Duration `json:"cpuSystem"`
	CPUThrottledPeriods uint64        `json:"cpuThrottledPeriods"` // periods in which the quota ran out
	CPUThrottledTime    time.Duration `json:"cpuThrottledTime"`

	PidsCurrent uint64 `json:"pidsCurrent"` // tasks (threads count) in the cgroup

	IOReadBytes  uint64 `json:"ioReadBytes"`
	IOWriteBytes uint64 `json:"ioWriteBytes"`
	IOReadOps    uint64 `json:"ioReadOps"`
	IOWriteOps   uint64 `json:"ioWriteOps"`

	OOMKills uint64 `json:"oomKills"` // processes the OOM killer killed in the cgroup
}

func notSupported(what, file string, err error) error {
	if err == nil {
		return fmt.Errorf("%s (%s): %w on this host", what, file, ErrNotSupported)
	}
	return fmt.Errorf("%s (%s): %w on this host: %w", what, file, ErrNotSupported, err)
}
