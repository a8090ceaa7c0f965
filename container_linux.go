//go:build linux

package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/cgroup"
	"github.com/cocoonrt/container/internal/initproto"
	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/netsetup"
	"github.com/cocoonrt/container/rootfs"
	"github.com/cocoonrt/container/security"
)

// State is where a container is in its life.
type State string

const (
	Running State = "running"
	Stopped State = "stopped"
	Deleted State = "deleted"
)

// Container is a started container. Its methods are safe for concurrent use.
type Container struct {
	id     string
	spec   *specs.Spec
	logger *slog.Logger
	cmd    *exec.Cmd
	pid    int
	pidNS  bool

	// Resources the container owns, released by Delete.
	writable *rootfs.Writable
	keep     bool
	stateDir string // the container's own state directory, when it has no writable layer
	cg       *cgroup.Cgroup
	leased   Image // the image leased for this container
	net      *netsetup.Attachment
	netHost  *netsetup.Host // opened for this container only (WithNetworkHostNS)

	done chan struct{} // closed when the init has been reaped
	// threadRelease ends the OS thread that forked the init, if it has one
	// of its own (see startInit): closed once the init is reaped.
	threadRelease chan struct{}
	result        *Result
	waitErr       error
	mu            sync.Mutex
	reason        Reason // why we killed it, if we did
	deleted       bool
	// Delete releases once; every caller gets that release's error.
	deleteOnce sync.Once
	deleteErr  error
	stopWait   time.Duration
}

