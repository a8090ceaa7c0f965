//go:build linux

package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is what Setup builds. It is taken from the container's spec by the
// caller; Setup itself has no defaults.
type Config struct {
	// Root is a plain root directory, used when Layers is nil.
	Root string
	// Layers, when set, is an overlay root built on Layers.Target.
	Layers *Layers
	// Readonly makes the root read-only once everything is mounted.
	Readonly bool
	// Mounts are mounted in order, targets resolved inside the root.
	Mounts []specs.Mount
	// Devices are created in /dev when /dev is a fresh tmpfs.
	Devices []specs.LinuxDevice
	// MaskedPaths and ReadonlyPaths are applied after pivot_root.
	MaskedPaths   []string
	ReadonlyPaths []string
	// Propagation is the root's propagation (spec.Linux.RootfsPropagation);
	// default rslave, as runc.
	Propagation string
	// NoPivot uses chroot instead of pivot_root: only for an initramfs root,
	// where pivot_root is impossible. The old root stays reachable to a
	// process with CAP_SYS_CHROOT, so it is never chosen silently.
	NoPivot bool
	// UserNS: device nodes cannot be created (mknod is denied in a user
	// namespace), so the host's nodes are bind-mounted instead.
	UserNS bool
	// CgroupNS: the container has its own cgroup namespace, so cgroup
	// filesystems mounted inside show only the container's cgroup.
	CgroupNS bool
	// Files are written into the new root before pivot_root (e.g.
	// /etc/hostname, /etc/hosts, /etc/resolv.conf), replacing what the layers hold.
	Files map[string][]byte
	// CgroupHierarchies is the host's cgroup layout (Hierarchies); nil: read
	// it here.
	CgroupHierarchies []Hierarchy
	// AfterPivot, when set, runs in the new root before the masked and
	// read-only paths are applied (sysctls are written there, while
	// /proc/sys is still writable).
	AfterPivot func() error
	// BeforePivot, when set, runs once everything is mounted, right before
	// the files are written; the files it returns are added to Files. The
	// container's init waits there for its parent's network wiring.
	BeforePivot func() (map[string][]byte, error)
}

// Setup builds the root filesystem and moves the calling process into it. It
// must run in a new mount namespace (the container's init). On return the
// process's root and working directory are the container's "/".
func Setup(cfg *Config) error {
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if cfg.Propagation != "" {
		p, ok := propagationOptions[cfg.Propagation]
		if !ok {
			return fmt.Errorf("rootfs propagation %q: unknown", cfg.Propagation)
		}
		prop = p
	}
	// Nothing mounted from here on may propagate back to the host.
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("make / %s: %w", cfg.Propagation, err)
	}
	root, err := mountRoot(cfg)
	if err != nil {
		return err
	}
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open root %s: %w", root, err)
	}
	defer rootDir.Close()

	if cfg.Layers != nil && cfg.Layers.HostRoot {
		for _, d := range append(HostRootHidden(), cfg.Layers.Hide...) {
			if err := hide(rootDir, d); err != nil {
				return err
			}
		}
	}
	devTmpfs := false
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if err := mountInRoot(rootDir, m, cfg); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && m.Type == "tmpfs" {
			devTmpfs = true
		}
	}
	if devTmpfs {
		if err := populateDev(rootDir, cfg); err != nil {
			return err
		}
	}
	files := cfg.Files
	if cfg.BeforePivot != nil {
		extra, err := cfg.BeforePivot()
		if err != nil {
			return err
		}
		if len(extra) > 0 {
			files = maps.Clone(files)
			if files == nil {
				files = map[string][]byte{}
			}
			maps.Copy(files, extra)
		}
	}
	for name, content := range files {
		if err := writeFile(rootDir, name, content, devTmpfs); err != nil {
			return err
		}
	}
	if cfg.NoPivot {
		if err := chrootInto(root); err != nil {
			return err
		}
	} else if err := pivotInto(root); err != nil {
		return err
	}
	if cfg.AfterPivot != nil {
		if err := cfg.AfterPivot(); err != nil {
			return err
		}
	}
	for _, p := range cfg.MaskedPaths {
		if err := mask(p); err != nil {
			return err
		}
	}
	for _, p := range cfg.ReadonlyPaths {
		if err := readonly(p); err != nil {
			return err
		}
	}
	if cfg.Readonly {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	return nil
}

