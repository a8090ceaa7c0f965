//go:build linux

package security

import (
	"fmt"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// capNumbers maps capability names to numbers through x/sys's constants, so a
// typo here is a compile error rather than a wrong bit.
var capNumbers = map[string]int{
	"CAP_CHOWN":              unix.CAP_CHOWN,
	"CAP_DAC_OVERRIDE":       unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH":    unix.CAP_DAC_READ_SEARCH,
	"CAP_FOWNER":             unix.CAP_FOWNER,
	"CAP_FSETID":             unix.CAP_FSETID,
	"CAP_KILL":               unix.CAP_KILL,
	"CAP_SETGID":             unix.CAP_SETGID,
	"CAP_SETUID":             unix.CAP_SETUID,
	"CAP_SETPCAP":            unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE":    unix.CAP_LINUX_IMMUTABLE,
	"CAP_NET_BIND_SERVICE":   unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST":      unix.CAP_NET_BROADCAST,
	"CAP_NET_ADMIN":          unix.CAP_NET_ADMIN,
	"CAP_NET_RAW":            unix.CAP_NET_RAW,
	"CAP_IPC_LOCK":           unix.CAP_IPC_LOCK,
	"CAP_IPC_OWNER":          unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE":         unix.CAP_SYS_MODULE,
	"CAP_SYS_RAWIO":          unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT":         unix.CAP_SYS_CHROOT,
	"CAP_SYS_PTRACE":         unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT":          unix.CAP_SYS_PACCT,
	"CAP_SYS_ADMIN":          unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT":           unix.CAP_SYS_BOOT,
	"CAP_SYS_NICE":           unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE":       unix.CAP_SYS_RESOURCE,
	"CAP_SYS_TIME":           unix.CAP_SYS_TIME,
	"CAP_SYS_TTY_CONFIG":     unix.CAP_SYS_TTY_CONFIG,
	"CAP_MKNOD":              unix.CAP_MKNOD,
	"CAP_LEASE":              unix.CAP_LEASE,
	"CAP_AUDIT_WRITE":        unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL":      unix.CAP_AUDIT_CONTROL,
	"CAP_SETFCAP":            unix.CAP_SETFCAP,
	"CAP_MAC_OVERRIDE":       unix.CAP_MAC_OVERRIDE,
	"CAP_MAC_ADMIN":          unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG":             unix.CAP_SYSLOG,
	"CAP_WAKE_ALARM":         unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND":      unix.CAP_BLOCK_SUSPEND,
	"CAP_AUDIT_READ":         unix.CAP_AUDIT_READ,
	"CAP_PERFMON":            unix.CAP_PERFMON,
	"CAP_BPF":                unix.CAP_BPF,
	"CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// The table above must cover every capability x/sys knows.
var _ = [1]struct{}{}[len(capNumbers)-(unix.CAP_LAST_CAP+1)]

// AllCapabilities returns every capability name this package knows, in
// number order.
func AllCapabilities() []string {
	names := make([]string, 0, len(capNumbers))
	for n := range capNumbers {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return capNumbers[a] - capNumbers[b] })
	return names
}

// normalizeCap accepts "CAP_NET_ADMIN", "NET_ADMIN" and "net_admin", like
// docker's --cap-add.
func normalizeCap(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if _, ok := capNumbers[n]; !ok {
		return "", fmt.Errorf("unknown capability %q: %w", name, ErrInvalid)
	}
	return n, nil
}

// AdjustCapabilities applies --cap-add and --cap-drop to base, with Docker's
// rules: "ALL" in add starts from every capability, "ALL" in drop starts from
// none (so "--cap-drop ALL --cap-add NET_BIND_SERVICE" keeps exactly one),
// and naming a capability in both lists is an error. The result is sorted by
// capability number.
func AdjustCapabilities(base, add, drop []string) ([]string, error) {
	isAll := func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "ALL") }
	set := map[string]bool{}
	for _, c := range base {
		n, err := normalizeCap(c)
		if err != nil {
			return nil, err
		}
		set[n] = true
	}
	addSet, dropSet := map[string]bool{}, map[string]bool{}
	addAll, dropAll := false, false
	for _, c := range add {
		if isAll(c) {
			addAll = true
			continue
		}
		n, err := normalizeCap(c)
		if err != nil {
			return nil, fmt.Errorf("cap-add: %w", err)
		}
		addSet[n] = true
	}
	for _, c := range drop {
		if isAll(c) {
			dropAll = true
			continue
		}
		n, err := normalizeCap(c)
		if err != nil {
			return nil, fmt.Errorf("cap-drop: %w", err)
		}
		if addSet[n] {
			return nil, fmt.Errorf("capability %s is both added and dropped: %w", n, ErrInvalid)
		}
		dropSet[n] = true
	}
	if addAll && dropAll {
		return nil, fmt.Errorf("ALL is both added and dropped: %w", ErrInvalid)
	}
	if addAll {
		for n := range capNumbers {
			set[n] = true
		}
	}
	if dropAll {
		clear(set)
	}
	for n := range dropSet {
		delete(set, n)
	}
	for n := range addSet {
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b string) int { return capNumbers[a] - capNumbers[b] })
	return out, nil
}

func capMask(names []string) (uint64, error) {
	var m uint64
	for _, c := range names {
		n, err := normalizeCap(c)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(capNumbers[n])
	}
	return m, nil
}

// lastCap is the highest capability the running kernel knows; bits above it
// are dropped before any syscall sees them (an older kernel rejects them).
var lastCap = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			return n
		}
	}
	return unix.CAP_LAST_CAP
})

func kernelCapMask() uint64 {
	if lastCap() >= 63 {
		return ^uint64(0)
	}
	return 1<<uint(lastCap()+1) - 1
}

// dropBounding removes every capability outside keep from the calling
// thread's bounding set. PR_CAPBSET_DROP needs CAP_SETPCAP in the effective
// set, so it runs before the effective set shrinks.
func dropBounding(keep uint64) error {
	for c := 0; c <= lastCap(); c++ {
		if keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", c, err)
		}
	}
	return nil
}

// setCaps sets the calling thread's effective, permitted and inheritable
// sets with capset(2) and then its ambient set. capset acts on the calling
// thread only: Apply runs on the locked thread that later calls execve, so
// that thread's sets are the ones the workload inherits.
func setCaps(c *CapSets) error {
	km := kernelCapMask()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	eff, perm, inh := c.Effective&km, c.Permitted&km, c.Inheritable&km
	data[0] = unix.CapUserData{Effective: uint32(eff), Permitted: uint32(perm), Inheritable: uint32(inh)}
	data[1] = unix.CapUserData{Effective: uint32(eff >> 32), Permitted: uint32(perm >> 32), Inheritable: uint32(inh >> 32)}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset(effective=%#x permitted=%#x inheritable=%#x): %w", eff, perm, inh, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	amb := c.Ambient & km
	for amb != 0 {
		n := bits.TrailingZeros64(amb)
		amb &^= 1 << uint(n)
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %d): %w", n, err)
		}
	}
	return nil
}

// HostCapabilities returns the capabilities in the calling thread's bounding
// set: the most any container started from this process can hold. A
// --privileged or --cap-add ALL container should get AllCapabilities
// intersected with this, or capset fails with EPERM at start (the machines
// here lack CAP_SYS_RESOURCE in their bounding set).
func HostCapabilities() ([]string, error) {
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("parse CapBnd %q: %w", v, err)
			}
			return capNames(m), nil
		}
	}
	return nil, fmt.Errorf("no CapBnd in /proc/thread-self/status: %w", ErrNotSupported)
}
