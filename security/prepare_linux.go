//go:build linux

package security

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitNumbers = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// Prepare validates the security settings of a spec and compiles them into
// a Plan, in the parent, before the container starts. p or l may be nil.
// The seccomp profile is compiled once per distinct profile and process
// (see CompileSeccomp); everything else is cheap.
//
// Settings this package cannot enforce are errors, never silently dropped:
// an AppArmor profile or SELinux label, SCMP_ACT_NOTIFY, unknown names.
func Prepare(p *specs.Process, l *specs.Linux, opts ...Option) (*Plan, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	plan := &Plan{}
	if p != nil {
		if p.ApparmorProfile != "" {
			return nil, fmt.Errorf("process.apparmorProfile %q: AppArmor is not implemented: %w", p.ApparmorProfile, ErrNotSupported)
		}
		if p.SelinuxLabel != "" {
			return nil, fmt.Errorf("process.selinuxLabel %q: SELinux is not implemented: %w", p.SelinuxLabel, ErrNotSupported)
		}
		seen := map[int]bool{}
		for _, r := range p.Rlimits {
			n, ok := rlimitNumbers[r.Type]
			if !ok {
				return nil, fmt.Errorf("rlimit %q: unknown resource: %w", r.Type, ErrInvalid)
			}
			if seen[n] {
				return nil, fmt.Errorf("rlimit %s given twice: %w", r.Type, ErrInvalid)
			}
			seen[n] = true
			if r.Soft > r.Hard {
				return nil, fmt.Errorf("rlimit %s: soft limit %d above hard limit %d: %w", r.Type, r.Soft, r.Hard, ErrInvalid)
			}
			plan.Rlimits = append(plan.Rlimits, Rlimit{Name: r.Type, Resource: n, Soft: r.Soft, Hard: r.Hard})
		}
		plan.User = &User{UID: p.User.UID, GID: p.User.GID, AdditionalGids: p.User.AdditionalGids, Umask: p.User.Umask}
		if c := p.Capabilities; c != nil {
			caps, err := capSets(c)
			if err != nil {
				return nil, err
			}
			plan.Caps = caps
		}
		plan.NoNewPrivileges = p.NoNewPrivileges
	}
	if o.landlock != nil {
		if !plan.NoNewPrivileges {
			// landlock_restrict_self needs no_new_privs (or CAP_SYS_ADMIN), and
			// go-landlock sets it unconditionally: refuse rather than quietly
			// turn on what the spec turned off.
			return nil, fmt.Errorf("landlock needs process.noNewPrivileges: %w", ErrInvalid)
		}
		for _, path := range append(append([]string(nil), o.landlock.ReadOnly...), o.landlock.ReadWrite...) {
			if !filepath.IsAbs(path) {
				return nil, fmt.Errorf("landlock path %q is not absolute: %w", path, ErrInvalid)
			}
		}
		ll := *o.landlock
		plan.Landlock = &ll
	}
	if l != nil && l.Seccomp != nil {
		f, err := CompileSeccomp(l.Seccomp)
		if err != nil {
			return nil, err
		}
		plan.Seccomp = f
	}
	return plan, nil
}

func capSets(c *specs.LinuxCapabilities) (*CapSets, error) {
	var s CapSets
	for _, x := range []struct {
		name  string
		names []string
		dst   *uint64
	}{
		{"bounding", c.Bounding, &s.Bounding},
		{"effective", c.Effective, &s.Effective},
		{"permitted", c.Permitted, &s.Permitted},
		{"inheritable", c.Inheritable, &s.Inheritable},
		{"ambient", c.Ambient, &s.Ambient},
	} {
		m, err := capMask(x.names)
		if err != nil {
			return nil, fmt.Errorf("capabilities.%s: %w", x.name, err)
		}
		*x.dst = m
	}
	// The kernel refuses these with a bare EPERM at apply time; say why here.
	if s.Effective&^s.Permitted != 0 {
		return nil, fmt.Errorf("capabilities.effective has %v outside permitted: %w", capNames(s.Effective&^s.Permitted), ErrInvalid)
	}
	if s.Permitted&^s.Bounding != 0 {
		return nil, fmt.Errorf("capabilities.permitted has %v outside bounding: %w", capNames(s.Permitted&^s.Bounding), ErrInvalid)
	}
	if amb := s.Ambient &^ (s.Permitted & s.Inheritable); amb != 0 {
		return nil, fmt.Errorf("capabilities.ambient has %v not both permitted and inheritable: %w", capNames(amb), ErrInvalid)
	}
	return &s, nil
}

func capNames(m uint64) []string {
	var out []string
	for _, n := range AllCapabilities() {
		if m&(1<<uint(capNumbers[n])) != 0 {
			out = append(out, n)
		}
	}
	return out
}
