//go:build linux

package netsetup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The address allocator persists one file per leased address under
// StateDir/<bridge>/, named after the address. A lease is live while its
// owner holds an flock(2) on the file: the kernel drops that lock when the
// owner closes it or dies, crash included, so liveness needs no heartbeat and
// no PID guessing. An unlocked lease is still kept while the container it
// names (PID + start time + netns inode) is alive, so an orphaned container
// never has its address handed to a second one. Allocation and reclaiming run
// under an flock on StateDir/<bridge>/.lock, which serializes processes.

// Lease is the persisted record of one container's address and the host-side
// resources named after it, enough for another process to reclaim them.
type Lease struct {
	IP       netip.Addr    `json:"ip"`
	ID       string        `json:"id"`
	Veth     string        `json:"veth"`
	NetNS    string        `json:"netns"`
	NetNSIno uint64        `json:"netnsIno"`
	NetNSDev uint64        `json:"netnsDev"`
	PID      int           `json:"pid,omitempty"`
	PIDStart uint64        `json:"pidStart,omitempty"`
	Owner    int           `json:"owner"`
	Ports    []PortMapping `json:"ports,omitempty"`
	Egress   bool          `json:"egress,omitempty"`
	Created  time.Time     `json:"created"`
	// Live is set by Leases: the owner still holds the lease, or the
	// container it names is still alive.
	Live bool `json:"-"`
}

type store struct {
	dir  string
	lock *os.File
}

func openStore(stateDir, bridge string) (*store, error) {
	dir := filepath.Join(stateDir, bridge)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lease directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lease lock: %w", err)
	}
	return &store{dir: dir, lock: f}, nil
}

func (s *store) close() { s.lock.Close() }

func (s *store) withLock(fn func() error) error {
	if err := flockRetry(int(s.lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.lock.Name(), err)
	}
	defer unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
	return fn()
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// heldLease is a lease this process owns: the open, locked file.
type heldLease struct {
	f     *os.File
	path  string
	lease Lease
}

// release deletes the lease file, then drops the lock by closing it.
func (h *heldLease) release() error {
	err := os.Remove(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, h.f.Close())
}

// leaseNames lists the lease files (addresses) in the store.
func (s *store) leaseNames() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	var out []string
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// allocate picks the next free address of subnet after the one allocated
// last (next fit; the first address is the bridge's), creates and locks its
// lease file and writes l into it. Call with the store lock held.
//
// Next fit rather than lowest free: a released address is reused only after
// the whole subnet went round, by when the kernel has long finished removing
// its old veth (which it does asynchronously once the container's namespace
// is gone) and neighbours have forgotten its old MAC.
func (s *store) allocate(subnet netip.Prefix, l Lease) (*heldLease, error) {
	names, err := s.leaseNames()
	if err != nil {
		return nil, err
	}
	used := make(map[string]bool, len(names))
	for _, n := range names {
		used[n] = true
	}
	first := subnet.Addr().Next().Next() // after the network and the bridge address
	last := lastAddr(subnet).Prev()      // before the broadcast address
	start := first
	if hint, ok := s.readHint(); ok && subnet.Contains(hint) && hint.Compare(first) >= 0 && hint.Compare(last) < 0 {
		start = hint.Next()
	}
	a := start
	for {
		if !used[a.String()] {
			h, err := s.create(a, l)
			if err == nil {
				s.writeHint(a)
				return h, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
		if a == last {
			a = first
		} else {
			a = a.Next()
		}
		if a == start {
			break
		}
	}
	return nil, fmt.Errorf("allocate address in %s (%d leases): %w", subnet, len(names), ErrAddressesExhausted)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// The allocation hint (the address allocated last) is the lock file's content.
func (s *store) readHint() (netip.Addr, bool) {
	var b [64]byte
	n, _ := s.lock.ReadAt(b[:], 0)
	a, err := netip.ParseAddr(strings.TrimSpace(string(b[:n])))
	return a, err == nil
}

func (s *store) writeHint(a netip.Addr) {
	// Best effort: a lost hint only means starting over at the first address.
	if s.lock.Truncate(0) == nil {
		_, _ = s.lock.WriteAt([]byte(a.String()), 0)
	}
}

func (s *store) create(a netip.Addr, l Lease) (*heldLease, error) {
	p := filepath.Join(s.dir, a.String())
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create lease %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("lock lease %s: %w", p, err)
	}
	l.IP = a
	l.Veth = vethName(a)
	b, _ := json.Marshal(l)
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("write lease %s: %w", p, err)
	}
	return &heldLease{f: f, path: p, lease: l}, nil
}

type leaseState int

const (
	leaseLive   leaseState = iota // owner holds the lock
	leaseOrphan                   // owner gone, container alive: keep the address
	leaseStale                    // owner and container gone: reclaim
	leaseGone                     // removed meanwhile
)

// probe classifies the lease file name. For a stale lease it returns the file
// open and locked, so the caller can reclaim it before anyone else does.
func (s *store) probe(name string) (leaseState, *heldLease, Lease, error) {
	p := filepath.Join(s.dir, name)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return leaseGone, nil, Lease{}, nil
	}
	if err != nil {
		return 0, nil, Lease{}, fmt.Errorf("open lease %s: %w", p, err)
	}
	var l Lease
	b, rerr := os.ReadFile(p)
	if rerr == nil {
		rerr = json.Unmarshal(b, &l)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return leaseLive, nil, l, nil
		}
		return 0, nil, l, fmt.Errorf("lock lease %s: %w", p, err)
	}
	// The owner may have released (unlinked) it between our open and lock.
	var st, fst unix.Stat_t
	if unix.Fstat(int(f.Fd()), &fst) != nil || unix.Stat(p, &st) != nil || st.Ino != fst.Ino {
		f.Close()
		return leaseGone, nil, l, nil
	}
	if rerr != nil {
		// A lease cut short by a crash while being written: nothing was
		// created from it yet beyond what its name implies.
		a, _ := netip.ParseAddr(name)
		l = Lease{IP: a, Veth: vethName(a)}
	}
	if containerAlive(l) {
		f.Close()
		return leaseOrphan, nil, l, nil
	}
	return leaseStale, &heldLease{f: f, path: p, lease: l}, l, nil
}

