//go:build linux

package netsetup

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The rules live in one table of family ip (default "cocoon"); each bridge
// owns a set of chains named after it, so bridges never share a rule and a
// bridge's chains can be rewritten or removed without looking at others':
//
//	<br>-pre   nat    prerouting  -100  fib daddr type local jump <br>-ports
//	<br>-out   nat    output      -100  fib daddr type local jump <br>-ports
//	<br>-ports (regular)                per container: [ip daddr H] l4proto P th dport HP dnat to CIP:CP
//	<br>-post  nat    postrouting  100  ip saddr SUBNET oifname != br masquerade
//	                                    oifname br ip saddr 127.0.0.0/8 masquerade
//	                                    oifname br ip saddr SUBNET ct status dnat masquerade (hairpin)
//	<br>-raw   filter prerouting  -300  iifname br ip daddr 127.0.0.0/8 drop
//	<br>-fwd   filter forward        0  iifname br ct state established,related accept; iifname br jump <br>-egress
//	<br>-in    filter input          0  (the same, for traffic to the host itself)
//	<br>-egress (regular)               per container with a policy: allow rules, then ip saddr CIP drop
//
// Per-container rules carry a comment "cocoon <ip>" in their user data: that
// tag, derived from the lease, is how Release and Cleanup find them.

type chains struct {
	table                                       *nftables.Table
	pre, out, ports, post, raw, fwd, in, egress *nftables.Chain
}

func newChains(table, br string) chains {
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	base := func(suffix string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: br + "-" + suffix, Table: t, Type: typ, Hooknum: hook, Priority: prio}
	}
	return chains{
		table:  t,
		pre:    base("pre", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest),
		out:    base("out", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest),
		post:   base("post", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		raw:    base("raw", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw),
		fwd:    base("fwd", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter),
		in:     base("in", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter),
		ports:  &nftables.Chain{Name: br + "-ports", Table: t},
		egress: &nftables.Chain{Name: br + "-egress", Table: t},
	}
}

func (c chains) base() []*nftables.Chain {
	return []*nftables.Chain{c.pre, c.out, c.post, c.raw, c.fwd, c.in}
}
func (c chains) regular() []*nftables.Chain {
	return []*nftables.Chain{c.ports, c.egress}
}

// queueBase queues the table, the bridge's chains and its base rules. Base
// chains are flushed and refilled in the same transaction, so the batch is
// idempotent (no duplicate rules however often it runs) and atomic.
func queueBase(cc *nftables.Conn, c chains, br string, subnet netip.Prefix) {
	cc.AddTable(c.table)
	for _, ch := range c.regular() {
		cc.AddChain(ch)
	}
	for _, ch := range c.base() {
		cc.AddChain(ch)
		cc.FlushChain(ch)
	}
	add := func(ch *nftables.Chain, e ...expr.Any) {
		cc.AddRule(&nftables.Rule{Table: c.table, Chain: ch, Exprs: e})
	}
	jumpPorts := append(fibLocal(), &expr.Verdict{Kind: expr.VerdictJump, Chain: c.ports.Name})
	add(c.pre, jumpPorts...)
	add(c.out, jumpPorts...)
	add(c.post, cat(ipAddr(12, subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), []expr.Any{&expr.Masq{}})...)
	add(c.post, cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ipAddr(12, loopbackNet), []expr.Any{&expr.Masq{}})...)
	// Hairpin: a container reaching a published port through a host
	// address is DNATed back onto the bridge; without this a container
	// reaching its own port would get a packet from its own address, which
	// it drops. No iifname match: with br_netfilter (built in and on here)
	// such a packet is bridged, and the postrouting hook br_netfilter runs
	// has no input device.
	add(c.post, cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ipAddr(12, subnet),
		ctStatusDNAT(), []expr.Any{&expr.Masq{}})...)
	add(c.raw, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ipAddr(16, loopbackNet), verdict(expr.VerdictDrop))...)
	for _, ch := range []*nftables.Chain{c.fwd, c.in} {
		add(ch, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ctEstablished(), verdict(expr.VerdictAccept))...)
		add(ch, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: c.egress.Name}})...)
	}
}

var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

func tag(ip netip.Addr) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, "cocoon "+ip.String())
}

