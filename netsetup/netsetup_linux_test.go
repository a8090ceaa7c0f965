//go:build linux

package netsetup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	switch os.Getenv("NETSETUP_TEST_CHILD") {
	case "crash":
		crashChild()
		return
	case "hold":
		holdChild()
		return
	}
	// The runtime's poller (an epoll and an eventfd, made on first use by
	// timers and pollable files) lives for the process: start it before any
	// test's leak check takes its snapshot.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	time.Sleep(time.Microsecond)
	// Keep the main thread to the main goroutine: a namespace thread of the
	// tests landing on it would never end (the runtime parks the main thread
	// instead of ending it), and its namespace would live on.
	runtime.LockOSThread()
	os.Exit(m.Run())
}

func attach(t *testing.T, cfg Config, ns *testNS, id string) *Attachment {
	t.Helper()
	a, err := Attach(context.Background(), cfg, ns.path, id)
	require.NoError(t, err, "attach %s", id)
	t.Cleanup(func() { assert.NoError(t, a.Release()) })
	return a
}

func TestBridge(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	ctrA, ctrB := newTestNS(t), newTestNS(t)
	a := attach(t, cfg, ctrA, "container-a")
	b := attach(t, cfg, ctrB, "container-b")

	// eth0 carries the leased address, inside the subnet, distinct per container.
	gotA, gotB := eth0Addr(t, ctrA), eth0Addr(t, ctrB)
	assert.Equal(t, a.Address(), gotA)
	assert.Equal(t, b.Address(), gotB)
	assert.True(t, cfg.Subnet.Contains(gotA.Addr()) && cfg.Subnet.Contains(gotB.Addr()), "%s %s in %s", gotA, gotB, cfg.Subnet)
	assert.NotEqual(t, gotA.Addr(), gotB.Addr())
	assert.Equal(t, netip.MustParseAddr("10.99.0.1"), a.Gateway())

	// The container reaches the bridge address (a server of the host) and
	// the other container, over TCP.
	serve(t, host, a.Gateway().String()+":9000", "host")
	serve(t, ctrB, ":8080", "b")
	got, err := fetch(ctrA, a.Gateway().String()+":9000")
	require.NoError(t, err)
	assert.Equal(t, "hello from host", got)
	got, err = fetch(ctrA, gotB.Addr().String()+":8080")
	require.NoError(t, err)
	assert.Equal(t, "hello from b", got)

	// The files the rootfs step writes.
	f := a.Files()
	assert.Equal(t, "container-a\n", string(f["/etc/hostname"]))
	assert.Contains(t, string(f["/etc/hosts"]), gotA.Addr().String()+"\tcontainer-a\n")
	assert.Contains(t, string(f["/etc/resolv.conf"]), "nameserver ")

	leases, err := Leases(cfg)
	require.NoError(t, err)
	assert.Len(t, leases, 2)
	assert.ElementsMatch(t, []string{a.HostVeth(), b.HostVeth()}, links(t, host, "ck"))
	assert.ErrorIs(t, RemoveBridge(context.Background(), cfg), ErrBridgeInUse)
	other := cfg
	other.Subnet = netip.MustParsePrefix("10.98.0.0/24")
	_, err = Attach(context.Background(), other, newTestNS(t).path, "wrong-subnet")
	assert.ErrorIs(t, err, ErrInvalidConfig, "a bridge of another subnet is refused")

	require.NoError(t, a.Release())
	require.NoError(t, b.Release())
	assert.Empty(t, links(t, host, "ck"), "veths left after release")
	leases, err = Leases(cfg)
	require.NoError(t, err)
	assert.Empty(t, leases)
}

// TestPublishedPort runs with br_netfilter on (this kernel's default: bridged
// packets traverse the ip hooks) and off (the usual default elsewhere), which
// take different paths through the NAT.
func TestPublishedPort(t *testing.T) {
	for _, brnf := range []string{"1", "0"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) { testPublishedPort(t, brnf) })
	}
}

