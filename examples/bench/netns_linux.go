//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/netsetup"
)

// netHost is a network namespace that plays the host for the bridge rows,
// so the benchmark never adds a bridge or NAT rules to the real machine. It
// lives on a locked thread that ends (with the namespace) in close.
type netHost struct {
	path  string
	h     *netsetup.Host
	state string
	stop  chan struct{}
	done  chan struct{}
}

func newNetHost(tmp string) (*netHost, error) {
	n := &netHost{stop: make(chan struct{}), done: make(chan struct{}), state: filepath.Join(tmp, "net")}
	ready := make(chan error, 1)
	go func() {
		defer close(n.done)
		runtime.LockOSThread() // never unlocked: the thread ends with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		if err := netsetup.LoopbackUp(); err != nil {
			ready <- err
			return
		}
		n.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		ready <- nil
		<-n.stop
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	h, err := netsetup.OpenHost(n.path)
	if err != nil {
		close(n.stop)
		return nil, err
	}
	n.h = h
	return n, nil
}

func (n *netHost) close() error {
	err := netsetup.RemoveBridge(context.Background(), netsetup.Config{Mode: netsetup.ModeBridge, Host: n.h, StateDir: n.state})
	n.h.Close()
	close(n.stop)
	<-n.done
	return err
}