// mountRoot makes the root a mount point: an overlay of the layers, or a bind
// of the plain root directory onto itself (pivot_root needs a mount point).
func mountRoot(cfg *Config) (string, error) {
	if cfg.Layers == nil {
		if cfg.Root == "" {
			return "", errors.New("no root filesystem given")
		}
		if err := unix.Mount(cfg.Root, cfg.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return "", fmt.Errorf("bind root %s: %w", cfg.Root, err)
		}
		return cfg.Root, nil
	}
	l := cfg.Layers
	if l.HostRoot && cfg.UserNS && !l.Premounted {
		return hostRootUnprivileged(l)
	}
	if err := l.Validate(); err != nil {
		return "", err
	}
	if l.Premounted {
		// The inherited overlay is locked in this less privileged mount
		// namespace and pivot_root refuses a locked new root: bind it onto
		// itself to get a mount of our own.
		if err := unix.Mount(l.Target, l.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return "", fmt.Errorf("bind premounted root %s: %w", l.Target, err)
		}
		return l.Target, nil
	}
	if err := MountOverlay(l); err != nil {
		return "", err
	}
	return l.Target, nil
}

// hostRootUnprivileged builds the default root for a container whose
// caller has no privileges (rootless): overlayfs refuses the host's "/" as a
// lower layer inside a user namespace (its submounts are locked), and nobody
// could mount it beforehand. So the host's root is bound recursively and
// made read-only: the container still changes nothing of the host, but
// writes outside its tmpfs mounts (/tmp, /run, ...) fail with EROFS.
func hostRootUnprivileged(l *Layers) (string, error) {
	if err := unix.Mount("/", l.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("bind host root on %s: %w", l.Target, err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(-1, l.Target, unix.AT_RECURSIVE, attr); err != nil {
		return "", fmt.Errorf("make host root read-only: %w", err)
	}
	return l.Target, nil
}

// MountOverlay mounts the layers on l.Target in the caller's mount namespace.
func MountOverlay(l *Layers) error {
	data, err := l.OverlayData()
	if err != nil {
		return err
	}
	if err := unix.Mount("overlay", l.Target, "overlay", 0, data); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", l.Target, err)
	}
	return nil
}

// PremountOverlay runs start (which must fork the container's init) on an OS
// thread that has a private mount namespace holding the overlay on l.Target,
// so the init's new mount namespace is born with it. This is how a container
// in a user namespace gets the host's "/" as a layer: overlayfs refuses, inside
// a user namespace, a lower directory with mounts below it ("failed to clone
// lowerpath"), but a mount made by the caller beforehand is simply inherited.
// The caller must hold runtime.LockOSThread and never unlock it: the thread
// keeps the private mount namespace (and a private fs struct) until it ends,
// which is when the overlay's host-side copy is released.
func PremountOverlay(l *Layers, start func() error) error {
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / rslave: %w", err)
	}
	if err := MountOverlay(l); err != nil {
		return err
	}
	l.Premounted = true
	return start()
}