func testPublishedPort(t *testing.T, brnf string) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	require.NoError(t, host.do(func() error {
		p := "/proc/sys/net/bridge/bridge-nf-call-iptables"
		if _, err := os.Stat(p); os.IsNotExist(err) && brnf == "0" {
			return nil // no br_netfilter at all: the "off" path
		} else if err != nil {
			return fmt.Errorf("this test needs br_netfilter for its \"on\" case: %w", err)
		}
		return os.WriteFile(p, []byte(brnf), 0)
	}))
	ctrA, ctrB := newTestNS(t), newTestNS(t)
	pm, err := ParsePortMapping("18080:8080")
	require.NoError(t, err)
	cfg.Ports = []PortMapping{pm}
	a := attach(t, cfg, ctrA, "web")
	serve(t, ctrA, ":8080", "web")

	// From the host itself, over loopback and over its own address.
	for _, addr := range []string{"127.0.0.1:18080", "198.51.100.1:18080"} {
		got, err := fetch(host, addr)
		require.NoError(t, err, addr)
		assert.Equal(t, "hello from web", got, addr)
	}
	assert.Equal(t, 1, taggedRules(t, cfg))

	// Containers reach a published port through the host's address too
	// (hairpin), another container as well as the publisher itself.
	ctrC := newTestNS(t)
	noPorts := cfg
	noPorts.Ports = nil
	attach(t, noPorts, ctrC, "client")
	for name, ns := range map[string]*testNS{"other container": ctrC, "itself": ctrA} {
		got, err := fetch(ns, "198.51.100.1:18080")
		require.NoError(t, err, name)
		assert.Equal(t, "hello from web", got, name)
	}

	// A second container asking for the same host port gets a clear error,
	// and its failed attach leaves nothing behind.
	_, err = Attach(context.Background(), cfg, ctrB.path, "web2")
	require.ErrorIs(t, err, ErrPortInUse)
	assert.Contains(t, err.Error(), "host port 18080/tcp is already bound")
	leases, lerr := Leases(cfg)
	require.NoError(t, lerr)
	assert.Len(t, leases, 2)
	assert.Len(t, links(t, host, "ck"), 2)

	// Bridge mode on the host's own namespace would put eth0 on the host.
	_, err = Attach(context.Background(), noPorts, host.path, "confused")
	assert.ErrorIs(t, err, ErrInvalidConfig)

	// Another program holding the port is refused the same way.
	require.NoError(t, a.Release())
	assert.Equal(t, 0, taggedRules(t, cfg))
	serve(t, host, ":18080", "squatter")
	_, err = Attach(context.Background(), cfg, ctrB.path, "web2")
	require.ErrorIs(t, err, ErrPortInUse)
}

func TestHostIPPort(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	ctr := newTestNS(t)
	cfg.Ports = []PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18081, ContainerPort: 80}}
	attach(t, cfg, ctr, "local-only")
	serve(t, ctr, ":80", "local-only")
	got, err := fetch(host, "127.0.0.1:18081")
	require.NoError(t, err)
	assert.Equal(t, "hello from local-only", got)
	_, err = fetch(host, "198.51.100.1:18081")
	assert.Error(t, err, "a mapping bound to 127.0.0.1 must not answer on other addresses")
}

func TestSidecar(t *testing.T) {
	testutil.CheckLeaks(t)
	_, cfg := newHost(t)
	for _, mode := range []Mode{ModeLoopback, ModeBridge} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := cfg
			cfg.Mode = mode
			ctrA := newTestNS(t)
			attach(t, cfg, ctrA, "app")
			serve(t, ctrA, "127.0.0.1:7000", "app")

			// B joins A's namespace (--net container:A): nothing to wire.
			sidecar := joinNS(t, ctrA.path)
			b, err := Attach(context.Background(), Config{Mode: ModeContainer}, ctrA.path, "sidecar")
			require.NoError(t, err)
			assert.False(t, b.Address().IsValid())
			assert.Equal(t, "sidecar\n", string(b.Files()["/etc/hostname"]))
			require.NoError(t, b.Release())
			got, err := fetch(sidecar, "127.0.0.1:7000")
			require.NoError(t, err)
			assert.Equal(t, "hello from app", got)
		})
	}
}