// Start creates the container and starts its workload. ctx bounds the
// container's whole life: when it is cancelled the container is killed.
func (b *Builder) Start(ctx context.Context) (*Container, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	spec, err := copySpec(b.spec)
	if err != nil {
		return nil, err
	}
	if err := namespace.CheckJoinable(spec.Linux.Namespaces); err != nil {
		return nil, err
	}
	if err := checkRootlessMappings(spec); err != nil {
		return nil, err
	}
	if hasNew(spec.Linux.Namespaces, namespace.Time) && !kernelAtLeast(6, 2) {
		// Before 6.2 execve does not enter the time namespace made for the
		// caller's children (only fork does, and Go's fork shares memory,
		// which the kernel refuses then): refuse rather than run unshifted.
		return nil, fmt.Errorf("time namespace: needs Linux 6.2 or later, where execve enters it: %w", ErrNotSupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return start(ctx, b, spec)
}

// Run starts the container, waits for it and deletes it. A workload that
// exits non-zero is not an error: the Result says how it ended. The error is
// non-nil when the container could not start, could not be cleaned up, or was
// stopped by ctx (then errors.Is(err, ctx.Err()) and the Result is set too).
func (b *Builder) Run(ctx context.Context) (*Result, error) {
	c, err := b.Start(ctx)
	if err != nil {
		return nil, err
	}
	res, werr := c.Wait()
	derr := c.Delete()
	if werr != nil || derr != nil {
		return res, errors.Join(werr, derr)
	}
	switch res.Reason {
	case Canceled:
		return res, fmt.Errorf("container %s: %w", c.id, context.Canceled)
	case DeadlineExceeded:
		return res, fmt.Errorf("container %s: %w", c.id, context.DeadlineExceeded)
	}
	return res, nil
}

func newID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// DefaultStateDir is where containers keep their writable layers: /var/lib/cocoon
// for root; $XDG_RUNTIME_DIR/cocoon or ~/.local/share/cocoon otherwise.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/cocoon"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "cocoon")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "cocoon")
}

func start(ctx context.Context, b *Builder, spec *specs.Spec) (_ *Container, retErr error) {
	t0 := time.Now()
	logger := b.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id := b.id
	if id == "" {
		id = newID()
	}
	stateDir := b.stateDir
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	if spec.Hostname == "" && hasNew(spec.Linux.Namespaces, namespace.UTS) {
		// As docker: never leave the host's name in the container's uts namespace.
		spec.Hostname = id
	}
	c := &Container{id: id, spec: spec, logger: logger.With("container", id), done: make(chan struct{}), threadRelease: make(chan struct{}), stopWait: b.stopWait}
	nss := spec.Linux.Namespaces
	c.pidNS = hasNew(nss, namespace.PID)
	// Until the reaper owns the container, every error releases what was made.
	defer func() {
		if retErr != nil {
			c.release()
		}
	}()

	lap := func(step string) {
		if c.logger.Enabled(ctx, slog.LevelDebug) {
			c.logger.Debug("start step done", "step", step, "since start", time.Since(t0))
		}
	}
	plan, err := securityPlan(spec)
	if err != nil {
		return nil, stepErr("security", err)
	}
	lap("security plan")
	cfg := &initproto.Config{Kind: initproto.KindConfig, Spec: specForInit(spec), Security: plan, Init: spec.Annotations[AnnotationInit] == "true"}
	if spec.Annotations[AnnotationRootfs] != "" && hasNew(nss, namespace.Cgroup) {
		cfg.CgroupHierarchies, _ = cgroupLayout() // on error the init reads it itself
	}
	switch spec.Annotations[AnnotationRootfs] {
	case RootfsHost, RootfsLayers:
		if spec.Annotations[AnnotationRootfs] == RootfsHost && os.Geteuid() != 0 && hasCap(spec, "CAP_SYS_ADMIN") {
			// Rootless, the host root and its hiding mounts are made in a mount
			// namespace the container's own user namespace owns: with
			// CAP_SYS_ADMIN it could unmount them and see the caller's files.
			return nil, stepErr("rootfs", fmt.Errorf("an unprivileged caller's container on the host root cannot have CAP_SYS_ADMIN (it could unmount what hides the host): %w", ErrNotSupported))
		}
		lowers := []string{"/"}
		if spec.Annotations[AnnotationRootfs] == RootfsLayers {
			var err error
			if lowers, err = b.layers(); err != nil {
				return nil, err
			}
		}
		l := &rootfs.Layers{Lower: lowers, HostRoot: spec.Annotations[AnnotationRootfs] == RootfsHost, Hide: []string{stateDir}}
		if err := l.Validate(); err != nil {
			return nil, stepErr("rootfs", err)
		}
		w, err := rootfs.NewWritable(filepath.Join(stateDir, "containers"), id)
		if err != nil {
			return nil, stepErr("rootfs", err)
		}
		c.writable, c.keep = w, spec.Annotations[AnnotationKeepLayer] == "true"
		if err := chownToContainerRoot(spec, w.Dir, w.Upper, w.Work, w.Target); err != nil {
			return nil, stepErr("rootfs", err)
		}
		l.Upper, l.Work, l.Target = w.Upper, w.Work, w.Target
		// A layer deleted with the container needs no syncs; a kept one does.
		l.Volatile = !c.keep && kernelAtLeast(5, 10)
		cfg.Layers = l
	}
	if b.image != nil {
		// After the writable layer: it claims the ID the lease is named by.
		if err := b.image.Lease(ctx, id); err != nil {
			return nil, stepErr("image", err)
		}
		c.leased = b.image
	}

	var netCfg *netsetup.Config
	if spec.Annotations[AnnotationNetwork] == NetworkBridge {
		nc, err := netsetupConfig(spec)
		if err != nil {
			return nil, stepErr("network", err)
		}
		nc.Logger = c.logger
		switch {
		case b.netHost != nil:
			nc.Host = b.netHost
		case nc.HostNS == "":
			if nc.Host, err = sharedNetHost(ctx, nc); err != nil {
				return nil, stepErr("network", err)
			}
		default:
			if c.netHost, err = netsetup.OpenHost(nc.HostNS); err != nil {
				return nil, stepErr("network", err)
			}
			nc.Host = c.netHost
		}
		netCfg = &nc
		cfg.WaitForGo = true
	}

	if wantsCgroup(spec) {
		cg, err := cgroup.New(cgroup.Config{
			Parent:    spec.Annotations[AnnotationCgroupParent],
			Name:      "cocoon-" + id,
			Resources: spec.Linux.Resources,
			Logger:    c.logger,
		})
		if err != nil {
			return nil, stepErr("cgroup", err)
		}
		c.cg = cg
	}

	lap("rootfs, network and cgroup preparation")
	exe, err := protectedExe()
	if err != nil {
		return nil, stepErr("init binary", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, stepErr("socketpair", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "cocoon-sync")
	childSock := os.NewFile(uintptr(fds[1]), "cocoon-sync-child")
	defer childSock.Close()
	var closeParent = true
	defer func() {
		if closeParent {
			parentSock.Close()
		}
	}()

	pidfd := -1
	cmd := &exec.Cmd{
		Path:       exePath(exe),
		Args:       []string{initproto.Arg0},
		Env:        initEnv(cfg.Init),
		Dir:        "/",
		Stdin:      b.stdin,
		Stdout:     b.stdout,
		Stderr:     b.stderr,
		ExtraFiles: []*os.File{childSock},
		// Pipes of non-*os.File streams are closed this long after the
		// container exits, even if a stray holder keeps them open.
		WaitDelay: 2 * time.Second,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 namespace.CloneFlags(nss),
			Pdeathsig:                  syscall.SIGKILL,
			Setsid:                     true,
			PidFD:                      &pidfd,
			GidMappingsEnableSetgroups: os.Geteuid() == 0,
		},
	}
	if hasNew(nss, namespace.User) {
		// Become the container's root once the maps are written: a process
		// whose uid is unmapped loses every capability at execve.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	for _, m := range spec.Linux.UIDMappings {
		cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range spec.Linux.GIDMappings {
		cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	if c.cg != nil && c.cg.PlacementFD() >= 0 {
		// cgroup v2: the init is born inside its cgroup (CLONE_INTO_CGROUP)
		// and never runs a moment unlimited.
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, c.cg.PlacementFD()
	}
	c.cmd = cmd

	// A privileged caller mounts a user-namespaced container's overlay itself
	// (see rootfs.PremountOverlay); an unprivileged one cannot, and the init
	// does what a user namespace allows (rootfs.Setup).
	premount := cfg.Layers != nil && hasNew(nss, namespace.User) && os.Geteuid() == 0
	if err := startInit(cmd, nss, cfg.Layers, premount, c.threadRelease); err != nil {
		return nil, stepErr("start init", err)
	}
	if pidfd >= 0 {
		// os.Process keeps its own pidfd for Wait and Signal.
		unix.Close(pidfd)
	}
	c.pid = cmd.Process.Pid
	childSock.Close()
	// Until the watcher takes over, ctx still bounds the start: an init stuck
	// in setup (a hung bind source, say) is killed, and the reads below end.
	stopEarly := context.AfterFunc(ctx, func() { c.cmd.Process.Kill() })
	defer stopEarly()
	lap("init forked")
	if c.cg != nil && c.cg.PlacementFD() < 0 {
		// cgroup v1: placed after clone, before the init reads its config
		// (it waits for it), so nothing of the container runs unlimited.
		if err := c.cg.Attach(c.pid); err != nil {
			c.abort()
			return nil, stepErr("cgroup", err)
		}
		// The cgroup namespace made at clone is rooted where the init was
		// born; the init makes a new one rooted at its own cgroup.
		cfg.UnshareCgroup = hasNew(nss, namespace.Cgroup)
	}
	conn := initproto.NewConn(parentSock)
	if err := conn.Send(cfg); err != nil {
		c.abort()
		return nil, stepErr("send config", err)
	}
	lap("config sent")
	var msg initproto.Message
	if netCfg != nil {
		// The init builds its root meanwhile and waits before pivot_root.
		att, err := netsetup.Attach(ctx, *netCfg, namespace.ProcPath(c.pid, namespace.Network), id)
		if err != nil {
			c.abort()
			return nil, stepErr("network", err)
		}
		c.net = att
		if err := conn.Recv(&msg); err != nil || msg.Kind != initproto.KindReady {
			c.abort()
			if err == nil && msg.Kind == initproto.KindError {
				return nil, &StepError{Step: msg.Step, Err: msg.Cause()}
			}
			return nil, stepErr("init", fmt.Errorf("no ready from the container's init: %v %v", err, msg.Kind))
		}
		if err := conn.Send(initproto.Message{Kind: initproto.KindGo, Files: att.Files()}); err != nil {
			c.abort()
			return nil, stepErr("init", err)
		}
	}
	err = conn.Recv(&msg)
	if err == nil && msg.Kind == initproto.KindExec && !cfg.Init {
		err = conn.Recv(&msg)
		if errors.Is(err, io.EOF) {
			err, msg.Kind = nil, initproto.KindExec
		}
	} else if errors.Is(err, io.EOF) {
		err = fmt.Errorf("the init died during setup (%w)", io.ErrUnexpectedEOF)
	}
	switch {
	case cfg.Init && err == nil && msg.Kind == initproto.KindStarted:
		// The init stays and reports the workload's end on the socket.
	case !cfg.Init && err == nil && msg.Kind == initproto.KindExec:
		// close-on-exec: the workload is running.
	case err == nil && msg.Kind == initproto.KindError:
		c.abort()
		return nil, &StepError{Step: msg.Step, Err: msg.Cause()}
	case err != nil:
		c.abort()
		return nil, stepErr("init", fmt.Errorf("no answer from the container's init: %w", err))
	default:
		c.abort()
		return nil, stepErr("init", fmt.Errorf("unexpected message %q", msg.Kind))
	}
	if err := c.record(stateDir, t0); err != nil {
		c.abort()
		return nil, stepErr("state", err)
	}
	closeParent = false
	c.logger.Debug("container started", "pid", c.pid, "took", time.Since(t0))
	go c.reap(t0, conn, parentSock, cfg.Init)
	go c.watch(ctx)
	return c, nil
}

// callerNetHost is the host side of bridge networking in the caller's own
// network namespace: opened on first use, shared by every container of the
// process for its whole life (netsetup.Host is safe for concurrent use). The
// first use also reclaims what crashed processes left (leases, veths, rules).
var callerNetHost struct {
	sync.Mutex
	h *netsetup.Host
}

func sharedNetHost(ctx context.Context, cfg netsetup.Config) (*netsetup.Host, error) {
	callerNetHost.Lock()
	defer callerNetHost.Unlock()
	if callerNetHost.h != nil {
		return callerNetHost.h, nil
	}
	h, err := netsetup.OpenHost("")
	if err != nil {
		return nil, err
	}
	cfg.Host = h
	if err := netsetup.Cleanup(ctx, cfg); err != nil {
		h.Close()
		return nil, fmt.Errorf("reclaim leftovers: %w", err)
	}
	callerNetHost.h = h
	return h, nil
}

// securityPlan compiles the spec's security settings (the seccomp filter is
// compiled once per distinct profile and process).
func securityPlan(spec *specs.Spec) (*security.Plan, error) {
	seccomp, err := resolveSeccomp(spec)
	if err != nil {
		return nil, err
	}
	lin := *spec.Linux
	lin.Seccomp = seccomp
	var opts []security.Option
	ll, err := landlockPolicy(spec)
	if err != nil {
		return nil, err
	}
	if ll != nil {
		opts = append(opts, security.WithLandlock(ll))
	}
	return security.Prepare(spec.Process, &lin, opts...)
}

// specForInit leaves out what the init gets compiled (the seccomp profile).
func specForInit(spec *specs.Spec) *specs.Spec {
	s := *spec
	lin := *spec.Linux
	lin.Seccomp = nil
	s.Linux = &lin
	return &s
}

// startInit forks the init: on the forker thread (see forker), or, to join
// namespaces by path or premount the overlay (user namespaces), on a
// dedicated OS thread that the init is forked from and inherits them from.
// That thread is never given back to the scheduler (it holds foreign
// namespaces, or a private mount namespace and fs struct), and since the
// init's parent-death signal follows it, it stays parked until the
// container is reaped (release is closed), then ends. (Threads that are not
// locked never fork an init, so the end of one harms no container.)
func startInit(cmd *exec.Cmd, nss []specs.LinuxNamespace, layers *rootfs.Layers, premount bool, release <-chan struct{}) error {
	if !premount && !namespace.NeedsThread(nss) {
		return onForkerThread(cmd.Start)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		err := namespace.Join(nss)
		if err == nil && premount {
			err = rootfs.PremountOverlay(layers, cmd.Start)
		} else if err == nil {
			err = cmd.Start()
		}
		errc <- err
		if err == nil {
			<-release
		}
	}()
	return <-errc
}

// checkRootlessMappings refuses, for an unprivileged caller, user namespace
// maps the kernel would refuse with a bare EPERM: without privileges a
// process may map only its own uid and gid, one ID each. Wider maps need
// the setuid helpers newuidmap/newgidmap and /etc/subuid, not used yet.
func checkRootlessMappings(spec *specs.Spec) error {
	if os.Geteuid() == 0 || !hasNew(spec.Linux.Namespaces, namespace.User) {
		return nil
	}
	ok := func(maps []specs.LinuxIDMapping, own int) bool {
		return len(maps) == 1 && maps[0].Size == 1 && int(maps[0].HostID) == own
	}
	if !ok(spec.Linux.UIDMappings, os.Geteuid()) || !ok(spec.Linux.GIDMappings, os.Getegid()) {
		return fmt.Errorf("user namespace: an unprivileged caller can map only its own uid %d and gid %d, one ID each (wider maps need newuidmap/newgidmap, which cocoon does not use yet): %w",
			os.Geteuid(), os.Getegid(), ErrNotSupported)
	}
	return nil
}

func hasCap(spec *specs.Spec, name string) bool {
	return spec.Process != nil && spec.Process.Capabilities != nil && slices.Contains(spec.Process.Capabilities.Bounding, name)
}

// forker is the one OS thread that forks every init without a thread of its
// own. The parent-death signal of a child follows the thread that forked
// it, and any goroutine that locks an OS thread and exits (this package's
// own, netsetup's, the caller's) ends that thread: an init forked from an
// arbitrary thread could be killed by the next such exit. This thread is
// locked for the life of the process and does nothing else, so it never
// ends. Forks are serialized through it (each waits for the child's execve,
// well under a millisecond).
var forker struct {
	once sync.Once
	reqs chan forkRequest
}

type forkRequest struct {
	start func() error
	errc  chan error
}

func onForkerThread(start func() error) error {
	forker.once.Do(func() {
		forker.reqs = make(chan forkRequest)
		go func() {
			runtime.LockOSThread() // for good: see forker
			for r := range forker.reqs {
				r.errc <- r.start()
			}
		}()
	})
	errc := make(chan error, 1)
	forker.reqs <- forkRequest{start, errc}
	return <-errc
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var maj, min int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &maj, &min)
	return maj > major || (maj == major && min >= minor)
}

// cgroupLayout is the host's cgroup hierarchies, read once per process.
var cgroupLayout = sync.OnceValues(rootfs.Hierarchies)

// initEnv is the init's environment (the workload's comes from the spec):
// settings for its Go runtime only. One P and no cgroup-aware GOMAXPROCS
// (which parses /proc/self/mountinfo at start-up) make the runtime start
// faster; an init that execs the workload within milliseconds needs no GC.
func initEnv(stays bool) []string {
	env := []string{"GOMAXPROCS=1", "GODEBUG=cgroupgomaxprocs=0,updatemaxprocs=0"}
	if !stays {
		env = append(env, "GOGC=off")
	}
	return env
}

// record writes the container's Record into its state directory, created
// here when the container has no writable layer; Delete removes it.
func (c *Container) record(stateDir string, t0 time.Time) error {
	dir := filepath.Join(stateDir, "containers", c.id)
	if c.writable == nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		c.stateDir = dir
	}
	start, err := pidStart(c.pid)
	if err != nil {
		return err
	}
	return writeRecord(dir, &Record{ID: c.id, Pid: c.pid, PidStart: start, Created: t0})
}

// chownToContainerRoot gives the writable layer to the container's root when
// a user namespace maps it elsewhere: overlayfs is mounted, and writes the
// upper layer, with the mounter's credentials. The state directory above it
// must be traversable by that user (NewWritable makes its own levels 0711).
func chownToContainerRoot(spec *specs.Spec, dirs ...string) error {
	if !hasNew(spec.Linux.Namespaces, namespace.User) {
		return nil
	}
	uid, ok1 := namespace.MapToHost(spec.Linux.UIDMappings, 0)
	gid, ok2 := namespace.MapToHost(spec.Linux.GIDMappings, 0)
	if !ok1 || !ok2 {
		return errors.New("container root (uid 0 / gid 0) is not mapped in the user namespace")
	}
	for _, d := range dirs {
		if err := os.Chown(d, int(uid), int(gid)); err != nil {
			return err
		}
	}
	return nil
}

// abort kills a half-started container and reaps its init.
func (c *Container) abort() {
	c.kill(Killed)
	c.cmd.Wait()
	close(c.threadRelease)
}

// reap waits for the init, records the result and closes done. It is the only
// caller of cmd.Wait once Start has returned.
func (c *Container) reap(t0 time.Time, conn *initproto.Conn, sock *os.File, withInit bool) {
	var status *syscall.WaitStatus
	if withInit {
		var msg initproto.Message
		if err := conn.Recv(&msg); err == nil && msg.Kind == initproto.KindExited {
			ws := syscall.WaitStatus(msg.Status)
			status = &ws
		}
	}
	err := c.cmd.Wait()
	close(c.threadRelease)
	sock.Close()
	res := &Result{Started: t0, Finished: time.Now()}
	if status == nil {
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			status = &ws
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		c.waitErr = err
	}
	switch {
	case status == nil:
		res.Reason, res.ExitCode = Exited, -1
	case status.Signaled():
		res.Reason, res.Signal, res.ExitCode = Signaled, status.Signal(), 128+int(status.Signal())
	default:
		res.Reason, res.ExitCode = Exited, status.ExitStatus()
	}
	if c.cg != nil {
		// As docker's OOMKilled: the OOM killer ended a process of the
		// container, whether the first process or one of its children (a
		// shell then exits 137 on its own).
		if oom, _ := c.cg.OOMKilled(); oom {
			res.Reason = OOMKilled
		}
	}
	c.mu.Lock()
	if c.reason != "" && res.Reason != OOMKilled {
		res.Reason = c.reason
	}
	c.result = res
	c.mu.Unlock()
	c.logger.Debug("container exited", "result", res.String())
	close(c.done)
}

// watch kills the container when ctx ends first.
func (c *Container) watch(ctx context.Context) {
	select {
	case <-c.done:
		return
	case <-ctx.Done():
	}
	reason := Canceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = DeadlineExceeded
	}
	if c.stopWait > 0 {
		c.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
			return
		case <-time.After(c.stopWait):
		}
	}
	c.kill(reason)
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.id }