// openTarget resolves dest inside root, creating it (a directory, or an empty
// file when file is true) if missing, and returns an O_PATH handle. The final
// component must not be a symlink: a mount on it would land on whatever the
// symlink names.
func openTarget(root *os.File, dest string, file bool) (*os.File, error) {
	dest = filepath.Clean("/" + dest)
	// Fast path, one openat2: the target exists (the common case). Resolved
	// inside the root; O_NOFOLLOW leaves a final symlink unfollowed, so it is
	// seen and refused below, never mounted on.
	fd, err := unix.Openat2(int(root.Fd()), dest, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("mount target %s: %w", dest, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return os.NewFile(uintptr(fd), dest), nil
		}
		unix.Close(fd)
	} else if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("mount target %s: %w", dest, err)
	}
	// Slow path: create what is missing, and name the symlink if there is one.
	parent, base := filepath.Split(dest)
	dir, err := pathrs.MkdirAllHandle(root, parent, 0o755)
	if err != nil {
		return nil, fmt.Errorf("mount target %s: %w", dest, err)
	}
	defer dir.Close()
	if base == "" {
		return pathrs.Reopen(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	}
	var st unix.Stat_t
	err = unix.Fstatat(int(dir.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		if file {
			fd, err := unix.Openat(int(dir.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, fmt.Errorf("mount target %s: create: %w", dest, err)
			}
			if err == nil {
				unix.Close(fd)
			}
		} else if err := unix.Mkdirat(int(dir.Fd()), base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("mount target %s: mkdir: %w", dest, err)
		}
	case err != nil:
		return nil, fmt.Errorf("mount target %s: %w", dest, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		link := make([]byte, 256)
		n, _ := unix.Readlinkat(int(dir.Fd()), base, link)
		return nil, fmt.Errorf("mount target %s is a symlink (to %q): %w", dest, link[:max(n, 0)], ErrUnsafePath)
	}
	fd, err = unix.Openat(int(dir.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount target %s: %w", dest, err)
	}
	f := os.NewFile(uintptr(fd), dest)
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("mount target %s: %w", dest, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// Swapped for a symlink between the check and the open.
		f.Close()
		return nil, fmt.Errorf("mount target %s became a symlink: %w", dest, ErrUnsafePath)
	}
	return f, nil
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// mountInRoot mounts one spec mount inside root.
func mountInRoot(root *os.File, m *specs.Mount, cfg *Config) error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("mount %s: destination must be absolute", m.Destination)
	}
	opts, err := ParseOptions(m.Options)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	typ := m.Type
	if typ == "bind" {
		opts.Bind = true
	}
	if opts.Bind {
		return bindInRoot(root, m, opts)
	}
	if typ == "cgroup" || typ == "cgroup2" {
		return mountCgroup(root, m, opts, cfg)
	}
	target, err := openTarget(root, m.Destination, false)
	if err != nil {
		return err
	}
	defer target.Close()
	err = unix.Mount(m.Source, fdPath(target), typ, opts.Flags, opts.Data)
	if errors.Is(err, unix.EINVAL) && typ == "devpts" && cfg.UserNS && strings.Contains(opts.Data, "gid=") {
		// The tty group (gid=5) is not mapped in a user namespace of one
		// uid (rootless): let new ptys belong to the container's own group.
		var kept []string
		for _, o := range strings.Split(opts.Data, ",") {
			if !strings.HasPrefix(o, "gid=") {
				kept = append(kept, o)
			}
		}
		err = unix.Mount(m.Source, fdPath(target), typ, opts.Flags, strings.Join(kept, ","))
	}
	if errors.Is(err, unix.EPERM) && typ == "sysfs" {
		// A new sysfs needs a network namespace the user namespace owns; bind
		// the host's read-only instead, as runc does.
		err = unix.Mount("/sys", fdPath(target), "", unix.MS_BIND|unix.MS_REC, "")
		if err == nil {
			err = remountReadonlyAt(root, m.Destination)
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, typ, m.Destination, err)
	}
	return setPropagation(root, m.Destination, opts)
}

func bindInRoot(root *os.File, m *specs.Mount, opts ParsedOptions) error {
	var st unix.Stat_t
	if err := unix.Stat(m.Source, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("bind mount source %s does not exist: %w", m.Source, err)
		}
		return fmt.Errorf("bind mount source %s: %w", m.Source, err)
	}
	target, err := openTarget(root, m.Destination, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND)
	if opts.Recursive {
		flags |= unix.MS_REC
	}
	err = unix.Mount(m.Source, fdPath(target), "", flags, "")
	target.Close()
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", m.Source, m.Destination, err)
	}
	// A bind ignores every flag but MS_REC; the rest takes a remount of the new
	// mount, found by resolving the target again (the old fd is under it).
	if opts.Flags&^unix.MS_REMOUNT != 0 {
		top, err := openTarget(root, m.Destination, st.Mode&unix.S_IFMT != unix.S_IFDIR)
		if err != nil {
			return err
		}
		defer top.Close()
		if err := unix.Mount("", fdPath(top), "", unix.MS_BIND|unix.MS_REMOUNT|lockedFlags(top)|opts.Flags, ""); err != nil {
			return fmt.Errorf("remount %s with %v: %w", m.Destination, m.Options, err)
		}
	}
	return setPropagation(root, m.Destination, opts)
}

// lockedFlags returns the mount flags of the mount f is on that a remount
// inside a user namespace must keep (the kernel refuses to clear them).
func lockedFlags(f *os.File) uintptr {
	var s unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &s); err != nil {
		return 0
	}
	var out uintptr
	for _, p := range [][2]uintptr{{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_RDONLY, unix.MS_RDONLY}} {
		if uintptr(s.Flags)&p[0] != 0 {
			out |= p[1]
		}
	}
	return out
}

