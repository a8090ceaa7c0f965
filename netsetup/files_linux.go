//go:build linux

package netsetup

import (
	"net/netip"
	"os"
)

// hostResolvConf is read for the host's DNS servers and search domains.
var hostResolvConf = "/etc/resolv.conf"

// containerFiles returns the /etc files for a container of the given mode.
// Host mode gets the host's own resolv.conf and hosts: the container shares
// the host's stack, so its resolvers (even loopback ones) are reachable.
func containerFiles(cfg Config, hostname string, addr netip.Addr) map[string][]byte {
	host, _ := os.ReadFile(hostResolvConf) // a host without resolv.conf yields the fallback servers
	files := map[string][]byte{"/etc/hostname": []byte(hostname + "\n")}
	switch cfg.Mode {
	case ModeHost:
		files["/etc/resolv.conf"] = renderResolvConf(host, cfg.DNS, cfg.DNSSearch, false)
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			files["/etc/hosts"] = h
		} else {
			files["/etc/hosts"] = renderHosts(hostname, netip.Addr{})
		}
	default:
		files["/etc/resolv.conf"] = renderResolvConf(host, cfg.DNS, cfg.DNSSearch, true)
		files["/etc/hosts"] = renderHosts(hostname, addr)
	}
	return files
}
