package namespace

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported is returned for namespace requests this package cannot honour
// on this platform or from a Go process (see the package documentation).
var ErrNotSupported = errors.New("namespace: not supported")

// The namespace types, as the runtime spec names them.
const (
	PID     = specs.PIDNamespace
	Network = specs.NetworkNamespace
	Mount   = specs.MountNamespace
	IPC     = specs.IPCNamespace
	UTS     = specs.UTSNamespace
	User    = specs.UserNamespace
	Cgroup  = specs.CgroupNamespace
	Time    = specs.TimeNamespace
)

// All lists every namespace type in the order a runtime sets them up.
var All = []specs.LinuxNamespaceType{User, PID, Network, Mount, IPC, UTS, Cgroup, Time}

// Defaults returns the namespaces a container gets when the caller asks for
// isolation without naming types: pid, mount, uts, ipc, network and cgroup.
// The user namespace is left out on purpose: it changes what root means for
// every other resource and is only created when asked for.
func Defaults() []specs.LinuxNamespace {
	return []specs.LinuxNamespace{
		{Type: PID}, {Type: Network}, {Type: IPC}, {Type: UTS}, {Type: Mount}, {Type: Cgroup},
	}
}

// Known reports whether t is a namespace type this package understands.
func Known(t specs.LinuxNamespaceType) bool {
	for _, k := range All {
		if k == t {
			return true
		}
	}
	return false
}

// Has reports whether nss contains a namespace of type t (created or joined).
func Has(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	_, ok := Find(nss, t)
	return ok
}

// Find returns the entry of type t in nss.
func Find(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, ns := range nss {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// Validate checks a namespace list for unknown types and duplicates, and the
// ID mappings for consistency with it. It names the first offending entry.
func Validate(nss []specs.LinuxNamespace, uidMaps, gidMaps []specs.LinuxIDMapping) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range nss {
		if !Known(ns.Type) {
			return fmt.Errorf("namespace %q: unknown type", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("namespace %q: listed twice", ns.Type)
		}
		seen[ns.Type] = true
	}
	if (len(uidMaps) > 0 || len(gidMaps) > 0) && !seen[User] {
		return errors.New("uid/gid mappings given without a user namespace")
	}
	if user, ok := Find(nss, User); ok && user.Path == "" {
		if len(uidMaps) == 0 || len(gidMaps) == 0 {
			return errors.New("a new user namespace needs both uid and gid mappings")
		}
	}
	if err := ValidateIDMappings("uid", uidMaps); err != nil {
		return err
	}
	return ValidateIDMappings("gid", gidMaps)
}

// ValidateIDMappings rejects empty and overlapping ranges, which the kernel
// would refuse later with a bare EINVAL. kind is "uid" or "gid", for the message.
func ValidateIDMappings(kind string, maps []specs.LinuxIDMapping) error {
	for i, m := range maps {
		if m.Size == 0 {
			return fmt.Errorf("%s mapping %d (%d -> %d): size is 0", kind, i, m.ContainerID, m.HostID)
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return fmt.Errorf("%s mapping %d (%d -> %d, size %d): range exceeds 32 bits", kind, i, m.ContainerID, m.HostID, m.Size)
		}
		for j := 0; j < i; j++ {
			o := maps[j]
			if overlaps(m.ContainerID, m.Size, o.ContainerID, o.Size) {
				return fmt.Errorf("%s mappings %d and %d overlap inside the container", kind, j, i)
			}
			if overlaps(m.HostID, m.Size, o.HostID, o.Size) {
				return fmt.Errorf("%s mappings %d and %d overlap on the host", kind, j, i)
			}
		}
	}
	return nil
}

func overlaps(a, asz, b, bsz uint32) bool {
	return uint64(a) < uint64(b)+uint64(bsz) && uint64(b) < uint64(a)+uint64(asz)
}

// MapToHost translates a container ID to the host ID through maps. With no
// mappings (no user namespace) the ID is its own host ID.
func MapToHost(maps []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	if len(maps) == 0 {
		return id, true
	}
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}
