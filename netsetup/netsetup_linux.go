//go:build linux

package netsetup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Attachment is one container's network: what Attach created and Release
// removes. It is safe to call Release from any goroutine, once or more.
type Attachment struct {
	cfg      Config
	id       string
	hostname string
	addr     netip.Prefix
	gw       netip.Addr
	files    map[string][]byte

	mu       sync.Mutex
	released bool
	lease    *heldLease
	portFDs  []int
	host     *Host
	ownHost  bool // opened for this attachment: closed by Release
}

// Address is the container's eth0 address with the subnet's prefix length
// (ModeBridge; the zero Prefix otherwise).
func (a *Attachment) Address() netip.Prefix { return a.addr }

// Gateway is the bridge's address, the container's default route (ModeBridge).
func (a *Attachment) Gateway() netip.Addr { return a.gw }

// HostVeth is the name of the veth's host end (ModeBridge; "" otherwise).
func (a *Attachment) HostVeth() string {
	if a.lease == nil {
		return ""
	}
	return a.lease.lease.Veth
}

// Files returns the contents of /etc/resolv.conf, /etc/hosts and
// /etc/hostname for the container's root filesystem, keyed by path.
func (a *Attachment) Files() map[string][]byte { return maps.Clone(a.files) }

// Attach wires the network of a container whose network namespace is
// containerNetNS (typically /proc/PID/ns/net of its paused init) as cfg says.
// id names the container in leases and logs. On error nothing is left behind.
//
// ModeBridge costs, on the caller's side: a short trip of a locked thread
// into the container's namespace (lo up, a netlink socket opened there and
// used from here), one into the host's when ports are published (their
// reservations) or Config.Host is nil (its sockets), one netlink veth
// creation with the peer made directly inside the container's namespace as
// eth0, three netlink requests inside it (address, up, default route), one
// nftables dump (are the bridge's base rules there?) and, with ports or an
// egress policy, one nftables transaction.
//
// The Attachment holds no reference to the container's namespace, so the
// namespace still dies with the container.
func Attach(ctx context.Context, cfg Config, containerNetNS string, id string) (*Attachment, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Attachment{cfg: cfg, id: id, hostname: hostnameFor(cfg, id)}
	switch cfg.Mode {
	case ModeHost, ModeContainer, ModeNS, ModeNone:
		// Nothing to create: host mode has no namespace of its own, a joined
		// namespace belongs to its creator, and none keeps lo down.
	case ModeLoopback:
		ns, err := openNS(containerNetNS)
		if err != nil {
			return nil, err
		}
		defer ns.close()
		if ns.fd < 0 {
			return nil, fmt.Errorf("mode loopback needs the container's network namespace path: %w", ErrInvalidConfig)
		}
		if err := ns.run(LoopbackUp); err != nil {
			return nil, err
		}
	case ModeBridge:
		if containerNetNS == "" {
			return nil, fmt.Errorf("mode bridge needs the container's network namespace path: %w", ErrInvalidConfig)
		}
		if err := a.attachBridge(ctx, containerNetNS); err != nil {
			return nil, err
		}
	}
	a.files = containerFiles(cfg, a.hostname, a.addr.Addr())
	return a, nil
}

// undoStack holds the undo steps of a partly done Attach, run in reverse
// when it fails.
type undoStack []func() error

func (u *undoStack) push(f func() error) { *u = append(*u, f) }
func (u *undoStack) run() error {
	var errs error
	for i := len(*u) - 1; i >= 0; i-- {
		errs = errors.Join(errs, (*u)[i]())
	}
	*u = nil
	return errs
}

