package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/netsetup"
	"github.com/cocoonrt/container/rootfs"
	"github.com/cocoonrt/container/security"
)

// Annotations cocoon reads from a spec, for what the runtime spec has no field for.
const (
	// AnnotationRootfs chooses the root filesystem: "host" (the embedded
	// default: the host's "/" as the lowest read-only layer), "layers" (the
	// directories of AnnotationLayers under a private writable layer) or "dir"
	// (Root.Path as it is, the runc behaviour; the default for FromSpec).
	AnnotationRootfs = "cocoon.rootfs"
	// AnnotationLayers is a JSON array of read-only layer directories, lowest first.
	AnnotationLayers = "cocoon.rootfs.layers"
	// AnnotationKeepLayer "true" keeps the writable layer on disk after Delete.
	AnnotationKeepLayer = "cocoon.rootfs.keep"
	// AnnotationInit "true" runs an init process as PID 1 (WithInit).
	AnnotationInit = "cocoon.init"
	// AnnotationNoPivot "true" uses chroot instead of pivot_root (initramfs roots only).
	AnnotationNoPivot = "cocoon.rootfs.nopivot"
	// AnnotationNetwork is the network mode of a new network namespace:
	// "loopback" (the default: lo up) or "none" (lo down).
	AnnotationNetwork = "cocoon.network"
)

// Network modes of AnnotationNetwork.
const (
	NetworkLoopback = "loopback"
	NetworkNone     = "none"
)

// Root filesystem modes of AnnotationRootfs.
const (
	RootfsHost   = "host"
	RootfsLayers = "layers"
	RootfsDir    = "dir"
)

// DefaultPath is the PATH a container gets when its environment has none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Builder composes a container. Each With method edits the spec and returns
// the builder; errors are collected and returned by Spec, Start and Run.
// A Builder is not safe for concurrent use; each Start makes an independent container.
type Builder struct {
	spec     *specs.Spec
	errs     []error
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	logger   *slog.Logger
	stateDir string
	id       string
	stopWait time.Duration
	netHost  *netsetup.Host
	// The image of WithImage, leased while the container lives.
	image Image
}

// New returns a builder for a container running args, with isolating
// defaults (see the package documentation).
func New(args ...string) *Builder {
	b := &Builder{spec: &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args:            args,
			Env:             []string{DefaultPath},
			Cwd:             "/",
			Capabilities:    security.LinuxCapabilities(defaultCapabilities()),
			NoNewPrivileges: true,
		},
		Root:        &specs.Root{},
		Mounts:      rootfs.DefaultMounts(),
		Annotations: map[string]string{AnnotationRootfs: RootfsHost, AnnotationSeccomp: SeccompDefault},
		Linux: &specs.Linux{
			Namespaces:    namespace.Defaults(),
			MaskedPaths:   rootfs.DefaultMaskedPaths(),
			ReadonlyPaths: rootfs.DefaultReadonlyPaths(),
		},
	}}
	return b
}

// defaultCapabilities is Docker's default set without CAP_MKNOD, as Podman
// does. Docker's set is safe only with its devices cgroup, which lets a
// container open no device but the standard ones; cocoon makes no device
// policy by default (no cgroup at all unless asked, and none on cgroup v2,
// where it needs eBPF), so with CAP_MKNOD a container's root could mknod
// the host's disk and read it. WithCapAdd("MKNOD") gives it back.
func defaultCapabilities() []string {
	var out []string
	for _, c := range security.DefaultCapabilities() {
		if c != "CAP_MKNOD" {
			out = append(out, c)
		}
	}
	return out
}

// FromSpec returns a builder that runs spec (for example a parsed
// config.json) through the same path as New. The spec is copied; Root.Path is
// used as the root directory unless the cocoon annotations say otherwise.
func FromSpec(spec *specs.Spec) *Builder {
	b := &Builder{}
	if spec == nil {
		b.spec = &specs.Spec{}
		b.errs = append(b.errs, errors.New("nil spec"))
		return b
	}
	cp, err := copySpec(spec)
	if err != nil {
		b.spec = &specs.Spec{}
		b.errs = append(b.errs, fmt.Errorf("copy spec: %w", err))
		return b
	}
	b.spec = cp
	if b.spec.Annotations == nil {
		b.spec.Annotations = map[string]string{}
	}
	if b.spec.Annotations[AnnotationRootfs] == "" && b.spec.Root != nil && b.spec.Root.Path != "" {
		b.spec.Annotations[AnnotationRootfs] = RootfsDir
	}
	return b
}