// queuePorts queues the DNAT rules of a container's published ports.
func queuePorts(cc *nftables.Conn, c chains, ip netip.Addr, ports []PortMapping) {
	for _, p := range ports {
		var e []expr.Any
		if p.HostIP.IsValid() {
			e = append(e, ipAddr(16, netip.PrefixFrom(p.HostIP, 32))...)
		}
		e = append(e, l4(p.proto(), p.HostPort)...)
		a := ip.As4()
		e = append(e,
			&expr.Immediate{Register: 1, Data: a[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		// Inserted at the head: should a crashed owner's rule for the same
		// port still be there (not yet reclaimed), the live one wins.
		cc.InsertRule(&nftables.Rule{Table: c.table, Chain: c.ports, Exprs: e, UserData: tag(ip)})
	}
}

// queueEgress queues a container's egress policy: what is allowed, then a drop.
func queueEgress(cc *nftables.Conn, c chains, ip netip.Addr, allow []EgressRule) {
	src := ipAddr(12, netip.PrefixFrom(ip, 32))
	for _, r := range allow {
		dst := ipAddr(16, r.Prefix)
		if r.Port == 0 {
			cc.AddRule(&nftables.Rule{Table: c.table, Chain: c.egress, UserData: tag(ip),
				Exprs: cat(src, dst, verdict(expr.VerdictAccept))})
			continue
		}
		for _, pr := range []Protocol{TCP, UDP} {
			cc.AddRule(&nftables.Rule{Table: c.table, Chain: c.egress, UserData: tag(ip),
				Exprs: cat(src, dst, l4(pr, r.Port), verdict(expr.VerdictAccept))})
		}
	}
	cc.AddRule(&nftables.Rule{Table: c.table, Chain: c.egress, UserData: tag(ip), Exprs: cat(src, verdict(expr.VerdictDrop))})
}

// deleteTagged deletes the per-container rules of ip in one transaction.
// A missing table or chain means there is nothing to delete.
func deleteTagged(cc *nftables.Conn, c chains, ip netip.Addr) (int, error) {
	want := "cocoon " + ip.String()
	n := 0
	for _, ch := range c.regular() {
		rules, err := cc.GetRules(c.table, ch)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return 0, fmt.Errorf("nftables list %s %s: %w", c.table.Name, ch.Name, err)
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == want {
				if err := cc.DelRule(r); err != nil {
					return 0, err
				}
				n++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := cc.Flush(); err != nil {
		return 0, fmt.Errorf("nftables delete rules of %s: %w", ip, err)
	}
	return n, nil
}

// countTagged counts per-container rules (any address) in the bridge's chains.
func countTagged(cc *nftables.Conn, c chains) (int, error) {
	n := 0
	for _, ch := range c.regular() {
		rules, err := cc.GetRules(c.table, ch)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return 0, err
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && strings.HasPrefix(s, "cocoon ") {
				n++
			}
		}
	}
	return n, nil
}

// queueRemoveBridge queues the deletion of every chain of the bridge (base
// chains first: they reference the regular ones).
func queueRemoveBridge(cc *nftables.Conn, c chains) {
	for _, ch := range c.base() {
		cc.FlushChain(ch)
		cc.DelChain(ch)
	}
	for _, ch := range c.regular() {
		cc.FlushChain(ch)
		cc.DelChain(ch)
	}
}

func isNotFound(err error) bool {
	// mdlayher/netlink reports ENOENT as an *OpError wrapping the errno; the
	// nftables package sometimes formats it with %v, losing the chain.
	return errors.Is(err, unix.ENOENT) || strings.Contains(err.Error(), "no such file or directory")
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

// ipAddr matches the IPv4 source (offset 12) or destination (16) against p.
func ipAddr(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	a := p.Addr().As4()
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
	if p.Bits() < 32 {
		m := net4Mask(p.Bits())
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m[:], Xor: []byte{0, 0, 0, 0}})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
}

func net4Mask(bits int) [4]byte {
	var m [4]byte
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

func l4(p Protocol, port uint16) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if p == UDP {
		proto = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// baseOK reports whether the bridge's base rules are in place (they are
// written in one transaction, so the last chain's tells for all).
func baseOK(cc *nftables.Conn, c chains) bool {
	rules, err := cc.GetRules(c.table, c.in)
	return err == nil && len(rules) == 2
}

// ipsDstNAT is IPS_DST_NAT of enum ip_conntrack_status (linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

func ctStatusDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}
