package netsetup

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// fallbackDNS is what Docker gives a container whose host only lists loopback
// resolvers (systemd-resolved's 127.0.0.53, dnsmasq on 127.0.0.1), which a
// container in its own network namespace cannot reach.
var fallbackDNS = []string{"8.8.8.8", "8.8.4.4"}

// renderResolvConf builds a container's resolv.conf. Explicit servers and
// search domains win; otherwise the host's are used. In a private network
// namespace (private=true) loopback servers are dropped, and when none is left
// the fallback servers are used.
func renderResolvConf(host []byte, dns, search []string, private bool) []byte {
	var hostNS, hostSearch, options []string
	s := bufio.NewScanner(bytes.NewReader(host))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			a, err := netip.ParseAddr(f[1])
			if err != nil || (private && a.IsLoopback()) {
				continue
			}
			hostNS = append(hostNS, f[1])
		case "search", "domain":
			hostSearch = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	servers := dns
	if len(servers) == 0 {
		servers = hostNS
	}
	if len(servers) == 0 && private {
		servers = fallbackDNS
	}
	if len(search) == 0 {
		search = hostSearch
	}
	var b bytes.Buffer
	for _, n := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

// renderHosts builds /etc/hosts: loopback names, plus the container's own
// address when it has one (so `hostname -i` and servers resolving their own
// name work), else 127.0.1.1 as Debian does.
func renderHosts(hostname string, addr netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if hostname != "" {
		if addr.IsValid() {
			fmt.Fprintf(&b, "%s\t%s\n", addr, hostname)
		} else {
			fmt.Fprintf(&b, "127.0.1.1\t%s\n", hostname)
		}
	}
	return b.Bytes()
}