func TestModeNoneKeepsLoopbackDown(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireRoot(t)
	ctr := newTestNS(t)
	a, err := Attach(context.Background(), Config{Mode: ModeNone}, ctr.path, "x")
	require.NoError(t, err)
	require.NoError(t, a.Release())
	_, err = fetch(ctr, "127.0.0.1:1")
	assert.ErrorContains(t, err, "network is unreachable")
}

func TestHundredCycles(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	cfg.Ports = []PortMapping{{HostPort: 18080, ContainerPort: 80}}
	cfg.EgressAllow = []EgressRule{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Port: 53}}
	start := time.Now()
	for i := range 100 {
		ctr := newTestNS(t)
		a, err := Attach(context.Background(), cfg, ctr.path, fmt.Sprintf("run-%d", i))
		require.NoError(t, err, "cycle %d", i)
		// As Delete after Wait: the container is gone, then its network.
		ctr.close()
		require.NoError(t, a.Release(), "cycle %d", i)
	}
	t.Logf("100 attach/exit/release cycles with a published port and an egress policy: %v", time.Since(start))
	// The kernel removes the veth pairs with the namespaces, asynchronously.
	assert.Eventually(t, func() bool { return len(links(t, host, "ck")) == 0 }, 10*time.Second, 20*time.Millisecond,
		"veths left: %v", links(t, host, "ck"))
	assert.Equal(t, 0, taggedRules(t, cfg), "per-container rules left")
	leases, err := Leases(cfg)
	require.NoError(t, err)
	assert.Empty(t, leases, "allocator not empty")
	entries, err := os.ReadDir(cfg.StateDir + "/" + cfg.Bridge)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the lock file stays: %v", entries)

	// What stays for reuse goes with RemoveBridge.
	require.NoError(t, RemoveBridge(context.Background(), cfg))
	assert.Empty(t, links(t, host, cfg.Bridge))
	_, err = os.Stat(cfg.StateDir + "/" + cfg.Bridge)
	assert.True(t, os.IsNotExist(err))
}

// crashChild attaches a container with a published port, says so on stdout
// and waits to be killed: a caller that crashes without releasing.
func crashChild() {
	fail := func(err error) { fmt.Println("error", err); os.Exit(1) }
	ctrPath := os.Getenv("NETSETUP_CTR") // a container of the parent's, outliving us
	if ctrPath == "" {
		ctrPath = newTestNS(childTB{}).path
	}
	cfg := Config{Mode: ModeBridge, Bridge: "nstest0", Subnet: netip.MustParsePrefix("10.99.0.0/24"),
		HostNS: os.Getenv("NETSETUP_HOST"), StateDir: os.Getenv("NETSETUP_STATE"),
		Ports: []PortMapping{{HostPort: 18082, ContainerPort: 80}}}
	a, err := Attach(context.Background(), cfg, ctrPath, "doomed")
	if err != nil {
		fail(err)
	}
	fmt.Println("attached", a.Address())
	select {}
}

// crashAfterAttach runs crashChild in another process of this test binary
// and SIGKILLs it once it has attached (in ctrPath, or in a namespace of its
// own that dies with it).
func crashAfterAttach(t *testing.T, host *testNS, cfg Config, ctrPath string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NETSETUP_TEST_CHILD=crash", "NETSETUP_HOST="+host.path,
		"NETSETUP_STATE="+cfg.StateDir, "NETSETUP_CTR="+ctrPath)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "attached "), "child: %q", line)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// childTB lets newTestNS run outside a test (in the child processes).
