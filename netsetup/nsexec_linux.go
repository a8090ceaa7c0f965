//go:build linux

package netsetup

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// nsRef is an open network namespace, or the caller's own (fd < 0).
type nsRef struct {
	fd   int
	path string
}

func openNS(path string) (nsRef, error) {
	if path == "" {
		return nsRef{fd: -1, path: "/proc/self/ns/net"}, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nsRef{fd: -1}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	// A path that is not an nsfs file of type net would make setns fail
	// later with a less clear message.
	if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err == nil && t != unix.CLONE_NEWNET {
		unix.Close(fd)
		return nsRef{fd: -1}, fmt.Errorf("%s is not a network namespace: %w", path, ErrInvalidConfig)
	}
	return nsRef{fd: fd, path: path}, nil
}

// sameNS reports whether two references name one namespace.
func sameNS(a, b nsRef) bool {
	var sa, sb unix.Stat_t
	if statNS(a, &sa) != nil || statNS(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func statNS(n nsRef, st *unix.Stat_t) error {
	if n.fd < 0 {
		return unix.Stat("/proc/thread-self/ns/net", st)
	}
	return unix.Fstat(n.fd, st)
}

func (n nsRef) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
	}
}

// run calls fn with the calling thread in the namespace n. Sockets fn creates
// stay bound to n (netlink, nftables and port reservations are made that way,
// so no later call has to switch namespaces), and /proc/sys/net files fn opens
// are n's.
//
// fn runs on a fresh goroutine locked to its OS thread; the thread is switched
// back to its original namespace before it is unlocked, and if that fails it
// stays locked so the Go runtime ends it with the goroutine instead of reusing
// a thread in the wrong namespace.
func (n nsRef) run(fn func() error) error {
	if n.fd < 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", n.path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("setns back from %s: %w", n.path, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// writeSysctl writes a /proc/sys file; call it inside nsRef.run for a
// namespace-scoped (net.*) key. An already-equal value is left alone so a
// read-only /proc/sys (as in some sandboxes) is no error when nothing changes.
func writeSysctl(path, value string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", path, value, err)
	}
	return nil
}

// reservePort binds (without listening) a socket on the host side for a
// published port. Holding it makes every later bind of that port fail, by
// another container of any process or by any other program, and the kernel
// frees it when the holder dies, crash included. No SO_REUSEADDR: two
// non-listening sockets that both set it may share a port.
func reservePort(p PortMapping) (int, error) {
	typ := unix.SOCK_STREAM
	if p.proto() == UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reserve host port %s: socket: %w", p, err)
	}
	sa := &unix.SockaddrInet4{Port: int(p.HostPort)}
	if p.HostIP.IsValid() {
		sa.Addr = p.HostIP.As4()
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return -1, fmt.Errorf("publish %s: host port %d/%s is already bound (another container or program): %w: %w",
				p, p.HostPort, p.proto(), ErrPortInUse, err)
		}
		return -1, fmt.Errorf("publish %s: bind host port: %w", p, err)
	}
	return fd, nil
}
