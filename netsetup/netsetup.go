package netsetup

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors callers branch on. Errors returned by this package wrap one
// of these where the class matters, and wrap the errno where a syscall failed.
var (
	// ErrNotSupported: the platform (not Linux) or the kernel lacks what was asked.
	ErrNotSupported = errors.New("netsetup: not supported")
	// ErrPortInUse: a published host port is already bound on the host side,
	// by another container or by any other program.
	ErrPortInUse = errors.New("netsetup: host port already in use")
	// ErrAddressesExhausted: every address of the subnet is leased to a live container.
	ErrAddressesExhausted = errors.New("netsetup: no free address in subnet")
	// ErrInvalidConfig: the Config (or a parsed flag) is inconsistent.
	ErrInvalidConfig = errors.New("netsetup: invalid config")
	// ErrBridgeInUse: RemoveBridge refuses while live containers hold leases on it.
	ErrBridgeInUse = errors.New("netsetup: bridge has live containers")
)

// Mode is how a container gets its network.
type Mode string

const (
	// ModeNone: a new network namespace with lo left down.
	ModeNone Mode = "none"
	// ModeLoopback: a new network namespace with lo up (the default).
	ModeLoopback Mode = "loopback"
	// ModeBridge: lo up plus eth0, a veth whose host end sits on a bridge,
	// an address from Config.Subnet, a default route via the bridge, outbound
	// NAT, published ports and an optional egress policy.
	ModeBridge Mode = "bridge"
	// ModeHost: no network namespace; the container shares the host's network
	// stack, every port it binds is a host port and it can reconfigure the
	// host's interfaces if it holds CAP_NET_ADMIN. Use only for trusted workloads.
	ModeHost Mode = "host"
	// ModeContainer: share another container's network namespace (the sidecar
	// pattern, --net container:ID). The caller resolves ID to its netns path.
	ModeContainer Mode = "container"
	// ModeNS: join an existing network namespace by path (--net ns:PATH).
	ModeNS Mode = "ns"
)

// DefaultBridge, DefaultSubnet and DefaultStateDir are used when the Config
// leaves the field empty.
const (
	DefaultBridge   = "cocoon0"
	DefaultStateDir = "/run/cocoon/net"
	// DefaultTable is the nftables table (family ip) holding every rule this
	// package writes; nothing outside it is touched.
	DefaultTable = "cocoon"
)

// DefaultSubnet is the bridge subnet when Config.Subnet is not set. It avoids
// Docker's 172.17.0.0/16 and Podman's 10.88.0.0/16 so the three can coexist.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/16")

// ParseMode parses a --net value: none, loopback, bridge, host,
// container:ID or ns:PATH. For the last two it returns the ID or the path.
func ParseMode(s string) (Mode, string, error) {
	switch s {
	case "", string(ModeLoopback):
		return ModeLoopback, "", nil
	case string(ModeNone), string(ModeBridge), string(ModeHost):
		return Mode(s), "", nil
	}
	if id, ok := strings.CutPrefix(s, "container:"); ok && id != "" {
		return ModeContainer, id, nil
	}
	if p, ok := strings.CutPrefix(s, "ns:"); ok && p != "" {
		return ModeNS, p, nil
	}
	return "", "", fmt.Errorf("network mode %q: want none, loopback, bridge, host, container:ID or ns:PATH: %w", s, ErrInvalidConfig)
}

// Protocol of a published port or egress rule.
type Protocol string

