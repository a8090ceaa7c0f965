//go:build linux

package container_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/netsetup"
)

// netHost is a network namespace that plays the host for a test, so no test
// touches the machine's real bridges, firewall or sysctls.
type netHost struct {
	ns    *testutil.NetNS
	h     *netsetup.Host
	state string
}

func newNetHost(t *testing.T) *netHost {
	t.Helper()
	ns := testutil.NewNetNS(t)
	require.NoError(t, ns.Do(netsetup.LoopbackUp))
	h, err := netsetup.OpenHost(ns.Path)
	require.NoError(t, err)
	state := t.TempDir()
	t.Cleanup(func() {
		require.NoError(t, netsetup.RemoveBridge(context.Background(), netsetup.Config{Mode: netsetup.ModeBridge, Host: h, StateDir: state}))
		h.Close()
	})
	return &netHost{ns: ns, h: h, state: state}
}

func (nh *netHost) bridged(t *testing.T, args ...string) *container.Builder {
	b, _ := newT(t, args...)
	return b.WithNetworkHost(nh.h, nh.state)
}

const pyServer = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(8); print("listening", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hello from " + socket.gethostname().encode() + b"\n"); c.close()`

func TestBridgeContainersReachEachOtherAndTheBridge(t *testing.T) {
	testutil.RequireRoot(t)
	nh := newNetHost(t)
	a, line := startLine(t, nh.bridged(t, "python3", "-c", pyServer).WithHostname("alpha"))
	require.Equal(t, "listening", line)

	// A listener on the bridge address, in the namespace playing the host.
	var ln net.Listener
	require.NoError(t, nh.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(a.Gateway().String(), "9090"))
		return err
	}))
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the bridge\n")
			c.Close()
		}
	}()

	b := nh.bridged(t, "python3", "-c", fmt.Sprintf(`
import socket, subprocess
print(open("/sys/class/net/eth0/address").read().strip() != "")
for host, port in (("%s", 8080), ("%s", 9090)):
    s = socket.create_connection((host, port), timeout=5); print(s.recv(100).decode().strip())`, a.IPAddress(), a.Gateway()))
	cb, err := b.WithHostname("beta").Start(context.Background())
	require.NoError(t, err)
	defer cb.Delete()
	assert.NotEqual(t, a.IPAddress(), cb.IPAddress(), "two live containers share an address")
	prefix := netsetup.DefaultSubnet
	assert.True(t, prefix.Contains(a.IPAddress()) && prefix.Contains(cb.IPAddress()), "%v %v", a.IPAddress(), cb.IPAddress())
	cb.Delete()

	var out strings.Builder
	res, err := nh.bridged(t, "sh", "-c", fmt.Sprintf("cat /etc/hostname; grep -c nameserver /etc/resolv.conf; python3 -c '%s'",
		fmt.Sprintf(`import socket; s = socket.create_connection(("%s", 8080), timeout=5); print(s.recv(100).decode().strip())`, a.IPAddress()))).
		WithHostname("gamma").WithStdout(&out).Run(context.Background())
	require.NoError(t, err)
	require.True(t, res.Success(), "%v: %s", res, out.String())
	assert.Equal(t, "gamma\n1\nhello from alpha\n", out.String())
}

func TestPublishedPortReachableFromTheHost(t *testing.T) {
	testutil.RequireRoot(t)
	nh := newNetHost(t)
	web := t.TempDir()
	require.NoError(t, os.WriteFile(web+"/index.html", []byte("<h1>cocoon</h1>\n"), 0o644))
	_, line := startLine(t, nh.bridged(t, "sh", "-c", "cd /srv && echo up && exec python3 -m http.server 8080").
		WithBind(web, "/srv", true).WithPublish("18080:8080"))
	require.Equal(t, "up", line)

	// The request is made on the thread inside the namespace playing the
	// host (http.Client would dial from another goroutine, i.e. elsewhere).
	var resp string
	require.NoError(t, nh.ns.Do(func() error {
		var last error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:18080", 2*time.Second)
			if err != nil {
				last = err
				continue
			}
			io.WriteString(conn, "GET /index.html HTTP/1.0\r\n\r\n")
			b, err := io.ReadAll(conn)
			conn.Close()
			resp = string(b)
			return err
		}
		return last
	}))
	assert.True(t, strings.HasPrefix(resp, "HTTP/1.0 200"), resp)
	assert.True(t, strings.HasSuffix(resp, "\r\n\r\n<h1>cocoon</h1>\n"), resp)

	_, err := nh.bridged(t, "true").WithPublish("18080:80").Run(context.Background())
	require.ErrorIs(t, err, netsetup.ErrPortInUse)
	assert.ErrorContains(t, err, "18080")
}

func TestHundredBridgeRunsLeaveNothing(t *testing.T) {
	testutil.RequireRoot(t)
	nh := newNetHost(t)
	testutil.CheckLeaks(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := nh.bridged(t, "true").WithPublish(fmt.Sprintf("%d:80", 20000+i)).Run(context.Background())
			if err == nil && !res.Success() {
				err = fmt.Errorf("run %d: %v", i, res)
			}
			errs <- err
		}()
		if i%10 == 9 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	leases, err := netsetup.Leases(netsetup.Config{Mode: netsetup.ModeBridge, Host: nh.h, StateDir: nh.state})
	require.NoError(t, err)
	assert.Empty(t, leases, "allocator entries left")
	// The kernel deletes a veth with its container's namespace, in the
	// background: give it a moment.
	var left []string
	assert.Eventually(t, func() bool {
		left = nil
		require.NoError(t, nh.ns.Do(func() error {
			links, err := netlink.LinkList()
			for _, l := range links {
				if l.Type() == "veth" {
					left = append(left, l.Attrs().Name)
				}
			}
			return err
		}))
		return len(left) == 0
	}, 5*time.Second, 20*time.Millisecond, "veths left behind")
	assert.Empty(t, left)
}