func copySpec(s *specs.Spec) (*specs.Spec, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var out specs.Spec
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (b *Builder) fail(format string, args ...any) *Builder {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
	return b
}

func (b *Builder) linux() *specs.Linux {
	if b.spec.Linux == nil {
		b.spec.Linux = &specs.Linux{}
	}
	return b.spec.Linux
}

func (b *Builder) process() *specs.Process {
	if b.spec.Process == nil {
		b.spec.Process = &specs.Process{Cwd: "/"}
	}
	return b.spec.Process
}

// WithSpec lets fn edit the spec directly, for anything without sugar.
func (b *Builder) WithSpec(fn func(*specs.Spec)) *Builder {
	fn(b.spec)
	return b
}

// WithNamespaces sets the namespaces the container creates. With no argument
// it sets the defaults (pid, mount, uts, ipc, network, cgroup). A user
// namespace is created only when listed (see WithUserNamespace for its
// mappings). Namespaces joined by path (WithJoinNamespace) are kept. Without
// a mount namespace the default root filesystem is dropped: the container
// then shares the host's filesystem view.
func (b *Builder) WithNamespaces(types ...specs.LinuxNamespaceType) *Builder {
	l := b.linux()
	var keep []specs.LinuxNamespace
	for _, ns := range l.Namespaces {
		if ns.Path != "" {
			keep = append(keep, ns)
		}
	}
	want := namespace.Defaults()
	if len(types) > 0 {
		want = want[:0]
		for _, t := range types {
			want = append(want, specs.LinuxNamespace{Type: t})
		}
	}
	for _, ns := range want {
		if !namespace.Has(keep, ns.Type) {
			keep = append(keep, ns)
		}
	}
	if !namespace.Has(keep, namespace.Mount) && b.spec.Annotations[AnnotationRootfs] == RootfsHost {
		// The default root filesystem and standard mounts need a mount
		// namespace: without one the container shares the host's view.
		delete(b.spec.Annotations, AnnotationRootfs)
		b.spec.Mounts = nil
		l.MaskedPaths, l.ReadonlyPaths = nil, nil
	}
	if namespace.Has(keep, namespace.User) && len(l.UIDMappings) == 0 {
		// A user namespace without mappings: the caller's IDs, 65536 of them
		// from a high base for root, or the caller alone as root otherwise.
		l.UIDMappings, l.GIDMappings = defaultIDMappings()
	}
	l.Namespaces = keep
	return b
}

// WithUserNamespace adds a user namespace with the given mappings (several
// ranges allowed). With nil mappings it maps container IDs 0-65535 to host
// 100000-165535 when the caller is root, and the caller's own uid and gid to
// 0 otherwise.
func (b *Builder) WithUserNamespace(uidMaps, gidMaps []specs.LinuxIDMapping) *Builder {
	l := b.linux()
	if uidMaps == nil && gidMaps == nil {
		uidMaps, gidMaps = defaultIDMappings()
	}
	l.UIDMappings, l.GIDMappings = uidMaps, gidMaps
	if !namespace.Has(l.Namespaces, namespace.User) {
		l.Namespaces = append([]specs.LinuxNamespace{{Type: namespace.User}}, l.Namespaces...)
	}
	return b
}

// WithJoinNamespace makes the container join an existing namespace of type t
// (for example another container's network namespace, /proc/PID/ns/net)
// instead of creating one. Mount and user namespaces cannot be joined by a Go
// process; asking for them is an error wrapping namespace.ErrNotSupported.
func (b *Builder) WithJoinNamespace(t specs.LinuxNamespaceType, path string) *Builder {
	if path == "" {
		return b.fail("join %s namespace: empty path", t)
	}
	l := b.linux()
	for i, ns := range l.Namespaces {
		if ns.Type == t {
			l.Namespaces[i].Path = path
			return b
		}
	}
	l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	return b
}

// WithTimeOffsets creates a time namespace whose monotonic and boottime clocks
// are shifted by the given offsets (time_namespaces(7)). It needs Linux 6.2
// or later (where execve enters a time namespace); Start reports
// ErrNotSupported before that.
func (b *Builder) WithTimeOffsets(monotonic, boottime time.Duration) *Builder {
	l := b.linux()
	if !namespace.Has(l.Namespaces, namespace.Time) {
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: namespace.Time})
	}
	off := func(d time.Duration) specs.LinuxTimeOffset {
		s := int64(d / time.Second)
		ns := int64(d % time.Second)
		if ns < 0 {
			s--
			ns += int64(time.Second)
		}
		return specs.LinuxTimeOffset{Secs: s, Nanosecs: uint32(ns)}
	}
	l.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": off(monotonic), "boottime": off(boottime)}
	return b
}

