//go:build !linux

package netsetup

import (
	"context"
	"fmt"
	"net/netip"
)

// Host is the host side of container networks (Linux only).
type Host struct{}

// OpenHost reports ErrNotSupported: network namespaces exist only on Linux.
func OpenHost(path string) (*Host, error) { return nil, errNS("open host") }

// Close does nothing on this OS.
func (h *Host) Close() error { return nil }

// Attachment is one container's network; on this OS Attach never returns one.
type Attachment struct{}

// Lease is the persisted record of one container's address (Linux only).
type Lease struct {
	IP   netip.Addr
	ID   string
	Live bool
}

func errNS(op string) error { return fmt.Errorf("netsetup %s: %w: needs Linux", op, ErrNotSupported) }

// Attach reports ErrNotSupported: network namespaces exist only on Linux.
func Attach(ctx context.Context, cfg Config, containerNetNS string, id string) (*Attachment, error) {
	return nil, errNS("attach")
}

func (a *Attachment) Address() netip.Prefix              { return netip.Prefix{} }
func (a *Attachment) Gateway() netip.Addr                { return netip.Addr{} }
func (a *Attachment) HostVeth() string                   { return "" }
func (a *Attachment) Files() map[string][]byte           { return nil }
func (a *Attachment) Release() error                     { return nil }
func Cleanup(ctx context.Context, cfg Config) error      { return errNS("cleanup") }
func Leases(cfg Config) ([]Lease, error)                 { return nil, errNS("leases") }
func RemoveBridge(ctx context.Context, cfg Config) error { return errNS("remove bridge") }
func LoopbackUp() error                                  { return errNS("loopback up") }