// Pid returns the host PID of the container's first process.
func (c *Container) Pid() int { return c.pid }

// Spec returns the spec the container was started with.
func (c *Container) Spec() *specs.Spec { s, _ := copySpec(c.spec); return s }

// NamespacePath returns the path by which another container can join this
// one's namespace of type t (WithJoinNamespace), valid while it runs.
func (c *Container) NamespacePath(t specs.LinuxNamespaceType) string {
	return namespace.ProcPath(c.pid, t)
}

// IPAddress returns the container's address on its bridge (the zero Addr
// unless it uses bridge networking).
func (c *Container) IPAddress() netip.Addr {
	if c.net == nil {
		return netip.Addr{}
	}
	return c.net.Address().Addr()
}

// Gateway returns the bridge's address, the container's default route (the
// zero Addr unless it uses bridge networking).
func (c *Container) Gateway() netip.Addr {
	if c.net == nil {
		return netip.Addr{}
	}
	return c.net.Gateway()
}

// LayerDir returns the directory of the writable layer ("" without one). With
// WithKeepLayer it survives Delete.
func (c *Container) LayerDir() string {
	if c.writable == nil {
		return ""
	}
	return c.writable.Dir
}

// State reports whether the container runs, has stopped or was deleted.
func (c *Container) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return Deleted
	}
	select {
	case <-c.done:
		return Stopped
	default:
		return Running
	}
}

