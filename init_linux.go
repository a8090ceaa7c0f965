//go:build linux

package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/internal/initproto"
	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/rootfs"
	"github.com/cocoonrt/container/security"
)

// Init must be the first call in main (and in TestMain). In the normal program
// it returns at once. In a container's init — the caller's binary re-executed
// with argv[0] "cocoon-init" — it sets the container up and never returns:
// it executes the workload, or with WithInit stays as PID 1 until the workload ends.
func Init() {
	if !isInit {
		return
	}
	if unix.Gettid() != unix.Getpid() {
		fmt.Fprintln(os.Stderr, "cocoon-init: container.Init must be called from main, on the main goroutine")
		os.Exit(125)
	}
	os.Exit(runInit())
}

var isInit = len(os.Args) > 0 && os.Args[0] == initproto.Arg0

// In a container's init only, pin the main goroutine to the main thread while
// the runtime still holds it there (package initialization): the time
// namespace's offsets are written through /proc/self (the thread group
// leader's), and credentials and the final execve act on the calling thread.
// In any other process this does nothing.
func init() {
	if isInit {
		runtime.LockOSThread()
	}
}

type initError struct {
	step string
	err  error
}

func runInit() int {
	sock := os.NewFile(initproto.SyncFD, "cocoon-sync")
	if sock == nil {
		fmt.Fprintln(os.Stderr, "cocoon-init: no sync socket: this program is not meant to be run as cocoon-init by hand")
		return 125
	}
	// The workload inherits no fd but its stdio: not the socket, nor anything
	// the caller left open without close-on-exec (a directory fd would let
	// it openat(fd, "..") out of its root: the class of CVE-2024-21626).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		cloexecAll()
	}
	conn := initproto.NewConn(sock)
	var cfg initproto.Config
	if err := conn.Recv(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "cocoon-init: read config: %v\n", err)
		return 125
	}
	fail := func(e *initError) int {
		if err := conn.Send(initproto.ErrorMessage(e.step, e.err)); err != nil {
			fmt.Fprintf(os.Stderr, "cocoon-init: %s: %v\n", e.step, e.err)
		}
		return 125
	}
	// With WaitForGo the parent wires the network while this init mounts the
	// root filesystem; the init waits for it before pivot_root (the network's
	// files go into the root), or after setup when there is no root to build.
	waited := false
	waitForGo := func() (map[string][]byte, error) {
		waited = true
		if err := conn.Send(initproto.Message{Kind: initproto.KindReady}); err != nil {
			return nil, err
		}
		var msg initproto.Message
		if err := conn.Recv(&msg); err != nil {
			return nil, err
		}
		if msg.Kind != initproto.KindGo {
			return nil, fmt.Errorf("parent sent %q instead of go", msg.Kind)
		}
		return msg.Files, nil
	}
	if !cfg.WaitForGo {
		waitForGo = nil
	}
	path, e := setupContainer(&cfg, waitForGo)
	if e != nil {
		return fail(e)
	}
	if cfg.WaitForGo && !waited {
		if _, err := waitForGo(); err != nil {
			return fail(&initError{"wait for parent", err})
		}
	}
	if cfg.Security != nil {
		// Last: after this the init has only what the workload may have.
		if err := cfg.Security.Apply(); err != nil {
			step := "security"
			var ae *security.ApplyError
			if errors.As(err, &ae) {
				step = ae.Step
			}
			return fail(&initError{step, err})
		}
		// Changing the uid clears the parent-death signal (prctl(2)): set it
		// again, then make sure the parent did not die in between (its end
		// of the socket would be closed).
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fail(&initError{"parent-death signal", err})
		}
		if parentGone() {
			return 137
		}
	}
	p := cfg.Spec.Process
	if cfg.Init {
		return runAsInit(conn, sock, path, p)
	}
	// Tell the parent setup is over: end of file after this means execve
	// succeeded; end of file without it means the init died on the way.
	if err := conn.Send(initproto.Message{Kind: initproto.KindExec}); err != nil {
		return 125
	}
	err := unix.Exec(path, p.Args, p.Env)
	return fail(&initError{"exec " + p.Args[0], err})
}