// WithNetwork sets the network mode: NetworkLoopback (a new network
// namespace with lo up, the default), NetworkNone (lo down), NetworkBridge
// (see WithPublish, WithBridge) or NetworkHost (no network namespace: the
// host's network, for trusted workloads only). To share another container's
// network namespace, use WithJoinNamespace.
func (b *Builder) WithNetwork(mode string) *Builder {
	l := b.linux()
	switch mode {
	case NetworkLoopback, NetworkNone, NetworkBridge:
		if !namespace.Has(l.Namespaces, namespace.Network) {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: namespace.Network})
		}
	case NetworkHost:
		l.Namespaces = slices.DeleteFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == namespace.Network })
	default:
		return b.fail("network mode %q: want loopback, none, bridge or host", mode)
	}
	b.spec.Annotations[AnnotationNetwork] = mode
	return b
}

// WithSysctl sets a kernel parameter inside the container ("net.ipv4.ip_forward",
// "1"). Only parameters a namespace of the container scopes are allowed: IPC
// ones with an ipc namespace, net.* with a network namespace.
func (b *Builder) WithSysctl(key, value string) *Builder {
	l := b.linux()
	if l.Sysctl == nil {
		l.Sysctl = map[string]string{}
	}
	l.Sysctl[key] = value
	return b
}

// WithHostname sets the hostname (needs the uts namespace).
func (b *Builder) WithHostname(name string) *Builder {
	if len(name) > 64 {
		return b.fail("hostname %q: longer than 64 bytes", name)
	}
	b.spec.Hostname = name
	return b
}

// WithEnv adds environment variables, each "KEY=VALUE"; a key given again
// replaces the earlier value.
func (b *Builder) WithEnv(kv ...string) *Builder {
	p := b.process()
	for _, e := range kv {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			b.fail("environment variable %q: want KEY=VALUE", e)
			continue
		}
		replaced := false
		for i, old := range p.Env {
			if ok, _ := envKey(old, k); ok {
				p.Env[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			p.Env = append(p.Env, e)
		}
	}
	return b
}

func envKey(kv, key string) (bool, string) {
	k, v, _ := strings.Cut(kv, "=")
	return k == key, v
}

// WithDir sets the working directory inside the container (absolute).
func (b *Builder) WithDir(dir string) *Builder {
	if !filepath.IsAbs(dir) {
		return b.fail("working directory %q: must be absolute", dir)
	}
	b.process().Cwd = dir
	return b
}

// WithUser runs the workload as uid:gid (IDs inside the container).
func (b *Builder) WithUser(uid, gid uint32, additionalGids ...uint32) *Builder {
	b.process().User = specs.User{UID: uid, GID: gid, AdditionalGids: additionalGids}
	return b
}

// WithStdin connects the workload's standard input. An *os.File is passed as it
// is; any other reader is copied through a pipe until it ends or the container exits.
func (b *Builder) WithStdin(r io.Reader) *Builder { b.stdin = r; return b }

// WithStdout connects the workload's standard output (an *os.File directly,
// anything else through a pipe). Without it, output is discarded.
func (b *Builder) WithStdout(w io.Writer) *Builder { b.stdout = w; return b }

// WithStderr connects the workload's standard error, like WithStdout.
func (b *Builder) WithStderr(w io.Writer) *Builder { b.stderr = w; return b }

// WithLogger sets the logger for the container's lifecycle (silent by default).
func (b *Builder) WithLogger(l *slog.Logger) *Builder { b.logger = l; return b }

// WithRootfs uses dir as the root filesystem as it is (writes change dir),
// the runc behaviour. Use WithLayers for a copy-on-write root.
func (b *Builder) WithRootfs(dir string) *Builder {
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return b.fail("rootfs %q: %w", dir, err)
		}
		dir = abs
	}
	if b.spec.Root == nil {
		b.spec.Root = &specs.Root{}
	}
	b.spec.Root.Path = dir
	b.spec.Annotations[AnnotationRootfs] = RootfsDir
	delete(b.spec.Annotations, AnnotationLayers)
	return b
}

