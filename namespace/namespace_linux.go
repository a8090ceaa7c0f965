//go:build linux

package namespace

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var flags = map[specs.LinuxNamespaceType]uintptr{
	PID:     unix.CLONE_NEWPID,
	Network: unix.CLONE_NEWNET,
	Mount:   unix.CLONE_NEWNS,
	IPC:     unix.CLONE_NEWIPC,
	UTS:     unix.CLONE_NEWUTS,
	User:    unix.CLONE_NEWUSER,
	Cgroup:  unix.CLONE_NEWCGROUP,
	Time:    unix.CLONE_NEWTIME,
}

// procNames are the file names under /proc/<pid>/ns.
var procNames = map[specs.LinuxNamespaceType]string{
	PID: "pid", Network: "net", Mount: "mnt", IPC: "ipc", UTS: "uts", User: "user", Cgroup: "cgroup", Time: "time",
}

// Flag returns the CLONE_NEW* flag of a namespace type.
func Flag(t specs.LinuxNamespaceType) uintptr { return flags[t] }

// ProcPath returns /proc/<pid>/ns/<name> for a namespace type, the path by which
// another container can join that process's namespace.
func ProcPath(pid int, t specs.LinuxNamespaceType) string {
	return fmt.Sprintf("/proc/%d/ns/%s", pid, procNames[t])
}

// CloneFlags returns the clone flags for the namespaces in nss that are created
// (no Path). The time namespace is left out: its offsets can only be written
// before any process lives in it, so it is unshared by the container's init
// right before execve (time_namespaces(7)), never passed to clone.
func CloneFlags(nss []specs.LinuxNamespace) uintptr {
	var f uintptr
	for _, ns := range nss {
		if ns.Path == "" && ns.Type != Time {
			f |= flags[ns.Type]
		}
	}
	return f
}

// Same reports whether two nsfs files (e.g. /proc/1/ns/net and
// /proc/self/ns/net) name the same namespace.
func Same(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// CheckJoinable returns an error wrapping ErrNotSupported for namespaces joined
// by path that a Go process cannot enter (mount, user), and an error for paths
// that do not name a namespace of the declared type.
func CheckJoinable(nss []specs.LinuxNamespace) error {
	for _, ns := range nss {
		if ns.Path == "" {
			continue
		}
		if ns.Type == Mount || ns.Type == User {
			return fmt.Errorf("join %s namespace %s: setns into a %s namespace from a multithreaded Go process: %w",
				ns.Type, ns.Path, ns.Type, ErrNotSupported)
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("join %s namespace %s: %w", ns.Type, ns.Path, err)
		}
		// NS_GET_NSTYPE tells whether the file is an nsfs file of the declared type.
		got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("join %s namespace %s: not a namespace file: %w", ns.Type, ns.Path, err)
		}
		if uintptr(got) != flags[ns.Type] {
			return fmt.Errorf("join %s namespace %s: the file is a namespace of another type", ns.Type, ns.Path)
		}
	}
	return nil
}

// Join enters every namespace in nss that has a Path on the calling OS
// thread, so that children forked from it are created in them (for pid:
// pid_for_children). The caller must hold runtime.LockOSThread and never
// unlock it: whether or not Join succeeds, the thread may be in foreign
// namespaces and must end with its goroutine rather than run another one.
func Join(nss []specs.LinuxNamespace) error {
	for _, ns := range nss {
		if ns.Path == "" {
			continue
		}
		if ns.Type == Mount || ns.Type == User {
			return fmt.Errorf("join %s namespace %s: %w", ns.Type, ns.Path, ErrNotSupported)
		}
		target, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("join %s namespace %s: %w", ns.Type, ns.Path, err)
		}
		err = unix.Setns(target, int(flags[ns.Type]))
		unix.Close(target)
		if err != nil {
			return fmt.Errorf("setns %s namespace %s: %w", ns.Type, ns.Path, err)
		}
	}
	return nil
}

// NeedsThread reports whether nss joins anything by path, so that the caller
// must fork from a dedicated locked thread.
func NeedsThread(nss []specs.LinuxNamespace) bool {
	for _, ns := range nss {
		if ns.Path != "" {
			return true
		}
	}
	return false
}

// SelfPath returns the nsfs path of the calling process's namespace of type t.
func SelfPath(t specs.LinuxNamespaceType) string {
	return "/proc/self/ns/" + procNames[t]
}

// Supported reports whether the running kernel has namespaces of type t.
func Supported(t specs.LinuxNamespaceType) bool {
	_, err := os.Stat(SelfPath(t))
	return !errors.Is(err, os.ErrNotExist)
}
