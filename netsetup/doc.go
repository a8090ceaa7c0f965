// Package netsetup wires a container's network from the parent side, the way
// `docker run -p 8080:80` does, without helper processes: netlink for links,
// addresses and routes, nftables (github.com/google/nftables) for NAT, ports
// and egress policy, flock'ed files for address leases.
//
// # Model
//
// The container's init is started in a new network namespace (CLONE_NEWNET)
// and held paused; the parent calls
//
//	a, err := netsetup.Attach(ctx, cfg, "/proc/PID/ns/net", id)
//	// write a.Files() into the rootfs, release the init, ... Wait ...
//	err = a.Release()
//
// Modes (Config.Mode, ParseMode parses the --net flag):
//   - none: lo stays down. loopback (default): lo up.
//   - bridge: lo up; a veth pair whose host end (named ck<address in hex>)
//     is enslaved to Config.Bridge (created on first use, with the subnet's
//     first address) and whose other end is created directly inside the
//     container's namespace as eth0, with an address leased from
//     Config.Subnet and a default route via the bridge. Outbound traffic is
//     masqueraded, Config.Ports are published, Config.EgressAllow (when
//     set) drops what it does not allow.
//   - host: the host's namespace is shared: no isolation at all, every port
//     the container binds is a host port, and with CAP_NET_ADMIN it can
//     reconfigure the host. Only for trusted workloads.
//   - container:ID / ns:PATH: the container joins an existing namespace;
//     nothing is created, the caller joins it (namespace.CheckJoinable).
//
// "The host" is a parameter: Config.Host (OpenHost, shared and fast) or
// Config.HostNS (a path; empty is the caller's own namespace). The bridge,
// nftables rules, sysctls and port reservations all live there, so tests
// play the host in a namespace of their own and never touch the machine's
// firewall or routes.
//
// # Why these mechanisms
//
//   - No namespace moves: moving a link between namespaces costs ~30 ms in
//     rcu_barrier on the machines here. The veth peer is created inside the
//     container's namespace (IFLA_NET_NS_FD) and configured through a netlink
//     socket opened there. Sockets are opened inside a namespace by a
//     goroutine locked to its thread which switches back before unlocking (and
//     stays locked, so the runtime discards the thread, if switching back
//     fails); nothing else ever runs in a foreign namespace.
//   - Published ports: kernel DNAT for everything, what Docker does with
//     userland-proxy=false. Prerouting DNAT serves other hosts; output DNAT
//     serves the host itself, 127.0.0.1 included, which needs route_localnet
//     on the bridge (set on it only) plus a masquerade of 127.0.0.0/8 leaving
//     through the bridge, so the container sees the bridge address as source.
//     route_localnet would let a container reach the host's 127.0.0.1
//     services (the kube-proxy CVE-2020-8558 class); a raw-prerouting rule
//     drops packets from the bridge to 127.0.0.0/8. Trade-offs against a
//     userland proxy: no process or goroutine per port and no copy, and the
//     container sees real client addresses from other hosts; but local
//     clients appear as the bridge address, IPv6 ([::1]) is not forwarded,
//     and a host whose FORWARD policy drops (Docker sets that) needs its own
//     accept for the subnet.
//   - Port conflicts: Attach binds (without listening) each published host
//     port in the host namespace and holds the socket until Release. Another
//     container, in any process, or any other program using that port makes
//     Attach fail with ErrPortInUse; the kernel frees the port if the holder
//     crashes.
//   - Address leases are persisted, not derived: one file per address under
//     StateDir/<bridge>/, flock'ed by the owner for the Attachment's life.
//     The kernel drops the lock when the owner dies, so a crashed owner is
//     detected without heartbeats; a lease whose owner is gone is still kept
//     while the container it names (PID, start time, netns inode) is alive.
//     Allocation is next-fit under a directory lock, so processes never hand
//     out one address twice and a released address is reused last.
//   - Rules live in one table of family ip (default "cocoon"), in chains per
//     bridge; per-container rules carry the comment "cocoon <address>".
//     Nothing outside that table is touched; no iptables or nft binary runs.
//
// # Cleanup
//
// Release removes the container's rules, port reservations and lease; the
// veth pair goes with the container's namespace (Release deletes it itself
// only if the container still runs, which costs ~30 ms). After a crash,
// Cleanup (or lazily the next Attach that publishes ports or finds the subnet
// full) reclaims stale leases with their rules and veths. The bridge, its base
// rules, ip_forward=1 and route_localnet stay for reuse; RemoveBridge removes
// the bridge, its chains (and the table once unused) and its lease directory.
//
// # Pitfalls
//
//   - Release the namespace owner's Attachment only after containers sharing
//     its namespace (ModeContainer) are gone: their eth0 is its eth0.
//   - One StateDir per host namespace; bridge subnets must not overlap.
//   - IPv4 only. Container-to-container traffic on one bridge is switched at
//     layer 2 and passes the egress policy only where br_netfilter is on
//     (bridge-nf-call-iptables=1, built in and on here, off on many hosts);
//     the policy always covers routed traffic and traffic to the host.
//   - Containers reach published ports through a host address too
//     (hairpin): the bridge port is put in hairpin mode and such connections
//     are masqueraded to the bridge address, with or without br_netfilter.
//   - Attach sets net.ipv4.ip_forward=1 in the host namespace when it creates
//     the bridge, as Docker does.
//
// # Cost
//
// BenchmarkAttachRelease, on the shared 2-core development machine (kernel
// 6.18, load 2-7 from other work, so read these as upper bounds), per start:
//   - loopback: ~0.15-0.3 ms (one thread trip into the namespace and an
//     ioctl; ~0.03 ms when the kernel is not busy tearing down the previous
//     container's namespace, with which lo up contends for the RTNL lock).
//   - bridge: Attach ~2-3 ms: veth creation with the master bridge and up
//     ~0.8-1.2 ms (kernel), lease and bridge check ~0.3 ms, lo up and a
//     socket inside the container ~0.2 ms, eth0 address, up and route
//     ~0.2 ms, nftables ~0.3 ms. Release ~0.03 ms (0.15 ms with a published
//     port, whose rule deletion is an nftables transaction) after the
//     container exited; ~30 ms when the container still runs (veth delete).
//
// Use a shared Host: with Config.Host nil each call opens and closes the
// host-side sockets, and closing an nftables socket right after rules were
// deleted anywhere waits for an RCU grace period (3-15 ms here).
//
// # When not to use it
//
// For rootless containers (no CAP_NET_ADMIN in the host namespace) use a
// user-mode network stack (slirp4netns, pasta) instead; for multi-host
// networks use a CNI plugin.
//
// Man pages: network_namespaces(7), veth(4), rtnetlink(7), netlink(7),
// nft(8), ip-link(8), flock(2), setns(2).
package netsetup
