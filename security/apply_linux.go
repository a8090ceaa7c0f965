//go:build linux

package security

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Apply enforces the plan on the calling process, in runc's order: rlimits,
// bounding set, user and groups (keeping capabilities across the uid change
// with PR_SET_KEEPCAPS), the other capability sets, no_new_privs, Landlock,
// and seccomp last so that the filter need not allow the setup itself.
// Without no_new_privs the kernel only lets a process holding CAP_SYS_ADMIN
// install a filter, so then seccomp goes first, before capabilities are
// dropped (as runc does), and the profile must allow the remaining setup
// (capset, prctl, setuid, setgroups: Docker's default does).
//
// The caller must hold the goroutine on its OS thread (runtime.LockOSThread)
// and call execve from that same thread right after Apply returns:
// capabilities, the bounding set and PR_SET_NO_NEW_PRIVS are per thread,
// and the thread that calls execve is the one whose credentials the workload
// inherits. uid/gid/groups are changed on every thread (Go's syscall.Setuid
// does that); seccomp is synchronised to every thread (TSYNC); Landlock is
// enforced on every thread by go-landlock. The other threads of the Go
// runtime keep their capabilities until execve ends them.
//
// RLIMIT_NOFILE is set with syscall.Setrlimit, which also clears the soft
// limit the Go runtime saved at start-up; otherwise syscall.Exec (and
// unix.Exec) would put that saved value back right before execve and the
// workload would not see what was asked.
func (p *Plan) Apply() error {
	for _, r := range p.Rlimits {
		lim := syscall.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := syscall.Setrlimit(r.Resource, &lim); err != nil {
			return &ApplyError{"rlimits", fmt.Errorf("setrlimit(%s, %d:%d): %w", r.Name, r.Soft, r.Hard, err)}
		}
	}
	if p.Seccomp != nil && !p.NoNewPrivileges {
		if err := loadSeccomp(p.Seccomp); err != nil {
			return &ApplyError{"seccomp", err}
		}
	}
	if p.Caps != nil {
		if err := dropBounding(p.Caps.Bounding); err != nil {
			return &ApplyError{"bounding", err}
		}
	}
	if p.User != nil {
		if err := p.switchUser(); err != nil {
			return &ApplyError{"user", err}
		}
	}
	if p.Caps != nil {
		if err := setCaps(p.Caps); err != nil {
			return &ApplyError{"capabilities", err}
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return &ApplyError{"no_new_privs", fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)}
		}
	}
	if p.Landlock != nil {
		if err := applyLandlock(p.Landlock); err != nil {
			return &ApplyError{"landlock", err}
		}
	}
	if p.Seccomp != nil && p.NoNewPrivileges {
		if err := loadSeccomp(p.Seccomp); err != nil {
			return &ApplyError{"seccomp", err}
		}
	}
	return nil
}

func (p *Plan) switchUser() error {
	u := p.User
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	}
	if p.Caps != nil {
		// Keep the permitted set across the uid change; setCaps sets the
		// final sets right after.
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS, 1): %w", err)
		}
	}
	gids := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		gids[i] = int(g)
	}
	// Clearing the caller's supplementary groups matters: they would
	// otherwise leak into the container. In a user namespace whose
	// /proc/self/setgroups says "deny" that is impossible, and harmless to
	// skip when no groups were asked for (the namespace has none mapped).
	if err := syscall.Setgroups(gids); err != nil {
		if !(len(gids) == 0 && errors.Is(err, unix.EPERM) && setgroupsDenied()) {
			return fmt.Errorf("setgroups(%v): %w", u.AdditionalGids, err)
		}
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return fmt.Errorf("setgid(%d): %w", u.GID, err)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return fmt.Errorf("setuid(%d): %w", u.UID, err)
	}
	if p.Caps != nil {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS, 0): %w", err)
		}
	}
	return nil
}

func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && bytes.Equal(bytes.TrimSpace(b), []byte("deny"))
}
