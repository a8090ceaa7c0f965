package container

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/netsetup"
)

// Network modes of AnnotationNetwork beyond loopback and none.
const (
	// NetworkBridge: a veth pair, the host end on a bridge (created or
	// reused), the container end eth0 with an address from the bridge's subnet,
	// a default route, outbound NAT and published ports (package netsetup).
	NetworkBridge = "bridge"
	// NetworkHost shares the caller's network namespace: the container sees
	// and can use every interface of the host. Only for trusted workloads.
	NetworkHost = "host"
)

// AnnotationNetworkConfig is the JSON networkConfig of a bridge container.
const AnnotationNetworkConfig = "cocoon.network.config"

// networkConfig is the serializable part of netsetup.Config.
type networkConfig struct {
	Bridge      string   `json:"bridge,omitempty"`
	Subnet      string   `json:"subnet,omitempty"`
	Ports       []string `json:"ports,omitempty"`
	DNS         []string `json:"dns,omitempty"`
	DNSSearch   []string `json:"dnsSearch,omitempty"`
	EgressAllow []string `json:"egressAllow,omitempty"`
	HostNS      string   `json:"hostNS,omitempty"`
	StateDir    string   `json:"stateDir,omitempty"`
	MTU         int      `json:"mtu,omitempty"`
}

func (b *Builder) networkConfig() networkConfig {
	var nc networkConfig
	if raw := b.spec.Annotations[AnnotationNetworkConfig]; raw != "" {
		json.Unmarshal([]byte(raw), &nc)
	}
	return nc
}

func (b *Builder) setNetworkConfig(edit func(*networkConfig)) *Builder {
	nc := b.networkConfig()
	edit(&nc)
	raw, _ := json.Marshal(nc)
	b.spec.Annotations[AnnotationNetworkConfig] = string(raw)
	if b.spec.Annotations[AnnotationNetwork] != NetworkBridge {
		b.WithNetwork(NetworkBridge)
	}
	return b
}

// WithPublish publishes container ports on the host, each
// "[HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]" (docker run -p). It implies bridge
// networking. A host port already taken is an error at start.
func (b *Builder) WithPublish(ports ...string) *Builder {
	for _, p := range ports {
		if _, err := netsetup.ParsePortMapping(p); err != nil {
			return b.fail("publish %q: %w", p, err)
		}
	}
	return b.setNetworkConfig(func(nc *networkConfig) { nc.Ports = append(nc.Ports, ports...) })
}

// WithBridge chooses the bridge and its subnet (defaults: cocoon0,
// 10.77.0.0/16). It implies bridge networking.
func (b *Builder) WithBridge(name, subnet string) *Builder {
	if subnet != "" {
		if _, err := netip.ParsePrefix(subnet); err != nil {
			return b.fail("subnet %q: %w", subnet, err)
		}
	}
	return b.setNetworkConfig(func(nc *networkConfig) { nc.Bridge, nc.Subnet = name, subnet })
}

// WithDNS sets the nameservers of the container's /etc/resolv.conf (bridge).
func (b *Builder) WithDNS(servers ...string) *Builder {
	for _, s := range servers {
		if _, err := netip.ParseAddr(s); err != nil {
			return b.fail("dns server %q: %w", s, err)
		}
	}
	return b.setNetworkConfig(func(nc *networkConfig) { nc.DNS = append(nc.DNS, servers...) })
}

// WithEgressAllow allows outbound traffic only to the given "CIDR[:PORT]"
// destinations; everything else the container sends is dropped (bridge).
func (b *Builder) WithEgressAllow(rules ...string) *Builder {
	for _, r := range rules {
		if _, err := netsetup.ParseEgressRule(r); err != nil {
			return b.fail("egress rule %q: %w", r, err)
		}
	}
	return b.setNetworkConfig(func(nc *networkConfig) { nc.EgressAllow = append(nc.EgressAllow, rules...) })
}

// WithNetworkHost makes h's network namespace play "the host" for bridge
// networking (bridge, NAT and port rules live there), with the address leases
// kept in stateDir (one per host namespace). The caller owns h: it may serve
// many containers and must outlive them. Tests use it to leave the real
// host alone. Without it, bridge networking uses the caller's own network
// namespace through a handle opened once per process.
func (b *Builder) WithNetworkHost(h *netsetup.Host, stateDir string) *Builder {
	if h == nil || !filepath.IsAbs(stateDir) {
		return b.fail("network host: need a host handle and an absolute state dir (got %q)", stateDir)
	}
	b.netHost = h
	return b.setNetworkConfig(func(nc *networkConfig) { nc.StateDir = stateDir })
}

// WithNetworkHostNS is WithNetworkHost by path (a /run/netns/NAME bind mount
// or /proc/PID/ns/net): the container opens its own handle and closes it on
// Delete (a few milliseconds per start; share a handle for speed).
func (b *Builder) WithNetworkHostNS(nsPath, stateDir string) *Builder {
	if !filepath.IsAbs(nsPath) || !filepath.IsAbs(stateDir) {
		return b.fail("network host namespace %q and state dir %q: must be absolute", nsPath, stateDir)
	}
	return b.setNetworkConfig(func(nc *networkConfig) { nc.HostNS, nc.StateDir = nsPath, stateDir })
}

// netsetupConfig turns the spec's network annotations into a netsetup.Config.
func netsetupConfig(s *specs.Spec) (netsetup.Config, error) {
	cfg := netsetup.Config{Mode: netsetup.ModeBridge, Hostname: s.Hostname}
	var nc networkConfig
	if raw := s.Annotations[AnnotationNetworkConfig]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &nc); err != nil {
			return cfg, fmt.Errorf("annotation %s: %w", AnnotationNetworkConfig, err)
		}
	}
	cfg.Bridge, cfg.DNS, cfg.DNSSearch, cfg.HostNS, cfg.StateDir, cfg.MTU = nc.Bridge, nc.DNS, nc.DNSSearch, nc.HostNS, nc.StateDir, nc.MTU
	if nc.Subnet != "" {
		p, err := netip.ParsePrefix(nc.Subnet)
		if err != nil {
			return cfg, fmt.Errorf("subnet %q: %w", nc.Subnet, err)
		}
		cfg.Subnet = p
	}
	for _, p := range nc.Ports {
		m, err := netsetup.ParsePortMapping(p)
		if err != nil {
			return cfg, fmt.Errorf("publish %q: %w", p, err)
		}
		cfg.Ports = append(cfg.Ports, m)
	}
	for _, r := range nc.EgressAllow {
		e, err := netsetup.ParseEgressRule(r)
		if err != nil {
			return cfg, fmt.Errorf("egress rule %q: %w", r, err)
		}
		cfg.EgressAllow = append(cfg.EgressAllow, e)
	}
	return cfg, cfg.Validate()
}

// validateNetwork checks the network mode against the namespaces.
func validateNetwork(s *specs.Spec) error {
	mode := s.Annotations[AnnotationNetwork]
	var nss []specs.LinuxNamespace
	if s.Linux != nil {
		nss = s.Linux.Namespaces
	}
	switch mode {
	case "", NetworkLoopback, NetworkNone:
		return nil
	case NetworkHost:
		if namespace.Has(nss, namespace.Network) {
			return fmt.Errorf("network mode host: the spec also asks for a network namespace")
		}
		return nil
	case NetworkBridge:
		if !hasNew(nss, namespace.Network) {
			return fmt.Errorf("network mode bridge: needs a new network namespace")
		}
		_, err := netsetupConfig(s)
		return err
	default:
		return fmt.Errorf("network mode %q: want loopback, none, bridge or host", mode)
	}
}
