//go:build !linux

package cgroup

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Cgroup is a container's cgroup; cgroups exist only on Linux.
type Cgroup struct{}

var errOS = fmt.Errorf("cgroups: %w on this OS", ErrNotSupported)

// Detect reports ErrNotSupported: cgroups exist only on Linux.
func Detect() (*Host, error) { return nil, errOS }

// New reports ErrNotSupported: cgroups exist only on Linux.
func New(cfg Config) (*Cgroup, error) { return nil, errOS }

func (c *Cgroup) Path() string                         { return "" }
func (c *Cgroup) PlacementFD() int                     { return -1 }
func (c *Cgroup) Attach(pid int) error                 { return errOS }
func (c *Cgroup) Update(r *specs.LinuxResources) error { return errOS }
func (c *Cgroup) Procs() ([]int, error)                { return nil, errOS }
func (c *Cgroup) Stats() (*Stats, error)               { return nil, errOS }
func (c *Cgroup) OOMKilled() (bool, error)             { return false, errOS }
func (c *Cgroup) Freeze() error                        { return errOS }
func (c *Cgroup) Thaw() error                          { return errOS }
func (c *Cgroup) Kill() error                          { return errOS }
func (c *Cgroup) Destroy() error                       { return nil }