func setPropagation(root *os.File, dest string, opts ParsedOptions) error {
	if opts.Propagation == 0 {
		return nil
	}
	top, err := openTarget(root, dest, false)
	if err != nil {
		return err
	}
	defer top.Close()
	if err := unix.Mount("", fdPath(top), "", opts.Propagation, ""); err != nil {
		return fmt.Errorf("set propagation of %s: %w", dest, err)
	}
	return nil
}

func remountReadonlyAt(root *os.File, dest string) error {
	top, err := openTarget(root, dest, false)
	if err != nil {
		return err
	}
	defer top.Close()
	return unix.Mount("", fdPath(top), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(top), "")
}

// mountCgroup mounts the container's view of the cgroup hierarchies: cgroup2
// on a unified host, else a tmpfs holding one mount per v1 hierarchy (and the
// v2 one at "unified" on a hybrid host), as runc does.
func mountCgroup(root *os.File, m *specs.Mount, opts ParsedOptions, cfg *Config) error {
	ro := opts.Flags&unix.MS_RDONLY != 0
	flags := opts.Flags &^ unix.MS_RDONLY
	target, err := openTarget(root, m.Destination, false)
	if err != nil {
		return err
	}
	defer target.Close()
	var sfs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &sfs); err == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		if !cfg.CgroupNS {
			if err := bindOwnCgroup(target, m.Destination, "", "/sys/fs/cgroup"); err != nil {
				return err
			}
			if ro {
				return remountReadonlyAt(root, m.Destination)
			}
			return nil
		}
		if err := unix.Mount("cgroup2", fdPath(target), "cgroup2", opts.Flags, ""); err != nil {
			return fmt.Errorf("mount cgroup2 on %s: %w", m.Destination, err)
		}
		return nil
	}
	if err := unix.Mount("tmpfs", fdPath(target), "tmpfs", flags, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", m.Destination, err)
	}
	hier := cfg.CgroupHierarchies
	if hier == nil || !cfg.CgroupNS {
		// Without a cgroup namespace the binds need this process's own paths.
		if hier, err = Hierarchies(); err != nil {
			return err
		}
	}
	// The tmpfs just mounted is ours and empty: its directories are made
	// and opened relative to it, no resolution needed.
	tmpfs, err := openTarget(root, m.Destination, false)
	if err != nil {
		return err
	}
	defer tmpfs.Close()
	var bound []string
	for _, h := range hier {
		dest := filepath.Join(m.Destination, h.Dir)
		if err := unix.Mkdirat(int(tmpfs.Fd()), h.Dir, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", dest, err)
		}
		fd, err := unix.Openat(int(tmpfs.Fd()), h.Dir, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", dest, err)
		}
		sub := os.NewFile(uintptr(fd), dest)
		if cfg.CgroupNS {
			typ, data := "cgroup", h.Controllers
			if h.Controllers == "" {
				typ = "cgroup2"
			}
			err = unix.Mount("cgroup", fdPath(sub), typ, opts.Flags, data)
			if errors.Is(err, unix.EPERM) && cfg.UserNS {
				// v1 hierarchies cannot be mounted in a user namespace: bind
				// this process's own cgroup of each instead, by its host path
				// (inside the cgroup namespace /proc/self/cgroup says "/").
				err = bindOwnCgroup(sub, dest, h.Path, filepath.Join("/sys/fs/cgroup", h.Dir))
				bound = append(bound, dest)
			}
			if err != nil {
				err = fmt.Errorf("mount %s (%s) on %s: %w", typ, data, dest, err)
			}
		} else {
			err = bindOwnCgroup(sub, dest, h.Path, filepath.Join("/sys/fs/cgroup", h.Dir))
			bound = append(bound, dest)
		}
		sub.Close()
		if err != nil {
			return err
		}
	}
	if ro {
		// A bind keeps its source's flags: each needs its own read-only remount.
		for _, dest := range bound {
			if err := remountReadonlyAt(root, dest); err != nil {
				return fmt.Errorf("read-only %s: %w", dest, err)
			}
		}
		return remountReadonlyAt(root, m.Destination)
	}
	return nil
}