func (a *Attachment) attachBridge(ctx context.Context, containerNetNS string) (err error) {
	cfg := a.cfg
	log := cfg.Logger
	var undo undoStack
	defer func() {
		if err != nil {
			if uerr := undo.run(); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo after failed attach: %w", uerr))
			}
		}
	}()

	ctr, err := openNS(containerNetNS)
	if err != nil {
		return err
	}
	defer ctr.close()
	if a.host, a.ownHost, err = hostFor(cfg); err != nil {
		return err
	}
	undo.push(func() error { return a.closeHandles() })
	if sameNS(ctr, a.host.ns) {
		return fmt.Errorf("mode bridge: %s is the host's own network namespace (was the container started without CLONE_NEWNET?): %w",
			containerNetNS, ErrInvalidConfig)
	}

	// Published ports are reserved first, so a taken port fails before
	// anything else is made. The sockets must be made in the host namespace.
	if len(cfg.Ports) > 0 {
		err = a.host.ns.run(func() error {
			for _, p := range cfg.Ports {
				fd, err := reservePort(p)
				if err != nil {
					return err
				}
				a.portFDs = append(a.portFDs, fd)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	// Container namespace: lo up and a netlink socket for eth0.
	var ch *netlink.Handle
	err = ctr.run(func() error {
		if err := LoopbackUp(); err != nil {
			return err
		}
		var err error
		if ch, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("netlink socket in container namespace: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer ch.Close()

	st, err := openStore(cfg.StateDir, cfg.Bridge)
	if err != nil {
		return err
	}
	defer st.close()
	c := newChains(cfg.Table, cfg.Bridge)
	reclaim := func(l Lease) error { return a.host.undoLease(c, l) }

	l := Lease{ID: a.id, Owner: os.Getpid(), Ports: cfg.Ports, Egress: len(cfg.EgressAllow) > 0, Created: time.Now().UTC()}
	identify(&l, containerNetNS)
	var br netlink.Link
	err = st.withLock(func() error {
		var err error
		if br, err = ensureBridge(a.host, cfg); err != nil {
			return err
		}
		if len(cfg.Ports) > 0 {
			// A crashed owner's DNAT rules for these ports would shadow ours.
			if n, err := st.reclaimStale(reclaim); err != nil {
				log.Debug("netsetup: reclaim stale leases", "reclaimed", n, "err", err)
			}
		}
		a.lease, err = st.allocate(cfg.Subnet, l)
		if errors.Is(err, ErrAddressesExhausted) {
			if n, _ := st.reclaimStale(reclaim); n > 0 {
				a.lease, err = st.allocate(cfg.Subnet, l)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	undo.push(func() error { return a.lease.release() })
	ip := a.lease.lease.IP
	a.addr = netip.PrefixFrom(ip, cfg.Subnet.Bits())
	a.gw = cfg.Subnet.Addr().Next()
	if err := ctx.Err(); err != nil {
		return err
	}

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: a.lease.lease.Veth, MasterIndex: br.Attrs().Index, Flags: net.FlagUp, MTU: cfg.MTU},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ctr.fd),
	}
	hh := a.host.hh
	if err := hh.LinkAdd(veth); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create veth %s (peer eth0 in %s): %w", veth.Name, containerNetNS, err)
		}
		// A leftover of an owner whose lease is gone: the name is ours now.
		if old, lerr := hh.LinkByName(veth.Name); lerr == nil {
			_ = hh.LinkDel(old)
		}
		if err := hh.LinkAdd(veth); err != nil {
			return fmt.Errorf("create veth %s (peer eth0 in %s): %w", veth.Name, containerNetNS, err)
		}
	}
	undo.push(func() error { return a.deleteVeth() })
	if len(cfg.Ports) > 0 {
		// A container reaching its own published port through a host
		// address gets its packets back out of the bridge port they came
		// in by, which the bridge only does in hairpin mode.
		if err := hh.LinkSetHairpin(veth, true); err != nil {
			return fmt.Errorf("hairpin mode on %s: %w", veth.Name, err)
		}
	}

	eth0, err := ch.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0 in %s: %w", containerNetNS, err)
	}
	if err := ch.AddrAdd(eth0, &netlink.Addr{IPNet: ipNet(a.addr)}); err != nil {
		return fmt.Errorf("address %s on eth0: %w", a.addr, err)
	}
	if err := ch.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("set eth0 up: %w", err)
	}
	gw := a.gw.As4()
	if err := ch.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(gw[:]), Scope: netlink.SCOPE_UNIVERSE}); err != nil {
		return fmt.Errorf("default route via %s: %w", a.gw, err)
	}

	err = a.host.withNFT(func(cc *nftables.Conn) error {
		// Base rules are rewritten only when missing: rewriting them deletes
		// rules, and deleted rules make the next close of any nftables
		// socket wait for an RCU grace period.
		if !baseOK(cc, c) {
			queueBase(cc, c, cfg.Bridge, cfg.Subnet)
		}
		queuePorts(cc, c, ip, cfg.Ports)
		if len(cfg.EgressAllow) > 0 {
			queueEgress(cc, c, ip, cfg.EgressAllow)
		}
		return cc.Flush()
	})
	if err != nil {
		return fmt.Errorf("nftables rules for %s in table %s: %w", ip, cfg.Table, err)
	}
	if len(cfg.Ports) > 0 || len(cfg.EgressAllow) > 0 {
		undo.push(func() error { return a.host.deleteTagged(c, ip) })
	}
	log.Debug("netsetup: attached", "id", a.id, "addr", a.addr, "veth", veth.Name, "ports", len(cfg.Ports))
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().As4()
	return &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}
}