type childTB struct{ testing.TB }

func (childTB) Helper()                        {}
func (childTB) Cleanup(func())                 {}
func (childTB) Errorf(format string, a ...any) { fmt.Printf("error "+format+"\n", a...) }
func (childTB) FailNow()                       { os.Exit(1) }

func TestCleanupAfterCrash(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	crashAfterAttach(t, host, cfg, "")

	// The crash left a stale lease and its rule (the veth goes with the
	// container's namespace, asynchronously).
	leases, err := Leases(cfg)
	require.NoError(t, err)
	require.Len(t, leases, 1)
	assert.False(t, leases[0].Live)
	assert.Equal(t, "doomed", leases[0].ID)
	assert.Equal(t, 1, taggedRules(t, cfg))

	require.NoError(t, Cleanup(context.Background(), cfg))
	leases, err = Leases(cfg)
	require.NoError(t, err)
	assert.Empty(t, leases)
	assert.Equal(t, 0, taggedRules(t, cfg))
	assert.Empty(t, links(t, host, "ck"))

	// The port is free again.
	cfg.Ports = []PortMapping{{HostPort: 18082, ContainerPort: 80}}
	ctr := newTestNS(t)
	attach(t, cfg, ctr, "after-crash")
	serve(t, ctr, ":80", "after-crash")
	got, err := fetch(host, "127.0.0.1:18082")
	require.NoError(t, err)
	assert.Equal(t, "hello from after-crash", got)
}

// TestAttachReclaimsLazily: without an explicit Cleanup, an Attach that
// publishes the crashed owner's port reclaims the stale lease itself.
func TestAttachReclaimsLazily(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	crashAfterAttach(t, host, cfg, "")

	cfg.Ports = []PortMapping{{HostPort: 18082, ContainerPort: 80}}
	ctr := newTestNS(t)
	a := attach(t, cfg, ctr, "successor")
	leases, err := Leases(cfg)
	require.NoError(t, err)
	require.Len(t, leases, 1)
	assert.Equal(t, "successor", leases[0].ID)
	assert.Equal(t, 1, taggedRules(t, cfg))
	assert.Equal(t, []string{a.HostVeth()}, links(t, host, "ck"))
}

// TestConcurrentAttach: containers attached at once never share an address.
func TestConcurrentAttach(t *testing.T) {
	testutil.CheckLeaks(t)
	_, cfg := newHost(t)
	// One Host shared by all: its sockets are used concurrently.
	h, err := OpenHost(cfg.HostNS)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close()) })
	cfg.Host = h
	const n = 8
	nss := make([]*testNS, n)
	for i := range nss {
		nss[i] = newTestNS(t)
	}
	res := make(chan *Attachment, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			a, err := Attach(context.Background(), cfg, nss[i].path, fmt.Sprintf("c%d", i))
			if err != nil {
				errs <- err
				return
			}
			res <- a
		}()
	}
	seen := map[netip.Addr]bool{}
	for range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case a := <-res:
			t.Cleanup(func() { assert.NoError(t, a.Release()) })
			assert.False(t, seen[a.Address().Addr()], "address %s handed out twice", a.Address())
			seen[a.Address().Addr()] = true
		}
	}
	assert.Len(t, seen, n)
}