// bindOwnCgroup binds the process's own cgroup directory of a hierarchy
// mounted at hostMount: without a cgroup namespace a fresh cgroup mount would
// show the host's whole tree.
func bindOwnCgroup(target *os.File, dest, own, hostMount string) error {
	src := filepath.Join(hostMount, own)
	if own == "" {
		src = hostMount
		if p, err := ownCgroup2(); err == nil {
			src = filepath.Join(hostMount, p)
		}
	}
	if err := unix.Mount(src, fdPath(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dest, err)
	}
	return nil
}

func ownCgroup2() (string, error) {
	h, err := Hierarchies()
	if err != nil {
		return "", err
	}
	for _, x := range h {
		if x.Controllers == "" {
			return x.Path, nil
		}
	}
	return "/", nil
}

// Hierarchies lists the process's cgroup hierarchies from /proc/self/cgroup,
// each with the directory the host mounts it on. The parent reads it once
// and passes it in Config.CgroupHierarchies, sparing every init the parse.
func Hierarchies() ([]Hierarchy, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var out []Hierarchy
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		h := Hierarchy{Controllers: parts[1], Path: parts[2]}
		dir, ok := mounts[h.Controllers]
		if !ok {
			continue // not mounted on the host: nothing to show
		}
		h.Dir = dir
		out = append(out, h)
	}
	return out, s.Err()
}

// cgroupMounts maps a hierarchy's controller list ("" for cgroup2) to its
// mount directory name under /sys/fs/cgroup, from /proc/self/mountinfo.
func cgroupMounts() (map[string]string, error) {
	ms, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range ms {
		if filepath.Dir(m.Mountpoint) != "/sys/fs/cgroup" {
			continue
		}
		if m.FSType == "cgroup2" {
			out[""] = filepath.Base(m.Mountpoint)
			continue
		}
		var ctrl []string
		for _, o := range strings.Split(m.VFSOptions, ",") {
			switch o {
			case "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "xattr", "clone_children", "nsdelegate", "memory_recursiveprot":
			default:
				if !strings.HasPrefix(o, "release_agent=") {
					ctrl = append(ctrl, o)
				}
			}
		}
		out[strings.Join(ctrl, ",")] = filepath.Base(m.Mountpoint)
	}
	return out, nil
}