// setupContainer runs every step that needs privileges, in runc's order, and
// returns the resolved path of the workload.
func setupContainer(cfg *initproto.Config, beforePivot func() (map[string][]byte, error)) (string, *initError) {
	spec := cfg.Spec
	nss := spec.Linux.Namespaces
	if cfg.UnshareCgroup {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return "", &initError{"cgroup namespace", err}
		}
	}
	if hasNew(nss, namespace.Network) && spec.Annotations[AnnotationNetwork] != NetworkNone {
		if err := loopbackUp(); err != nil {
			return "", &initError{"loopback", err}
		}
	}
	if hasNew(nss, namespace.UTS) {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return "", &initError{"hostname", err}
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return "", &initError{"domainname", err}
			}
		}
	}
	if hasNew(nss, namespace.Time) {
		if err := enterTimeNamespace(spec.Linux.TimeOffsets); err != nil {
			return "", &initError{"time namespace", err}
		}
	}
	// With a root to build, sysctls are written inside rootfs.Setup (after
	// pivot_root, before /proc/sys turns read-only); otherwise here.
	buildsRoot := hasNew(nss, namespace.Mount) && (cfg.Layers != nil || (spec.Root != nil && spec.Root.Path != ""))
	if buildsRoot {
		rc := &rootfs.Config{
			Layers:        cfg.Layers,
			Mounts:        spec.Mounts,
			Devices:       append(rootfs.DefaultDevices(), spec.Linux.Devices...),
			MaskedPaths:   spec.Linux.MaskedPaths,
			ReadonlyPaths: spec.Linux.ReadonlyPaths,
			Propagation:   spec.Linux.RootfsPropagation,
			NoPivot:       spec.Annotations[AnnotationNoPivot] == "true",
			UserNS:        namespace.Has(nss, namespace.User),
			CgroupNS:      namespace.Has(nss, namespace.Cgroup),
			BeforePivot:   beforePivot,
			AfterPivot:    func() error { return writeSysctls(spec) },

			CgroupHierarchies: cfg.CgroupHierarchies,
		}
		if spec.Root != nil {
			rc.Root, rc.Readonly = spec.Root.Path, spec.Root.Readonly
		}
		if cfg.Layers != nil {
			rc.Root = ""
		}
		if spec.Hostname != "" {
			rc.Files = map[string][]byte{"/etc/hostname": []byte(spec.Hostname + "\n")}
		}
		if err := rootfs.Setup(rc); err != nil {
			return "", &initError{"rootfs", err}
		}
	} else if hasNew(nss, namespace.Mount) {
		// No root change: keep the host's view, but never let a mount made in
		// here propagate back.
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return "", &initError{"mount propagation", err}
		}
	}
	if !buildsRoot {
		if err := writeSysctls(spec); err != nil {
			return "", &initError{"sysctl", err}
		}
	}
	p := spec.Process
	if err := unix.Chdir(p.Cwd); err != nil {
		return "", &initError{"chdir " + p.Cwd, err}
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return "", &initError{"exec " + p.Args[0], err}
	}
	return path, nil
}

// enterTimeNamespace unshares a time namespace for this thread's children and
// next execve, and sets its clock offsets before anything lives in it.
func enterTimeNamespace(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	var b strings.Builder
	for clock, off := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	// timens_offsets exists per process and acts on the thread group leader,
	// which is this thread (see init).
	return os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0)
}

func writeSysctls(spec *specs.Spec) error {
	for k, v := range spec.Linux.Sysctl {
		if err := checkSysctl(spec, k); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")), []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
	}
	return nil
}

// lookPath resolves the workload like execvp, with the container's PATH.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	path := ""
	for _, kv := range env {
		if ok, v := envKey(kv, "PATH"); ok {
			path = v
		}
	}
	if path == "" {
		path = strings.TrimPrefix(DefaultPath, "PATH=")
	}
	var firstErr error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("%q not found in PATH %s: %w", file, path, unix.ENOENT)
}

func executable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%s is a directory: %w", p, unix.EACCES)
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// runAsInit stays as PID 1: it starts the workload, forwards signals to it,
// reaps every orphan, reports the workload's wait status to the parent and
// exits with it. The init is made non-dumpable so processes in the container
// cannot open its /proc entries (its exe is the caller's binary).
func runAsInit(conn *initproto.Conn, sock *os.File, path string, p *specs.Process) int {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// The binary runs as /proc/self/fd/N; name it for ps.
	name := []byte("cocoon-init\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := &exec.Cmd{Path: path, Args: p.Args, Env: p.Env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Start(); err != nil {
		conn.Send(initproto.ErrorMessage("exec "+p.Args[0], err))
		return 127
	}
	if err := conn.Send(initproto.Message{Kind: initproto.KindStarted, Pid: cmd.Process.Pid}); err != nil {
		cmd.Process.Kill()
	}
	// The parent gone (socket closed) means nobody owns this container any
	// more. kill(-1) reaches every process of the pid namespace only when this
	// init is its PID 1; outside one it would reach the host's processes.
	go func() {
		io.Copy(io.Discard, sock)
		if unix.Getpid() == 1 {
			unix.Kill(-1, unix.SIGKILL)
		} else {
			unix.Kill(cmd.Process.Pid, unix.SIGKILL)
		}
		os.Exit(137)
	}()
	child := cmd.Process.Pid
	exited := make(chan unix.WaitStatus, 1)
	go func() {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if pid == child {
				exited <- ws
				return
			}
		}
	}()
	for {
		select {
		case sig := <-sigs:
			if sig == unix.SIGCHLD || sig == unix.SIGURG {
				continue // SIGURG: the Go runtime's own preemption signal
			}
			unix.Kill(child, sig.(syscall.Signal))
		case ws := <-exited:
			conn.Send(initproto.Message{Kind: initproto.KindExited, Status: int(ws)})
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}

// loopbackUp sets IFF_UP on lo in the container's new network namespace: one
// ioctl, cheaper than a netlink round trip, on the start path of every container.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// cloexecAll marks every fd above stderr close-on-exec, for kernels without
// close_range's CLOSE_RANGE_CLOEXEC (before 5.11).
func cloexecAll() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscanf(e.Name(), "%d", &fd); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// parentGone reports whether the parent's end of the sync socket is closed.
func parentGone() bool {
	fds := []unix.PollFd{{Fd: initproto.SyncFD, Events: unix.POLLIN | unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLRDHUP) != 0
}