// reclaimStale reclaims every stale lease with undo (which deletes the
// host-side resources), then removes its file. Call with the store lock held.
func (s *store) reclaimStale(undo func(Lease) error) (int, error) {
	names, err := s.leaseNames()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs error
	for _, name := range names {
		st, h, _, err := s.probe(name)
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		if st != leaseStale {
			continue
		}
		if err := undo(h.lease); err != nil {
			h.f.Close()
			errs = errors.Join(errs, fmt.Errorf("reclaim lease %s: %w", h.path, err))
			continue
		}
		errs = errors.Join(errs, h.release())
		n++
	}
	return n, errs
}

// procNSPath matches /proc/PID/ns/net and /proc/PID/task/TID/ns/net.
var procNSPath = regexp.MustCompile(`^/proc/(\d+)(?:/task/(\d+))?/ns/net$`)

// identify fills in the container's identity from its netns path, so a lease
// outliving its owner is not reclaimed while the container still runs.
func identify(l *Lease, nsPath string) {
	l.NetNS = nsPath
	var st unix.Stat_t
	if unix.Stat(nsPath, &st) == nil {
		l.NetNSIno, l.NetNSDev = st.Ino, st.Dev
	}
	m := procNSPath.FindStringSubmatch(nsPath)
	if m == nil {
		return
	}
	id := m[1]
	if m[2] != "" {
		id = m[2] // a thread: /proc/TID works for threads too
	}
	pid, _ := strconv.Atoi(id)
	if start, ok := procStart(pid); ok {
		l.PID, l.PIDStart = pid, start
	}
}

// procStart returns a process's start time (field 22 of /proc/PID/stat),
// which tells a live process from a later one that reused its PID.
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

func containerAlive(l Lease) bool {
	if l.PID == 0 {
		// A namespace named by a bind mount (ip netns style) lives as long
		// as the mount: alive while the path still names that namespace.
		var st unix.Stat_t
		return l.NetNSIno != 0 && !strings.HasPrefix(l.NetNS, "/proc/") &&
			unix.Stat(l.NetNS, &st) == nil && st.Ino == l.NetNSIno && st.Dev == l.NetNSDev
	}
	start, ok := procStart(l.PID)
	if !ok || start != l.PIDStart {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", l.PID), &st); err != nil {
		return false
	}
	return st.Ino == l.NetNSIno && st.Dev == l.NetNSDev
}

// vethName is the host end's name, derived from the address so a lease alone
// tells which link to delete: "ck" + the address in hex (10 bytes, IFNAMSIZ-safe).
func vethName(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("ck%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
}