// populateDev creates the standard device nodes and links in a fresh /dev.
func populateDev(root *os.File, cfg *Config) error {
	for _, d := range cfg.Devices {
		if err := makeDevice(root, d, cfg.UserNS); err != nil {
			return err
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	}
	dev, err := pathrs.OpenatInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	for _, l := range links {
		err := unix.Symlinkat(l[0], int(dev.Fd()), filepath.Base(l[1]))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s -> %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

func makeDevice(root *os.File, d specs.LinuxDevice, userNS bool) error {
	if !strings.HasPrefix(filepath.Clean(d.Path), "/dev/") {
		return fmt.Errorf("device %s: not under /dev", d.Path)
	}
	if userNS {
		// mknod is not allowed in a user namespace: bind the host's node.
		target, err := openTarget(root, d.Path, true)
		if err != nil {
			return err
		}
		defer target.Close()
		if err := unix.Mount(d.Path, fdPath(target), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind device %s: %w", d.Path, err)
		}
		return nil
	}
	var mode uint32
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	parent, base := filepath.Split(filepath.Clean(d.Path))
	dir, err := openTarget(root, parent, false)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer dir.Close()
	if err := unix.Mknodat(int(dir.Fd()), base, mode|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	// mknod applies the umask; set the mode the spec asked for.
	if err := unix.Fchmodat(int(dir.Fd()), base, perm, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(int(dir.Fd()), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}

// hide covers a directory of the root with an empty tmpfs, or a file with
// /dev/null, when it exists.
func hide(root *os.File, dir string) error {
	f, err := pathrs.OpenatInRoot(root, dir)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("hide %s: %w", dir, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		// Before pivot_root /dev/null is the host's.
		if err := unix.Mount("/dev/null", fdPath(f), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("hide %s: %w", dir, err)
		}
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	data := "mode=755"
	switch dir {
	case "/tmp", "/var/tmp":
		data = "mode=1777"
	case "/run", "/root", "/home":
	default:
		flags |= unix.MS_RDONLY | unix.MS_NOEXEC
	}
	if err := unix.Mount("tmpfs", fdPath(f), "tmpfs", flags, data); err != nil {
		return fmt.Errorf("hide %s: %w", dir, err)
	}
	return nil
}

// writeFile puts content at name in the root. As docker mounts
// /etc/hostname, the content is staged in the container's fresh /dev tmpfs
// and bind-mounted over the file (created empty if missing, like any mount
// point): nothing is written into the root, which may be the caller's own
// directory shared with other containers, a read-only root, or a layer the
// user namespace's root does not own; and an overlay gets no copy-up of
// /etc. Without a fresh /dev the file is replaced in the root instead.
func writeFile(root *os.File, name string, content []byte, devTmpfs bool) error {
	if devTmpfs {
		if err := bindContent(root, name, content); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	parent, base := filepath.Split(filepath.Clean("/" + name))
	dir, err := pathrs.MkdirAllHandle(root, parent, 0o755)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer dir.Close()
	if err := replaceAt(int(dir.Fd()), base, content); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// replaceAt unlinks base (never writing through a symlink planted in a
// layer) and creates it anew with content.
func replaceAt(dirfd int, base string, content []byte) error {
	if err := unix.Unlinkat(dirfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	fd, err := unix.Openat(dirfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func bindContent(root *os.File, name string, content []byte) error {
	dev, err := pathrs.OpenatInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("stage in /dev: %w", err)
	}
	defer dev.Close()
	staged := ".cocoon-" + filepath.Base(name)
	if err := replaceAt(int(dev.Fd()), staged, content); err != nil {
		return fmt.Errorf("stage in /dev: %w", err)
	}
	defer unix.Unlinkat(int(dev.Fd()), staged, 0)
	src, err := unix.Openat(int(dev.Fd()), staged, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	target, err := openTarget(root, name, true)
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", src), fdPath(target), "", unix.MS_BIND, "")
}

// pivotInto makes root the process's "/" and detaches the old root, the
// sequence runc uses: pivot_root(".", ".") stacks the old root on top of the
// new one, and a lazy unmount of "." then removes it.
func pivotInto(root string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", root, err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("pivot_root %s: %w: %w", root, err, ErrPivotRoot)
		}
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir old root: %w", err)
	}
	// The old root may be shared with the host: make it a slave so the lazy
	// unmount below does not propagate back.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

func chrootInto(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.Mount(root, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	return unix.Chdir("/")
}

// mask hides a path of the container: a directory behind an empty read-only
// tmpfs, anything else behind /dev/null. Missing paths are fine.
func mask(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("mask %s: %w", p, err)
	}
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// readonly makes p read-only: a bind of p onto itself, remounted read-only.
func readonly(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	if err := remountReadonly(p); err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

func remountReadonly(p string) error {
	var s unix.Statfs_t
	if err := unix.Statfs(p, &s); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, x := range [][2]uintptr{{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC}} {
		if uintptr(s.Flags)&x[0] != 0 {
			flags |= x[1]
		}
	}
	return unix.Mount("", p, "", flags, "")
}