// ensureBridge returns the bridge, creating and configuring it when missing
// (or when a creator died before setting it up, which leaves it down).
func ensureBridge(host *Host, cfg Config) (netlink.Link, error) {
	hh := host.hh
	l, err := hh.LinkByName(cfg.Bridge)
	if err == nil {
		if l.Type() != "bridge" {
			return nil, fmt.Errorf("link %s exists and is a %s, not a bridge: %w", cfg.Bridge, l.Type(), ErrInvalidConfig)
		}
		if l.Attrs().Flags&net.FlagUp != 0 {
			return l, host.checkBridgeAddr(l, cfg)
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("look up bridge %s: %w", cfg.Bridge, err)
		}
		b := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: cfg.Bridge, MTU: cfg.MTU}}
		if err := hh.LinkAdd(b); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", cfg.Bridge, err)
		}
		if l, err = hh.LinkByName(cfg.Bridge); err != nil {
			return nil, fmt.Errorf("look up bridge %s: %w", cfg.Bridge, err)
		}
	}
	gw := netip.PrefixFrom(cfg.Subnet.Addr().Next(), cfg.Subnet.Bits())
	if err := hh.AddrReplace(l, &netlink.Addr{IPNet: ipNet(gw)}); err != nil {
		return nil, fmt.Errorf("address %s on bridge %s: %w", gw, cfg.Bridge, err)
	}
	// ip_forward: routed egress and DNAT from other hosts. route_localnet on
	// the bridge only: lets 127.0.0.1:HOSTPORT be DNATed out of it (the raw
	// chain drops what a container sends to 127.0.0.0/8, the hole this
	// setting would otherwise open).
	err = host.ns.run(func() error {
		return errors.Join(
			writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"),
			writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", cfg.Bridge, "route_localnet"), "1"))
	})
	if err != nil {
		return nil, err
	}
	if err := hh.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("set bridge %s up: %w", cfg.Bridge, err)
	}
	return l, nil
}

// checkBridgeAddr refuses a bridge that does not carry the subnet's gateway
// address (one made by someone else, or for another subnet): its containers
// would have no route. A Host checks each bridge once.
func (h *Host) checkBridgeAddr(l netlink.Link, cfg Config) error {
	key := cfg.Bridge + " " + cfg.Subnet.String()
	h.mu.Lock()
	ok := h.bridgesOK[key]
	h.mu.Unlock()
	if ok {
		return nil
	}
	gw := netip.PrefixFrom(cfg.Subnet.Addr().Next(), cfg.Subnet.Bits())
	addrs, err := h.hh.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("addresses of bridge %s: %w", cfg.Bridge, err)
	}
	var have []string
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		if netip.PrefixFrom(ip, ones) == gw {
			h.mu.Lock()
			if h.bridgesOK == nil {
				h.bridgesOK = map[string]bool{}
			}
			h.bridgesOK[key] = true
			h.mu.Unlock()
			return nil
		}
		have = append(have, a.IPNet.String())
	}
	return fmt.Errorf("bridge %s exists with addresses %v, not %s: made by another program or for another subnet: %w",
		cfg.Bridge, have, gw, ErrInvalidConfig)
}