// TestEgress: routed traffic leaves masqueraded as the host, and a container
// with an egress policy reaches only what it allows (routed and to the host).
func TestEgress(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	remote := newTestNS(t)
	// A "remote" network behind the host: wan0 (host) <-> wan1 (remote).
	require.NoError(t, host.do(func() error {
		fd, err := unix.Open(remote.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wan0"}, PeerName: "wan1", PeerNamespace: netlink.NsFd(fd)}
		if err := netlink.LinkAdd(v); err != nil {
			return err
		}
		if err := netlink.AddrAdd(v, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("203.0.113.1/24"))}); err != nil {
			return err
		}
		return netlink.LinkSetUp(v)
	}))
	require.NoError(t, remote.do(func() error {
		l, err := netlink.LinkByName("wan1")
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("203.0.113.2/24"))}); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	}))
	// The remote servers answer with the source address they see.
	for _, port := range []string{"80", "81"} {
		var ln net.Listener
		require.NoError(t, remote.do(func() (err error) { ln, err = net.Listen("tcp4", ":"+port); return err }))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
				_, _ = io.WriteString(c, "seen "+ip+"\n")
				c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close(); <-done })
	}
	restricted := cfg
	restricted.EgressAllow = []EgressRule{{Prefix: netip.MustParsePrefix("203.0.113.2/32"), Port: 80}}
	ctrR := newTestNS(t)
	attach(t, restricted, ctrR, "restricted")
	ctrO := newTestNS(t)
	attach(t, cfg, ctrO, "open2")
	serve(t, host, "10.99.0.1:9000", "host") // the bridge exists now

	for _, port := range []string{"80", "81"} {
		got, err := fetch(ctrO, "203.0.113.2:"+port)
		require.NoError(t, err, "unrestricted container to remote port %s", port)
		assert.Equal(t, "seen 203.0.113.1", got, "masqueraded as the host's wan address")
	}
	got, err := fetch(ctrR, "203.0.113.2:80")
	require.NoError(t, err, "allowed destination")
	assert.Equal(t, "seen 203.0.113.1", got)
	_, err = fetchTimeout(ctrR, "203.0.113.2:81", 300*time.Millisecond)
	assert.Error(t, err, "port 81 is not allowed")
	_, err = fetchTimeout(ctrR, "10.99.0.1:9000", 300*time.Millisecond)
	assert.Error(t, err, "the host is not allowed either")
	got, err = fetch(ctrO, "10.99.0.1:9000")
	require.NoError(t, err)
	assert.Equal(t, "hello from host", got)
}