// WithLayers stacks read-only layer directories (lowest first) under a
// private writable layer with overlayfs. The layers are never written; the
// writable layer is removed on Delete unless WithKeepLayer.
func (b *Builder) WithLayers(dirs ...string) *Builder {
	if len(dirs) == 0 {
		return b.fail("WithLayers: no layer given")
	}
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return b.fail("layer %q: %w", d, err)
		}
		abs[i] = a
	}
	raw, _ := json.Marshal(abs)
	b.spec.Annotations[AnnotationRootfs] = RootfsLayers
	b.spec.Annotations[AnnotationLayers] = string(raw)
	return b
}

// WithKeepLayer keeps the writable layer on disk after Delete (Container.LayerDir
// says where), so the caller can inspect or commit it.
func (b *Builder) WithKeepLayer() *Builder {
	b.spec.Annotations[AnnotationKeepLayer] = "true"
	return b
}

// WithReadonlyRootfs makes the root filesystem read-only (mounts on top of it
// keep their own modes).
func (b *Builder) WithReadonlyRootfs() *Builder {
	if b.spec.Root == nil {
		b.spec.Root = &specs.Root{}
	}
	b.spec.Root.Readonly = true
	return b
}

// WithMount adds a mount (bind, tmpfs, or any filesystem) in the runtime
// spec's form. Targets are resolved inside the container's root.
func (b *Builder) WithMount(m specs.Mount) *Builder {
	if !filepath.IsAbs(m.Destination) {
		return b.fail("mount destination %q: must be absolute", m.Destination)
	}
	b.spec.Mounts = append(b.spec.Mounts, m)
	return b
}

// WithBind bind-mounts the host path src at dst inside the container,
// read-only when readonly is true.
func (b *Builder) WithBind(src, dst string, readonly bool) *Builder {
	opts := []string{"rbind", "rprivate"}
	if readonly {
		opts = append(opts, "ro")
	}
	return b.WithMount(specs.Mount{Source: src, Destination: dst, Type: "bind", Options: opts})
}

// WithTmpfs mounts a fresh tmpfs at dst; size in bytes (0: the kernel's
// default, half the RAM) and mode (0: 1777).
func (b *Builder) WithTmpfs(dst string, size int64, mode uint32) *Builder {
	if mode == 0 {
		mode = 0o1777
	}
	opts := []string{"nosuid", "nodev", fmt.Sprintf("mode=%o", mode)}
	if size > 0 {
		opts = append(opts, fmt.Sprintf("size=%d", size))
	}
	return b.WithMount(specs.Mount{Source: "tmpfs", Destination: dst, Type: "tmpfs", Options: opts})
}

// WithNoPivotRoot enters the root filesystem with chroot instead of
// pivot_root. Only for hosts whose "/" is an initramfs, where pivot_root is
// impossible: with chroot the old root stays reachable to a process holding
// CAP_SYS_CHROOT, so never choose it otherwise.
func (b *Builder) WithNoPivotRoot() *Builder {
	b.spec.Annotations[AnnotationNoPivot] = "true"
	return b
}

