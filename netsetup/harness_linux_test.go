//go:build linux

package netsetup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// testNS is a network namespace owned by a locked thread of the test
// process (testutil.NetNS): the "host" of a test, or a stand-in for a
// container's init.
type testNS struct {
	*testutil.NetNS
	path string
}

func newTestNS(tb testing.TB) *testNS { return wrapNS(testutil.NewNetNS(tb)) }

// joinNS is a second thread in the namespace at path: a sidecar.
func joinNS(tb testing.TB, path string) *testNS { return wrapNS(testutil.JoinNetNS(tb, path)) }

func wrapNS(n *testutil.NetNS) *testNS { return &testNS{NetNS: n, path: n.Path} }

func (ns *testNS) do(f func() error) error { return ns.Do(f) }
func (ns *testNS) close()                  { ns.Close() }

// newHost makes a namespace playing the host: lo up and an "uplink" dummy
// interface with 198.51.100.1/24, the host's own non-loopback address (a
// veth pair inside the host namespace: this kernel has no dummy driver).
func newHost(tb testing.TB) (*testNS, Config) {
	tb.Helper()
	testutil.RequireRoot(tb)
	host := newTestNS(tb)
	require.NoError(tb, host.do(func() error {
		if err := LoopbackUp(); err != nil {
			return err
		}
		d := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink0"}, PeerName: "uplink1"}
		if err := netlink.LinkAdd(d); err != nil {
			return err
		}
		if err := netlink.AddrAdd(d, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("198.51.100.1/24"))}); err != nil {
			return err
		}
		return netlink.LinkSetUp(d)
	}))
	return host, Config{
		Mode:     ModeBridge,
		Bridge:   "nstest0",
		Subnet:   netip.MustParsePrefix("10.99.0.0/24"),
		HostNS:   host.path,
		StateDir: tb.TempDir(),
	}
}

// serve listens on addr inside ns and answers every connection with a
// greeting naming who; the listener closes at the end of the test.
func serve(tb testing.TB, ns *testNS, addr, who string) {
	tb.Helper()
	var ln net.Listener
	require.NoError(tb, ns.do(func() (err error) { ln, err = net.Listen("tcp4", addr); return err }))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello from "+who+"\n")
			c.Close()
		}
	}()
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
}

// fetch connects from inside ns to addr and returns the greeting.
func fetch(ns *testNS, addr string) (string, error) { return fetchTimeout(ns, addr, 2*time.Second) }

func fetchTimeout(ns *testNS, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := ns.do(func() (err error) { c, err = net.DialTimeout("tcp4", addr, timeout); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// links lists the host namespace's links whose name starts with prefix.
func links(tb testing.TB, ns *testNS, prefix string) []string {
	tb.Helper()
	var out []string
	require.NoError(tb, ns.do(func() error {
		ls, err := netlink.LinkList()
		for _, l := range ls {
			if strings.HasPrefix(l.Attrs().Name, prefix) {
				out = append(out, l.Attrs().Name)
			}
		}
		return err
	}))
	return out
}

// eth0Addr returns eth0's IPv4 address inside ns.
func eth0Addr(tb testing.TB, ns *testNS) netip.Prefix {
	tb.Helper()
	var p netip.Prefix
	require.NoError(tb, ns.do(func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			return errors.New("eth0 is down")
		}
		as, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil || len(as) != 1 {
			return fmt.Errorf("eth0 addresses %v: %v", as, err)
		}
		a, _ := netip.AddrFromSlice(as[0].IP.To4())
		ones, _ := as[0].Mask.Size()
		p = netip.PrefixFrom(a, ones)
		return nil
	}))
	return p
}

// taggedRules counts per-container nftables rules of cfg's bridge.
func taggedRules(tb testing.TB, cfg Config) int {
	tb.Helper()
	cfg = cfg.withDefaults()
	host, err := OpenHost(cfg.HostNS)
	require.NoError(tb, err)
	defer host.Close()
	var n int
	require.NoError(tb, host.withNFT(func(cc *nftables.Conn) (err error) {
		n, err = countTagged(cc, newChains(cfg.Table, cfg.Bridge))
		return err
	}))
	return n
}