const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// PortMapping publishes ContainerPort of the container on HostPort of the host.
type PortMapping struct {
	// HostIP restricts the mapping to one host address; the zero value means
	// every local address of the host, 127.0.0.1 included.
	HostIP        netip.Addr `json:"hostIP,omitzero"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	Protocol      Protocol   `json:"protocol"`
}

func (p PortMapping) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.ContainerPort, p.proto())
	if p.HostIP.IsValid() {
		s = p.HostIP.String() + ":" + s
	}
	return s
}

func (p PortMapping) proto() Protocol {
	if p.Protocol == "" {
		return TCP
	}
	return p.Protocol
}

// ParsePortMapping parses the -p syntax: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp].
func ParsePortMapping(s string) (PortMapping, error) {
	bad := func(why string) (PortMapping, error) {
		return PortMapping{}, fmt.Errorf("port mapping %q: %s (want [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]): %w", s, why, ErrInvalidConfig)
	}
	var pm PortMapping
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		switch Protocol(rest[i+1:]) {
		case TCP, UDP:
			pm.Protocol = Protocol(rest[i+1:])
		default:
			return bad("protocol must be tcp or udp")
		}
		rest = rest[:i]
	} else {
		pm.Protocol = TCP
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
	case 3:
		ip, err := netip.ParseAddr(parts[0])
		if err != nil || !ip.Is4() {
			return bad("host IP must be an IPv4 address")
		}
		pm.HostIP = ip
		parts = parts[1:]
	default:
		return bad("wrong number of fields")
	}
	hp, err := parsePort(parts[0])
	if err != nil {
		return bad("host port: " + err.Error())
	}
	cp, err := parsePort(parts[1])
	if err != nil {
		return bad("container port: " + err.Error())
	}
	pm.HostPort, pm.ContainerPort = hp, cp
	return pm, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port in 1-65535", s)
	}
	return uint16(n), nil
}

// EgressRule allows a container's outbound traffic to Prefix, optionally only
// to one destination Port (TCP and UDP). When Config.EgressAllow is non-empty,
// everything not allowed by some rule is dropped.
type EgressRule struct {
	Prefix netip.Prefix `json:"prefix"`
	Port   uint16       `json:"port,omitempty"`
}

func (r EgressRule) String() string {
	if r.Port == 0 {
		return r.Prefix.String()
	}
	return fmt.Sprintf("%s:%d", r.Prefix, r.Port)
}

// ParseEgressRule parses the --egress-allow syntax: CIDR[:PORT] (a bare
// address means a /32).
func ParseEgressRule(s string) (EgressRule, error) {
	addr, port, hasPort := strings.Cut(s, ":")
	var r EgressRule
	if strings.Contains(addr, "/") {
		p, err := netip.ParsePrefix(addr)
		if err != nil || !p.Addr().Is4() {
			return r, fmt.Errorf("egress rule %q: %q is not an IPv4 CIDR: %w", s, addr, ErrInvalidConfig)
		}
		r.Prefix = p.Masked()
	} else {
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			return r, fmt.Errorf("egress rule %q: %q is not an IPv4 address: %w", s, addr, ErrInvalidConfig)
		}
		r.Prefix = netip.PrefixFrom(a, 32)
	}
	if hasPort {
		p, err := parsePort(port)
		if err != nil {
			return r, fmt.Errorf("egress rule %q: %v: %w", s, err, ErrInvalidConfig)
		}
		r.Port = p
	}
	return r, nil
}

// Config describes one container's network. The zero value is ModeLoopback.
type Config struct {
	Mode Mode
	// Bridge is the host bridge for ModeBridge (created when missing, reused
	// otherwise; at most 15 bytes). Default DefaultBridge.
	Bridge string
	// Subnet of the bridge; the bridge takes the first address, containers
	// the rest. Default DefaultSubnet. Subnets of different bridges must not overlap.
	Subnet netip.Prefix
	// Ports to publish (ModeBridge only).
	Ports []PortMapping
	// DNS servers for the container's /etc/resolv.conf; empty: the host's
	// servers, minus loopback ones a container cannot reach.
	DNS []string
	// DNSSearch domains for /etc/resolv.conf; empty: the host's.
	DNSSearch []string
	// EgressAllow, when non-empty, drops every outbound packet of the
	// container (routed or to the host) that no rule allows (ModeBridge only).
	EgressAllow []EgressRule
	// Hostname for /etc/hostname and /etc/hosts; default: the first 12 bytes of the id.
	Hostname string
	// Host is the host side, opened once with OpenHost and shared by many
	// containers (the fast way). Nil: HostNS is opened for each call.
	Host *Host
	// HostNS is the path of the network namespace that plays "the host"
	// (bridge, nftables, sysctls, port reservations live there), e.g. a
	// /run/netns/NAME bind mount or /proc/PID/ns/net, used when Host is
	// nil. Empty: the caller's own network namespace.
	HostNS string
	// StateDir holds the address leases (one directory per bridge; published
	// ports are reserved by held sockets, not files).
	// Use one StateDir per host namespace. Default DefaultStateDir.
	StateDir string
	// Table is the nftables table (family ip) of our rules. Default DefaultTable.
	Table string
	// MTU of eth0 and the host veth end; 0: the kernel default (1500).
	MTU int
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeLoopback
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet
	}
	c.Subnet = c.Subnet.Masked()
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first inconsistency of the config, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("network config: "+format+": %w", append(a, ErrInvalidConfig)...)
	}
	switch c.Mode {
	case ModeNone, ModeLoopback, ModeBridge, ModeHost, ModeContainer, ModeNS:
	default:
		return bad("unknown mode %q", c.Mode)
	}
	if c.Mode != ModeBridge && (len(c.Ports) > 0 || len(c.EgressAllow) > 0) {
		return bad("published ports and egress rules need mode bridge, not %s", c.Mode)
	}
	if len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/ \t\n") {
		return bad("bridge name %q: at most 15 bytes, no '/' or spaces", c.Bridge)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 30 || c.Subnet.Bits() < 8 {
		return bad("subnet %s: want an IPv4 prefix between /8 and /30", c.Subnet)
	}
	seen := map[string]bool{}
	for _, p := range c.Ports {
		if p.HostPort == 0 || p.ContainerPort == 0 {
			return bad("port mapping %s: ports must be 1-65535", p)
		}
		if p.HostIP.IsValid() && !p.HostIP.Is4() {
			return bad("port mapping %s: host IP must be IPv4", p)
		}
		if pr := p.proto(); pr != TCP && pr != UDP {
			return bad("port mapping %s: protocol must be tcp or udp", p)
		}
		k := fmt.Sprintf("%s/%d", p.proto(), p.HostPort)
		if seen[k] {
			return bad("host port %s published twice", k)
		}
		seen[k] = true
	}
	for _, r := range c.EgressAllow {
		if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
			return bad("egress rule %s: want an IPv4 prefix", r)
		}
	}
	for _, d := range c.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return bad("DNS server %q is not an IP address", d)
		}
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 576) {
		return bad("MTU %d: want 0 or at least 576", c.MTU)
	}
	return nil
}

func hostnameFor(cfg Config, id string) string {
	if cfg.Hostname != "" {
		return cfg.Hostname
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