// Wait blocks until the container's first process has ended and returns how.
func (c *Container) Wait() (*Result, error) {
	<-c.done
	return c.result, c.waitErr
}

// Done is closed when the container has ended.
func (c *Container) Done() <-chan struct{} { return c.done }

// Signal sends sig to the container's first process. A workload running as
// PID 1 ignores signals it has no handler for (except SIGKILL); WithInit
// forwards them to the workload instead.
func (c *Container) Signal(sig os.Signal) error {
	select {
	case <-c.done:
		return ErrNotRunning
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrNotRunning
		}
		return err
	}
	return nil
}

// Kill kills every process of the container and returns once it has ended.
func (c *Container) Kill() error {
	c.kill(Killed)
	<-c.done
	return nil
}

func (c *Container) kill(reason Reason) {
	select {
	case <-c.done:
		// Reaped: its PID (and process group) may belong to another process now.
		return
	default:
	}
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
	}
	c.mu.Unlock()
	// SIGKILL to the first process of a pid namespace kills all of it; without
	// one, the process group (the init is a session leader) is what we have.
	if !c.pidNS {
		unix.Kill(-c.pid, unix.SIGKILL)
	}
	c.cmd.Process.Kill()
	if c.cg != nil {
		// Also the processes that left the init's process tree.
		c.cg.Kill()
	}
}