// undoLease removes the host-side resources a (stale) lease names.
func (h *Host) undoLease(c chains, l Lease) error {
	return errors.Join(h.deleteTagged(c, l.IP), h.flushConntrack(l), deleteLink(h.hh, l.Veth))
}

// flushConntrack forgets the flows of a container that published UDP ports.
// A UDP "connection" to a published port stays tracked (and DNATed to the
// old address) as long as the client keeps sending, so a successor on the
// same port would never see that client. TCP flows end by themselves. This
// is what Docker does on release, too.
func (h *Host) flushConntrack(l Lease) error {
	udp := false
	for _, p := range l.Ports {
		udp = udp || p.proto() == UDP
	}
	if !udp {
		return nil
	}
	f := &netlink.ConntrackFilter{}
	a := l.IP.As4()
	if err := f.AddIP(netlink.ConntrackReplySrcIP, net.IP(a[:])); err != nil {
		return err
	}
	if _, err := h.hh.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f); err != nil {
		return fmt.Errorf("conntrack flush for %s: %w", l.IP, err)
	}
	return nil
}

func (h *Host) deleteTagged(c chains, ip netip.Addr) error {
	return h.withNFT(func(cc *nftables.Conn) error {
		_, err := deleteTagged(cc, c, ip)
		return err
	})
}

func deleteLink(hh *netlink.Handle, name string) error {
	l, err := hh.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if err := hh.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func (a *Attachment) deleteVeth() error {
	return deleteLink(a.host.hh, a.lease.lease.Veth)
}

func (a *Attachment) closeHandles() error {
	for _, fd := range a.portFDs {
		unix.Close(fd)
	}
	a.portFDs = nil
	if a.ownHost && a.host != nil {
		a.ownHost = false
		return a.host.Close()
	}
	return nil
}

// Release removes what Attach created: the published ports' and egress
// rules, then the veth pair, then the port reservations and the address lease.
//
// Call it after the container's init has exited and been reaped (Delete after
// Wait): then the veth pair goes away with the container's namespace and
// Release does not wait for it (~30 ms here). Called while the init still
// runs, it deletes the pair itself and pays that. Containers sharing the
// namespace (ModeContainer) must be gone first: their eth0 is this one. The bridge and its base
// rules stay for the next container (RemoveBridge removes them). Calling it
// again is a no-op.
func (a *Attachment) Release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.released {
		return nil
	}
	a.released = true
	if a.lease == nil {
		return nil
	}
	var errs error
	l := a.lease.lease
	if len(l.Ports) > 0 || l.Egress {
		errs = errors.Join(errs, a.host.deleteTagged(newChains(a.cfg.Table, a.cfg.Bridge), l.IP))
	}
	// After the rules are gone, so no new flow is DNATed to it meanwhile.
	errs = errors.Join(errs, a.host.flushConntrack(l))
	if l.PID == 0 || containerAlive(l) {
		errs = errors.Join(errs, a.deleteVeth())
	}
	// Otherwise the container's init is gone and the kernel deletes the veth
	// pair with its namespace, batched with other dying namespaces on its own
	// workqueue: deleting it here would block this call ~30 ms on
	// rcu_barrier for nothing. Should the old host end still exist when its
	// address comes round again, Attach deletes it then.
	errs = errors.Join(errs, a.closeHandles())
	if errs != nil {
		// Keep the lease file: a later Cleanup (or Attach) reclaims what is
		// left; our lock on it goes away with the close below.
		return errors.Join(errs, a.lease.f.Close())
	}
	return a.lease.release()
}

