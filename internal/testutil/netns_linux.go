//go:build linux

package testutil

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NetNS is a network namespace owned by one locked OS thread of the test
// process: a stand-in for a container's network namespace, or a namespace
// playing "the host" so a test never changes the machine's real firewall,
// routes or sysctls. Path (/proc/PID/task/TID/ns/net) names it the way
// /proc/PID/ns/net names a container's.
//
// The thread is never unlocked, so the runtime ends it with its goroutine and
// the namespace dies with it, as a container's does with its last process.
// Keep the main goroutine locked to the main thread in TestMain
// (runtime.LockOSThread before m.Run): the runtime parks rather than ends a
// main thread whose goroutine exits locked, and its namespace would live on.
type NetNS struct {
	Path string
	TID  int
	req  chan func()
	done chan struct{}
	once sync.Once
}

// NewNetNS makes a fresh network namespace (lo down) closed at the end of tb.
func NewNetNS(tb testing.TB) *NetNS { return startNetNS(tb, "") }

// JoinNetNS puts a new thread into the namespace at path (a sidecar).
func JoinNetNS(tb testing.TB, path string) *NetNS { return startNetNS(tb, path) }

func startNetNS(tb testing.TB, join string) *NetNS {
	tb.Helper()
	ns := &NetNS{req: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(ns.done)
		runtime.LockOSThread() // never unlocked: see the type's comment
		var err error
		if join == "" {
			err = unix.Unshare(unix.CLONE_NEWNET)
		} else {
			var fd int
			if fd, err = unix.Open(join, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				err = unix.Setns(fd, unix.CLONE_NEWNET)
				unix.Close(fd)
			}
		}
		if err != nil {
			ready <- err
			return
		}
		ns.TID = unix.Gettid()
		ns.Path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), ns.TID)
		ready <- nil
		for f := range ns.req {
			f()
		}
	}()
	if err := <-ready; err != nil {
		tb.Fatalf("new network namespace: %v", err)
	}
	tb.Cleanup(ns.Close)
	return ns
}

// Do runs f on the namespace's thread: sockets f creates live in the
// namespace (and can be used from any goroutine afterwards).
func (ns *NetNS) Do(f func() error) error {
	errc := make(chan error, 1)
	ns.req <- func() { errc <- f() }
	return <-errc
}

// Close ends the thread and waits until the kernel has reaped it, as a
// container's Wait does for its init. The namespace itself is torn down by
// the kernel asynchronously once nothing else holds it.
func (ns *NetNS) Close() {
	ns.once.Do(func() {
		close(ns.req)
		<-ns.done
		if ns.TID == os.Getpid() {
			return // the main thread: parked forever, see the type's comment
		}
		task := fmt.Sprintf("/proc/self/task/%d", ns.TID)
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			if _, err := os.Stat(task); err != nil {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
}