// WithInit runs a small init as PID 1 (like docker run --init): it reaps
// orphaned processes and forwards signals to the workload. Without it the
// workload itself is PID 1, which ignores signals it has no handler for.
func (b *Builder) WithInit() *Builder {
	b.spec.Annotations[AnnotationInit] = "true"
	return b
}

// WithStateDir sets where per-container state (the writable layer) lives.
// Default: /var/lib/cocoon for root, $XDG_RUNTIME_DIR/cocoon (or
// ~/.local/share/cocoon) otherwise.
func (b *Builder) WithStateDir(dir string) *Builder {
	if !filepath.IsAbs(dir) {
		return b.fail("state directory %q: must be absolute", dir)
	}
	b.stateDir = dir
	return b
}

// WithID sets the container's ID (default: random). IDs name the writable
// layer and the cgroup, so they must be unique among live containers.
func (b *Builder) WithID(id string) *Builder {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/:,. \t\n") {
		return b.fail("container id %q: want 1-64 characters without '/', ':', ',', '.' or spaces", id)
	}
	b.id = id
	return b
}

// WithStopTimeout makes cancellation of the start context send SIGTERM first
// and SIGKILL only after d. Default 0: SIGKILL at once.
func (b *Builder) WithStopTimeout(d time.Duration) *Builder {
	b.stopWait = d
	return b
}

// Spec returns a copy of the spec that Start would run, or every error the
// builder collected. Docker's default seccomp profile, which the builder
// records as an annotation, is written out into linux.seccomp.
func (b *Builder) Spec() (*specs.Spec, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	s, err := copySpec(b.spec)
	if err != nil {
		return nil, err
	}
	if s.Linux.Seccomp, err = resolveSeccomp(s); err != nil {
		return nil, err
	}
	delete(s.Annotations, AnnotationSeccomp)
	return s, nil
}

// resolveSeccomp returns the spec's seccomp profile, Docker's default when
// the annotation asks for it (resolved for the spec's bounding set).
func resolveSeccomp(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	if s.Annotations[AnnotationSeccomp] != SeccompDefault {
		return s.Linux.Seccomp, nil
	}
	var bounding []string
	if s.Process != nil && s.Process.Capabilities != nil {
		bounding = s.Process.Capabilities.Bounding
	}
	p, err := security.DefaultSeccompProfile(bounding)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return p, nil
}