// Cleanup reclaims what crashed owners left on cfg's bridge: for every lease
// whose owner is gone and whose container is no longer alive, the published
// port and egress rules, the veth and the lease itself. Live leases, of this
// process or others, are not touched. Attach does the same lazily (when it
// publishes ports or runs out of addresses).
func Cleanup(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(cfg.StateDir, cfg.Bridge)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	host, own, err := hostFor(cfg)
	if err != nil {
		return err
	}
	if own {
		defer func() { _ = host.Close() }()
	}
	st, err := openStore(cfg.StateDir, cfg.Bridge)
	if err != nil {
		return err
	}
	defer st.close()
	c := newChains(cfg.Table, cfg.Bridge)
	return st.withLock(func() error {
		n, err := st.reclaimStale(func(l Lease) error { return host.undoLease(c, l) })
		cfg.Logger.Debug("netsetup: cleanup", "bridge", cfg.Bridge, "reclaimed", n, "err", err)
		return err
	})
}

// Leases lists the address leases of cfg's bridge, with Live telling whether
// the owner (or, failing that, the container) is still alive. Stale leases are
// listed, not reclaimed: Cleanup does that.
func Leases(cfg Config) ([]Lease, error) {
	cfg = cfg.withDefaults()
	dir := filepath.Join(cfg.StateDir, cfg.Bridge)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	st, err := openStore(cfg.StateDir, cfg.Bridge)
	if err != nil {
		return nil, err
	}
	defer st.close()
	var out []Lease
	err = st.withLock(func() error {
		names, err := st.leaseNames()
		if err != nil {
			return err
		}
		for _, n := range names {
			state, h, l, err := st.probe(n)
			if err != nil {
				return err
			}
			if h != nil {
				h.f.Close()
			}
			if state == leaseGone {
				continue
			}
			l.Live = state == leaseLive || state == leaseOrphan
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// RemoveBridge removes what Attach keeps for reuse: the bridge's nftables
// chains (and the table once no bridge uses it), the bridge link and its lease
// directory. It reclaims stale leases first and refuses with ErrBridgeInUse
// while a live container holds one.
func RemoveBridge(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := Cleanup(ctx, cfg); err != nil {
		return err
	}
	leases, err := Leases(cfg)
	if err != nil {
		return err
	}
	if len(leases) > 0 {
		return fmt.Errorf("remove bridge %s: %d leases held (first %s by %q): %w",
			cfg.Bridge, len(leases), leases[0].IP, leases[0].ID, ErrBridgeInUse)
	}
	host, own, err := hostFor(cfg)
	if err != nil {
		return err
	}
	if own {
		defer func() { _ = host.Close() }()
	}
	var errs error
	c := newChains(cfg.Table, cfg.Bridge)
	errs = host.withNFT(func(cc *nftables.Conn) error {
		chs, err := cc.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return fmt.Errorf("nftables list chains: %w", err)
		}
		ours, others := 0, 0
		mine := map[string]bool{}
		for _, ch := range append(c.base(), c.regular()...) {
			mine[ch.Name] = true
		}
		for _, ch := range chs {
			if ch.Table.Name != cfg.Table {
				continue
			}
			if mine[ch.Name] {
				ours++
			} else {
				others++
			}
		}
		if ours == 0 {
			return nil
		}
		queueRemoveBridge(cc, c)
		if others == 0 {
			cc.DelTable(c.table)
		}
		if err := cc.Flush(); err != nil {
			return fmt.Errorf("nftables remove chains of %s: %w", cfg.Bridge, err)
		}
		return nil
	})
	errs = errors.Join(errs, deleteLink(host.hh, cfg.Bridge))
	if err := os.RemoveAll(filepath.Join(cfg.StateDir, cfg.Bridge)); err != nil {
		errs = errors.Join(errs, err)
	}
	return errs
}

// LoopbackUp sets lo up in the network namespace of the calling thread. The
// container's init can call it on its locked thread; Attach already does it
// for ModeLoopback and ModeBridge from the parent.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lo up: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: SIOCGIFFLAGS: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: SIOCSIFFLAGS: %w", err)
	}
	return nil
}