// udpEcho answers each datagram to addr inside ns with prefix + " " + it.
func udpEcho(t *testing.T, ns *testNS, addr, prefix string) {
	t.Helper()
	var pc net.PacketConn
	require.NoError(t, ns.do(func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(prefix+" "), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

func TestUDPPort(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	ctr := newTestNS(t)
	pm, err := ParsePortMapping("15353:53/udp")
	require.NoError(t, err)
	cfg.Ports = []PortMapping{pm}
	a := attach(t, cfg, ctr, "dns")
	udpEcho(t, ctr, ":53", "echo")

	var c net.Conn
	require.NoError(t, host.do(func() (err error) { c, err = net.Dial("udp4", "127.0.0.1:15353"); return err }))
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo ping", string(buf[:n]))

	// The UDP reservation conflicts like the TCP one.
	_, err = Attach(context.Background(), cfg, newTestNS(t).path, "dns2")
	assert.ErrorIs(t, err, ErrPortInUse)

	// A successor on the port (at another address) hears the same client:
	// Release forgot the old flow, which would still be DNATed to the old
	// address otherwise.
	require.NoError(t, a.Release())
	ctr2 := newTestNS(t)
	b := attach(t, cfg, ctr2, "dns-successor")
	require.NotEqual(t, a.Address(), b.Address())
	udpEcho(t, ctr2, ":53", "successor")
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	n, err = c.Read(buf)
	require.NoError(t, err, "same client socket, new container")
	assert.Equal(t, "successor ping", string(buf[:n]))
}

// holdChild attaches five containers, prints their addresses and holds them
// until its stdin closes: another process of the same program.
func holdChild() {
	cfg := Config{Mode: ModeBridge, Bridge: "nstest0", Subnet: netip.MustParsePrefix("10.99.0.0/24"),
		HostNS: os.Getenv("NETSETUP_HOST"), StateDir: os.Getenv("NETSETUP_STATE")}
	var out []string
	for i := range 5 {
		ns := newTestNS(childTB{})
		a, err := Attach(context.Background(), cfg, ns.path, fmt.Sprintf("child-%d-%d", os.Getpid(), i))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		out = append(out, a.Address().Addr().String())
	}
	fmt.Println(strings.Join(out, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// TestCrossProcessLeases: three processes of one program attaching at once
// never share an address, and a live process's leases survive Cleanup.
func TestCrossProcessLeases(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var kids []child
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "NETSETUP_TEST_CHILD=hold", "NETSETUP_HOST="+host.path, "NETSETUP_STATE="+cfg.StateDir)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		kids = append(kids, child{cmd, stdin, bufio.NewReader(stdout)})
	}
	seen := map[string]string{}
	for i := range 5 {
		a := attach(t, cfg, newTestNS(t), fmt.Sprintf("parent-%d", i))
		seen[a.Address().Addr().String()] = "parent"
	}
	for _, k := range kids {
		line, err := k.out.ReadString('\n')
		require.NoError(t, err)
		addrs := strings.Fields(line)
		require.Len(t, addrs, 5, "child said %q", line)
		for _, a := range addrs {
			assert.Empty(t, seen[a], "address %s handed out twice", a)
			seen[a] = fmt.Sprint(k.cmd.Process.Pid)
		}
	}
	assert.Len(t, seen, 15)
	leases, err := Leases(cfg)
	require.NoError(t, err)
	assert.Len(t, leases, 15)

	// The children exit cleanly without releasing (like a crash, but with
	// their containers gone): Cleanup reclaims theirs, keeps ours.
	for _, k := range kids {
		k.stdin.Close()
		require.NoError(t, k.cmd.Wait())
	}
	require.NoError(t, Cleanup(context.Background(), cfg))
	leases, err = Leases(cfg)
	require.NoError(t, err)
	assert.Len(t, leases, 5)
	for _, l := range leases {
		assert.True(t, l.Live)
		assert.True(t, strings.HasPrefix(l.ID, "parent-"), l.ID)
	}
}

// TestFailedAttachLeavesNothing: an Attach failing at its last step (the
// nftables transaction, here refused for an over-long table name) undoes the
// veth, the port reservation and the lease it had made.
func TestFailedAttachLeavesNothing(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	cfg.Ports = []PortMapping{{HostPort: 18083, ContainerPort: 80}}
	bad := cfg
	bad.Table = strings.Repeat("t", 300)
	_, err := Attach(context.Background(), bad, newTestNS(t).path, "doomed")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nftables rules")
	assert.Empty(t, links(t, host, "ck"))
	leases, err := Leases(cfg)
	require.NoError(t, err)
	assert.Empty(t, leases)
	// The port was given back: a good Attach gets it.
	attach(t, cfg, newTestNS(t), "fine")
}

// TestOrphanKeepsLease: when the owner dies but its container lives on, the
// lease (and the address) stay taken until the container is gone too.
func TestOrphanKeepsLease(t *testing.T) {
	testutil.CheckLeaks(t)
	host, cfg := newHost(t)
	ctr := newTestNS(t)
	crashAfterAttach(t, host, cfg, ctr.path)

	require.NoError(t, Cleanup(context.Background(), cfg))
	leases, err := Leases(cfg)
	require.NoError(t, err)
	require.Len(t, leases, 1)
	assert.True(t, leases[0].Live, "the container still runs: its address must not be reused")
	assert.Equal(t, 1, taggedRules(t, cfg))

	ctr.close()
	require.NoError(t, Cleanup(context.Background(), cfg))
	leases, err = Leases(cfg)
	require.NoError(t, err)
	assert.Empty(t, leases)
	assert.Equal(t, 0, taggedRules(t, cfg))
	assert.Eventually(t, func() bool { return len(links(t, host, "ck")) == 0 }, 5*time.Second, 20*time.Millisecond)
}
