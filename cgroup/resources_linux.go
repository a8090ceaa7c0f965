//go:build linux

package cgroup

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setting is one interface file write. ctrl names the v1 hierarchy that
// holds the file (ignored on v2, where one directory holds them all); what
// names the resource for error messages ("memory limit").
type setting struct {
	ctrl, file, val, what string
}

func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
func dev(d specs.LinuxBlockIODevice) string {
	return fmt.Sprintf("%d:%d", d.Major, d.Minor)
}

// memoryValue maps the runtime spec's -1 ("unlimited") to max and rejects
// the other values that cannot be a limit.
func memoryValue(what string, v int64, unlimited string) (string, error) {
	switch {
	case v == -1:
		return unlimited, nil
	case v <= 0:
		return "", fmt.Errorf("%s %d: %w (use -1 for unlimited)", what, v, ErrInvalid)
	}
	return itoa(v), nil
}

// unsupportedEverywhere collects the resources no driver of this package
// enforces, so each driver reports them the same way.
func unsupportedEverywhere(r *specs.LinuxResources) error {
	if m := r.Memory; m != nil {
		//lint:ignore SA1019 the spec still carries it; refusing it loudly is the point
		if m.Kernel != nil || m.KernelTCP != nil {
			return notSupported("kernel memory limit", "memory.kmem.*", fmt.Errorf("deprecated; current kernels do not enforce it"))
		}
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		return notSupported("network class/priority", "net_cls/net_prio", nil)
	}
	if len(r.Rdma) > 0 {
		return notSupported("rdma limits", "rdma.max", nil)
	}
	return nil
}

// trivialDevices reports whether the device rules allow everything, which
// needs no enforcement at all.
func trivialDevices(rules []specs.LinuxDeviceCgroup) bool {
	for _, d := range rules {
		if !d.Allow || (d.Type != "" && d.Type != "a") || d.Major != nil || d.Minor != nil ||
			(d.Access != "" && !(strings.Contains(d.Access, "r") && strings.Contains(d.Access, "w") && strings.Contains(d.Access, "m"))) {
			return false
		}
	}
	return true
}
