//go:build linux

package security

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"
)

// LandlockABI returns the Landlock ABI version of the running kernel, 0 when
// it has no Landlock (not built, or not enabled at boot).
func LandlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// applyLandlock enforces l with go-landlock. The library restricts every
// thread of the process: on ABI >= 8 with landlock_restrict_self's TSYNC
// flag, before that by running the syscall on each thread (psx, i.e. Go's
// syscall.AllThreadsSyscall). Both cover the thread that execs the workload.
// Rights this kernel's ABI lacks are dropped (best effort) once Landlock
// itself is there; Required only refuses a kernel without any Landlock.
func applyLandlock(l *Landlock) error {
	if LandlockABI() < 1 {
		if l.Required {
			return fmt.Errorf("landlock is not available in this kernel: %w", ErrNotSupported)
		}
		return nil
	}
	var rules []landlock.Rule
	add := func(paths []string, dirs func(...string) landlock.FSRule, files func(...string) landlock.FSRule) error {
		for _, p := range paths {
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("landlock path: %w", err)
			}
			if st.IsDir() {
				rules = append(rules, dirs(p))
			} else {
				rules = append(rules, files(p))
			}
		}
		return nil
	}
	if err := add(l.ReadOnly, landlock.RODirs, landlock.ROFiles); err != nil {
		return err
	}
	if err := add(l.ReadWrite, landlock.RWDirs, landlock.RWFiles); err != nil {
		return err
	}
	if err := landlock.V11.BestEffort().RestrictPaths(rules...); err != nil {
		return fmt.Errorf("landlock restrict: %w", err)
	}
	return nil
}
