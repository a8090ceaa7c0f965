//go:build linux

package netsetup

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host is the "host" side of container networks: a network namespace, and a
// netlink and an nftables socket opened inside it once, usable from any
// goroutine afterwards (no later namespace switch). A program starting many
// containers opens one Host and passes it in Config.Host; it is safe for
// concurrent use.
//
// Why it pays: closing an nftables socket waits for the kernel's pending
// nftables garbage (an RCU grace period, 3-15 ms here) whenever any rule was
// deleted recently, which Release does; a Host is closed once, not per
// container. It also saves one namespace switch per Attach.
type Host struct {
	ns  nsRef
	hh  *netlink.Handle
	nft *nftables.Conn
	// nftMu makes each batch (queue + Flush) atomic on the shared conn, whose
	// message queue is one per conn.
	nftMu sync.Mutex

	mu        sync.Mutex
	closed    bool
	bridgesOK map[string]bool // "bridge subnet" pairs whose gateway address was checked
}

// OpenHost opens the network namespace at path (a /run/netns/NAME bind mount,
// /proc/PID/ns/net, ...) as the host side; "" is the caller's own namespace.
func OpenHost(path string) (*Host, error) {
	ns, err := openNS(path)
	if err != nil {
		return nil, err
	}
	h := &Host{ns: ns}
	err = ns.run(func() error {
		var err error
		// Route for links, addresses and routes; netfilter for conntrack.
		if h.hh, err = netlink.NewHandle(unix.NETLINK_ROUTE, unix.NETLINK_NETFILTER); err != nil {
			return fmt.Errorf("netlink socket in host namespace %s: %w", ns.path, err)
		}
		if h.nft, err = nftables.New(nftables.AsLasting()); err != nil {
			return fmt.Errorf("nftables socket in host namespace %s: %w", ns.path, err)
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, h.Close())
	}
	return h, nil
}

// Close releases the Host's sockets and namespace reference. Attachments
// made through it must be released first.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var err error
	if h.hh != nil {
		h.hh.Close()
	}
	if h.nft != nil {
		err = h.nft.CloseLasting()
	}
	h.ns.close()
	return err
}

// withNFT runs one nftables batch (queue, then Flush) alone on the conn.
func (h *Host) withNFT(fn func(cc *nftables.Conn) error) error {
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	return fn(h.nft)
}

// hostFor returns cfg.Host, or a Host opened for this call (own=true: the
// caller closes it).
func hostFor(cfg Config) (h *Host, own bool, err error) {
	if cfg.Host != nil {
		return cfg.Host, false, nil
	}
	h, err = OpenHost(cfg.HostNS)
	return h, true, err
}