// Stats returns the container's resource usage from its cgroup.
func (c *Container) Stats() (*cgroup.Stats, error) {
	if c.cg == nil {
		return nil, fmt.Errorf("container %s has no cgroup (set a limit or WithCgroup): %w", c.id, ErrNotSupported)
	}
	return c.cg.Stats()
}

// Pause freezes every process of the container (cgroup freezer).
func (c *Container) Pause() error {
	if c.cg == nil {
		return fmt.Errorf("container %s has no cgroup (set a limit or WithCgroup): %w", c.id, ErrNotSupported)
	}
	return c.cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if c.cg == nil {
		return fmt.Errorf("container %s has no cgroup (set a limit or WithCgroup): %w", c.id, ErrNotSupported)
	}
	return c.cg.Thaw()
}

// Delete kills the container if it still runs and releases everything it
// owns: the writable layer (unless kept), and later its cgroup and network.
// It is the one release point; calling it again does nothing.
func (c *Container) Delete() error {
	select {
	case <-c.done:
	default:
		c.kill(Killed)
		<-c.done
	}
	c.deleteOnce.Do(func() {
		c.mu.Lock()
		c.deleted = true
		c.mu.Unlock()
		c.deleteErr = c.release()
	})
	return c.deleteErr
}

// Close is Delete, for io.Closer.
func (c *Container) Close() error { return c.Delete() }

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// release frees what the container owns. Called once, by Delete or by a
// failing Start.
func (c *Container) release() error {
	var errs []error
	if c.net != nil {
		errs = append(errs, c.net.Release())
	}
	if c.netHost != nil {
		errs = append(errs, c.netHost.Close())
	}
	if c.cg != nil {
		errs = append(errs, c.cg.Destroy())
	}
	if c.writable != nil {
		if c.keep {
			// The layer stays for the caller (and Reclaim leaves it); the
			// record of a live container does not.
			errs = append(errs, ignoreNotExist(os.Remove(filepath.Join(c.writable.Dir, recordFile))))
			errs = append(errs, os.WriteFile(filepath.Join(c.writable.Dir, keptFile), nil, 0o600))
		} else {
			errs = append(errs, c.writable.Remove())
		}
	}
	if c.stateDir != "" {
		errs = append(errs, os.RemoveAll(c.stateDir))
	}
	if c.leased != nil {
		errs = append(errs, c.leased.ReleaseLease(c.id))
	}
	return errors.Join(errs...)
}
