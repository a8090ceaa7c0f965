package container

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported is wrapped by errors for features this host or OS cannot provide.
var ErrNotSupported = errors.New("not supported")

// ErrDeleted is returned by operations on a container that was deleted.
var ErrDeleted = errors.New("container deleted")

// ErrNotRunning is returned when signalling a container that has exited.
var ErrNotRunning = errors.New("container not running")

// Reason says how a container ended.
type Reason string

const (
	// Exited: the workload exited on its own; ExitCode is its status.
	Exited Reason = "exited"
	// Signaled: the workload was killed by Signal.
	Signaled Reason = "signaled"
	// Canceled: the start context was cancelled and the container killed.
	Canceled Reason = "canceled"
	// DeadlineExceeded: the start context's deadline passed and the container was killed.
	DeadlineExceeded Reason = "deadline-exceeded"
	// Killed: Kill or Delete ended it.
	Killed Reason = "killed"
	// OOMKilled: the kernel's OOM killer ended it at the container's memory limit.
	OOMKilled Reason = "oom-killed"
)

// Result is how a container ended.
type Result struct {
	// ExitCode is the exit status, or 128+N when killed by signal N (the
	// shell's convention, so it can be passed to os.Exit).
	ExitCode int
	// Signal is the signal that killed the workload, 0 if it exited.
	Signal syscall.Signal
	// Reason is why it ended.
	Reason Reason
	// Started and Finished bound the container's life (from the start of
	// Start to the reaping of its first process).
	Started, Finished time.Time
}

// Success reports whether the workload exited with status 0.
func (r *Result) Success() bool { return r != nil && r.Reason == Exited && r.ExitCode == 0 }

func (r *Result) String() string {
	switch r.Reason {
	case Exited:
		return fmt.Sprintf("exited with status %d", r.ExitCode)
	case Signaled:
		return fmt.Sprintf("killed by signal %v", r.Signal)
	default:
		return fmt.Sprintf("%s (status %d)", r.Reason, r.ExitCode)
	}
}

// StepError reports the setup step that failed, in the parent or inside the
// container's init, for example "rootfs: mount overlay on ...: invalid argument".
// The cause is kept: errors.Is(err, unix.EPERM) works.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func stepErr(step string, err error) error {
	if err == nil {
		return nil
	}
	return &StepError{Step: step, Err: err}
}

// defaultIDMappings: for root, container 0-65535 -> host 100000-165535 (the
// conventional first subordinate range); for anyone else, the caller as root.
func defaultIDMappings() (uid, gid []specs.LinuxIDMapping) {
	if os.Geteuid() == 0 {
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		return m, append([]specs.LinuxIDMapping(nil), m...)
	}
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}},
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
}
