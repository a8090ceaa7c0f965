package initproto

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container/rootfs"
	"github.com/cocoonrt/container/security"
)

// Arg0 is the argv[0] of a re-executed init. container.Init dispatches on it.
const Arg0 = "cocoon-init"

// SyncFD is the fd number of the init's end of the socketpair.
const SyncFD = 3

// Message kinds.
const (
	KindConfig  = "config"
	KindReady   = "ready"
	KindGo      = "go"
	KindStarted = "started"
	KindExec    = "exec"
	KindExited  = "exited"
	KindError   = "error"
)

// Config is everything the init needs.
type Config struct {
	Kind string      `json:"kind"`
	Spec *specs.Spec `json:"spec"`
	// Layers is the overlay root; nil for a plain directory (Spec.Root.Path)
	// or no root change at all.
	Layers *rootfs.Layers `json:"layers,omitempty"`
	// WaitForGo makes the init wait for a Go message after Ready (the parent
	// still has placement or network work to do).
	WaitForGo bool `json:"waitForGo,omitempty"`
	// Init makes the init stay as PID 1: it forks the workload, reaps orphans
	// and forwards signals.
	Init bool `json:"init,omitempty"`
	// Security is what the init enforces last, right before execve.
	Security *security.Plan `json:"security,omitempty"`
	// CgroupHierarchies is the host's cgroup layout, read once by the parent.
	CgroupHierarchies []rootfs.Hierarchy `json:"cgroupHierarchies,omitempty"`
	// UnshareCgroup asks the init to create its cgroup namespace itself, after
	// the parent attached it to its cgroup (v1 placement happens after clone).
	UnshareCgroup bool `json:"unshareCgroup,omitempty"`
}

// Message is every other message of the protocol.
type Message struct {
	Kind string `json:"kind"`
	// Error
	Step  string `json:"step,omitempty"`
	Text  string `json:"text,omitempty"`
	Errno int    `json:"errno,omitempty"`
	// Sentinel names a sentinel error the failure wraps (see Sentinels).
	Sentinel string `json:"sentinel,omitempty"`
	// Started
	Pid int `json:"pid,omitempty"`
	// Exited: the wait status as the kernel reports it.
	Status int `json:"status,omitempty"`
	// Go: files to write into the container's root before pivot_root
	// (/etc/resolv.conf, /etc/hosts, /etc/hostname of its network).
	Files map[string][]byte `json:"files,omitempty"`
}

// Sentinels are the sentinel errors that keep their identity across the
// protocol, so that errors.Is works in the parent on what failed in the init.
var Sentinels = map[string]error{
	"rootfs.unsafe-path":     rootfs.ErrUnsafePath,
	"rootfs.pivot-root":      rootfs.ErrPivotRoot,
	"security.not-supported": security.ErrNotSupported,
	"security.invalid":       security.ErrInvalid,
}

// remoteError keeps the init's message text, its errno and sentinel, so that
// errors.Is(err, unix.EPERM) works in the parent.
type remoteError struct {
	text     string
	errno    syscall.Errno
	sentinel error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() []error {
	var out []error
	if e.errno != 0 {
		out = append(out, e.errno)
	}
	if e.sentinel != nil {
		out = append(out, e.sentinel)
	}
	return out
}

// ErrorMessage turns an init-side failure into a message.
func ErrorMessage(step string, err error) Message {
	m := Message{Kind: KindError, Step: step, Text: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	for name, s := range Sentinels {
		if errors.Is(err, s) {
			m.Sentinel = name
		}
	}
	return m
}

// Cause turns an error message back into an error that unwraps to its errno
// and sentinel.
func (m Message) Cause() error {
	return &remoteError{text: m.Text, errno: syscall.Errno(m.Errno), sentinel: Sentinels[m.Sentinel]}
}

// Conn reads and writes protocol messages over a stream.
type Conn struct {
	r *bufio.Reader
	w io.Writer
}

// NewConn wraps a stream (one end of the socketpair).
func NewConn(rw io.ReadWriter) *Conn { return &Conn{r: bufio.NewReader(rw), w: rw} }

// Send writes one message as a line of JSON.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.w.Write(append(b, '\n'))
	return err
}

// Recv reads one message into v. io.EOF means the peer closed its end.
func (c *Conn) Recv(v any) error {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decode %q: %w", line, err)
	}
	return nil
}