func (b *Builder) validate() error {
	errs := append([]error(nil), b.errs...)
	s := b.spec
	if s.Process == nil || len(s.Process.Args) == 0 {
		errs = append(errs, errors.New("process: no command given"))
	}
	var nss []specs.LinuxNamespace
	var uidMaps, gidMaps []specs.LinuxIDMapping
	if s.Linux != nil {
		nss, uidMaps, gidMaps = s.Linux.Namespaces, s.Linux.UIDMappings, s.Linux.GIDMappings
	}
	if err := namespace.Validate(nss, uidMaps, gidMaps); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		if ns.Path != "" && (ns.Type == namespace.Mount || ns.Type == namespace.User) {
			errs = append(errs, fmt.Errorf("join %s namespace %s: setns into a %s namespace from a multithreaded Go process: %w",
				ns.Type, ns.Path, ns.Type, namespace.ErrNotSupported))
		}
	}
	if s.Hostname != "" && !hasNew(nss, namespace.UTS) {
		errs = append(errs, fmt.Errorf("hostname %q needs a new uts namespace", s.Hostname))
	}
	mntNS, _ := namespace.Find(nss, namespace.Mount)
	mode := s.Annotations[AnnotationRootfs]
	switch mode {
	case RootfsHost, RootfsLayers, RootfsDir:
		if !namespace.Has(nss, namespace.Mount) {
			errs = append(errs, fmt.Errorf("root filesystem (%s): needs a new mount namespace", mode))
		}
	case "":
		if s.Root != nil && s.Root.Readonly {
			errs = append(errs, errors.New("read-only root: no root filesystem chosen"))
		}
	default:
		errs = append(errs, fmt.Errorf("annotation %s=%q: want host, layers or dir", AnnotationRootfs, mode))
	}
	if v := s.Annotations[AnnotationSeccomp]; v != "" && v != SeccompDefault {
		errs = append(errs, fmt.Errorf("annotation %s=%q: only %q is known", AnnotationSeccomp, v, SeccompDefault))
	}
	if _, err := landlockPolicy(s); err != nil {
		errs = append(errs, err)
	}
	if mode == RootfsDir && (s.Root == nil || s.Root.Path == "") {
		errs = append(errs, errors.New("root filesystem: no root.path"))
	}
	if mode == RootfsLayers {
		if _, err := b.layers(); err != nil {
			errs = append(errs, err)
		}
	}
	_ = mntNS
	if len(s.Mounts) > 0 && !namespace.Has(nss, namespace.Mount) {
		errs = append(errs, errors.New("mounts need a new mount namespace"))
	}
	if s.Linux != nil {
		for k := range s.Linux.Sysctl {
			if err := checkSysctl(s, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := validateNetwork(s); err != nil {
		errs = append(errs, err)
	}
	if s.Linux != nil && len(s.Linux.TimeOffsets) > 0 && !hasNew(nss, namespace.Time) {
		errs = append(errs, errors.New("time offsets need a new time namespace"))
	}
	if s.Process != nil {
		if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
			errs = append(errs, fmt.Errorf("process: working directory %q must be absolute", s.Process.Cwd))
		}
		if s.Process.Terminal {
			errs = append(errs, errors.New("process: terminal is not supported yet"))
		}
		if namespace.Has(nss, namespace.User) && len(uidMaps) > 0 {
			if _, ok := namespace.MapToHost(uidMaps, s.Process.User.UID); !ok {
				errs = append(errs, fmt.Errorf("user %d: not mapped in the user namespace", s.Process.User.UID))
			}
			if _, ok := namespace.MapToHost(gidMaps, s.Process.User.GID); !ok {
				errs = append(errs, fmt.Errorf("group %d: not mapped in the user namespace", s.Process.User.GID))
			}
		}
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			errs = append(errs, fmt.Errorf("mount %q: destination must be absolute", m.Destination))
		}
	}
	return errors.Join(errs...)
}

func hasNew(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	ns, ok := namespace.Find(nss, t)
	return ok && ns.Path == ""
}

func (b *Builder) layers() ([]string, error) {
	var dirs []string
	if err := json.Unmarshal([]byte(b.spec.Annotations[AnnotationLayers]), &dirs); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationLayers, err)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("annotation %s: no layer", AnnotationLayers)
	}
	return dirs, nil
}

// checkSysctl allows only the sysctls a namespace of the container's own
// scopes (as runc does): anything else would change the whole host.
func checkSysctl(spec *specs.Spec, key string) error {
	nss := spec.Linux.Namespaces
	if strings.Contains(key, "..") || strings.ContainsAny(key, "/\x00") {
		return fmt.Errorf("sysctl %q: invalid name", key)
	}
	switch {
	case key == "kernel.msgmax" || key == "kernel.msgmnb" || key == "kernel.msgmni" || key == "kernel.sem" ||
		key == "kernel.shmall" || key == "kernel.shmmax" || key == "kernel.shmmni" || key == "kernel.shm_rmid_forced" ||
		strings.HasPrefix(key, "fs.mqueue."):
		if hasNew(nss, namespace.IPC) {
			return nil
		}
		return fmt.Errorf("sysctl %s: needs a new ipc namespace", key)
	case strings.HasPrefix(key, "net."):
		if hasNew(nss, namespace.Network) {
			return nil
		}
		return fmt.Errorf("sysctl %s: needs a new network namespace", key)
	case key == "kernel.hostname" || key == "kernel.domainname":
		if hasNew(nss, namespace.UTS) {
			return nil
		}
		return fmt.Errorf("sysctl %s: needs a new uts namespace", key)
	}
	return fmt.Errorf("sysctl %s: not namespaced, it would change the host", key)
}
