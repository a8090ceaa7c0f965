package security

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrNotSupported is returned (wrapped) when this platform or kernel cannot
	// enforce a setting: a non-Linux OS, a GOARCH without syscall tables, a
	// required Landlock policy on a kernel without Landlock.
	ErrNotSupported = errors.New("not supported")
	// ErrInvalid is returned (wrapped) for settings that are wrong in
	// themselves: unknown capability or syscall names, bad operators, soft
	// limits above hard limits.
	ErrInvalid = errors.New("invalid security setting")
)

// ApplyError names the step of Apply that failed.
type ApplyError struct {
	Step string // "rlimits", "seccomp", "bounding", "user", "capabilities", "no_new_privs", "landlock"
	Err  error
}

func (e *ApplyError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *ApplyError) Unwrap() error { return e.Err }

// Plan is everything the container's init applies right before execve,
// validated and compiled in the parent by Prepare. It is plain data: the
// parent sends it to the init as JSON and the init calls Apply.
type Plan struct {
	// Rlimits are set first, exactly as asked (see Apply for RLIMIT_NOFILE).
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// User is the identity the workload runs as; nil keeps the init's.
	User *User `json:"user,omitempty"`
	// Caps are the five capability sets; nil leaves capabilities untouched
	// (the kernel's rules for a uid change still apply).
	Caps *CapSets `json:"caps,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Landlock is an optional filesystem access policy.
	Landlock *Landlock `json:"landlock,omitempty"`
	// Seccomp is the compiled filter; nil means unconfined.
	Seccomp *Filter `json:"seccomp,omitempty"`
}

// Rlimit is one resource limit, by number (resolved from its RLIMIT_ name).
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// User is the numeric identity of the workload.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
	Umask          *uint32  `json:"umask,omitempty"`
}

// CapSets are capability bitmasks (bit n is capability number n).
type CapSets struct {
	Bounding    uint64 `json:"bounding"`
	Effective   uint64 `json:"effective"`
	Permitted   uint64 `json:"permitted"`
	Inheritable uint64 `json:"inheritable"`
	Ambient     uint64 `json:"ambient"`
}

// Landlock is a filesystem access policy: everything outside ReadOnly and
// ReadWrite becomes inaccessible (read, write and execute) to the workload.
// Paths are resolved inside the container, after pivot_root.
type Landlock struct {
	// ReadOnly paths (directories or files) may be read and executed.
	ReadOnly []string `json:"readOnly,omitempty"`
	// ReadWrite paths get every filesystem right Landlock knows.
	ReadWrite []string `json:"readWrite,omitempty"`
	// Required turns "this kernel has no Landlock" into an error wrapping
	// ErrNotSupported instead of running without the policy.
	Required bool `json:"required,omitempty"`
}

// Filter is a compiled seccomp program. It is immutable and may be shared
// between plans (Prepare caches one per distinct profile).
type Filter struct {
	// Program is the array of struct sock_filter in native byte order.
	Program []byte `json:"program"`
	// Flags are SECCOMP_FILTER_FLAG_* bits from the profile; TSYNC is always
	// added at load time.
	Flags uint `json:"flags,omitempty"`
}

// Instructions is the number of BPF instructions in the program.
func (f *Filter) Instructions() int { return len(f.Program) / 8 }

// Option adjusts Prepare.
type Option func(*options)

type options struct {
	landlock *Landlock
}

// WithLandlock adds a Landlock policy to the plan (the runtime spec has no
// field for it).
func WithLandlock(l *Landlock) Option { return func(o *options) { o.landlock = l } }

// DefaultCapabilities returns Docker's default capability set (14
// capabilities), sorted. The caller owns the slice.
func DefaultCapabilities() []string {
	return []string{
		"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
		"CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
	}
}

// LinuxCapabilities returns the spec capability sets a root workload gets
// from names: bounding, effective and permitted, no inheritable or ambient
// (what Docker does). A non-root workload loses effective and permitted at
// execve, as the kernel's rules for a uid without file capabilities say.
func LinuxCapabilities(names []string) *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{
		Bounding:  slices.Clone(names),
		Effective: slices.Clone(names),
		Permitted: slices.Clone(names),
	}
}

// ParseUlimit parses Docker's --ulimit syntax, "nofile=1024:4096" or
// "nproc=512" (soft = hard), into a spec rlimit.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: want NAME=SOFT[:HARD]: %w", s, ErrInvalid)
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err := parseLimit(softS)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: soft limit: %w", s, err)
	}
	hard, err := parseLimit(hardS)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: hard limit: %w", s, err)
	}
	if soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: soft limit %d above hard limit %d: %w", s, soft, hard, ErrInvalid)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" || s == "-1" {
		return ^uint64(0), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\": %w", s, ErrInvalid)
	}
	return v, nil
}
