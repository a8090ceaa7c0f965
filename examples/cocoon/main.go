// Command cocoon is a small "docker run"-like program built only on the public
// API of github.com/cocoonrt/container:
//
//	cocoon run [flags] -- CMD [ARGS...]
//
// Exit status: the workload's own; 128+N when it was killed by signal N; 125
// when cocoon itself failed (with a one-line error on stderr); 126/127 when the
// command could not be executed / was not found, as docker does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/namespace"
	"github.com/cocoonrt/container/netsetup"
	"github.com/cocoonrt/container/security"
)

func main() {
	container.Init()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: cocoon run [flags] [--image REF] -- CMD [ARGS...]
       cocoon pull [--platform os/arch] REF
       cocoon load -i FILE|DIR [REF]
       cocoon images | rmi REF... | prune      (all take --store DIR)

Runs CMD in a new container: new pid, mount, uts, ipc, network and cgroup
namespaces, and by default the host's root filesystem as a read-only layer
under a private writable layer (nothing it writes reaches the host).
`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 125
	}
	switch args[0] {
	case "run":
	case "pull":
		return pullCmd(args[1:], stdout, stderr)
	case "load":
		return loadCmd(args[1:], stdout, stderr)
	case "images":
		return imagesCmd(args[1:], stdout, stderr)
	case "rmi":
		return rmiCmd(args[1:], stdout, stderr)
	case "prune":
		return pruneCmd(args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return 125
	}
	fs := flag.NewFlagSet("cocoon run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		env, tmpfs, volumes, layers multi
		capAdd, capDrop, ulimits    multi
		landlockRO, landlockRW      multi
		publish, dns, egress        multi
		hostname                    = fs.String("hostname", "", "hostname inside the container")
		workdir                     = fs.String("workdir", "", "working directory inside the container")
		user                        = fs.String("user", "", "UID[:GID] to run the command as")
		rootfsDir                   = fs.String("rootfs", "", "use DIR as the root filesystem as it is (writes change it)")
		readOnly                    = fs.Bool("read-only", false, "make the root filesystem read-only")
		withInit                    = fs.Bool("init", false, "run an init as PID 1 that reaps zombies and forwards signals")
		timeout                     = fs.Duration("timeout", 0, "kill the container after this long (e.g. 10s)")
		netMode                     = fs.String("net", "loopback", "network: none, loopback, bridge, host, container:ID or ns:PATH")
		name                        = fs.String("name", "", "container ID (default random); others can join it with --net container:ID")
		subnet                      = fs.String("subnet", "", "bridge subnet (default 10.77.0.0/16)")
		imageRef                    = fs.String("image", "", "run this image (pulled when not in the store)")
		store                       = storeFlag(fs)
		userns                      = fs.Bool("userns", false, "run in a new user namespace (root inside is unprivileged outside)")
		debug                       = fs.Bool("debug", false, "log the container's lifecycle to stderr")
		memory                      = fs.String("memory", "", "memory limit, e.g. 64m (swap included)")
		cpus                        = fs.Float64("cpus", 0, "CPU limit in cores, e.g. 0.5")
		pids                        = fs.Int64("pids", 0, "limit on processes and threads")
		cpuset                      = fs.String("cpuset", "", "CPUs to run on, e.g. 0 or 0-1")
		seccompOpt                  = fs.String("seccomp", "default", "seccomp profile: default (Docker's), unconfined, or a JSON FILE")
		privileged                  = fs.Bool("privileged", false, "DANGEROUS: every capability, no seccomp, no masked paths; the container's root can take over the host")
	)
	fs.Var(&env, "env", "KEY=VALUE environment variable (repeatable)")
	fs.Var(&layers, "layer", "read-only layer directory, lowest first (repeatable)")
	fs.Var(&tmpfs, "tmpfs", "PATH[:size=N] mount a tmpfs (repeatable)")
	fs.Var(&volumes, "v", "HOST:CTR[:ro] bind mount (repeatable)")
	fs.Var(&capAdd, "cap-add", "add a capability, e.g. NET_ADMIN or ALL (repeatable)")
	fs.Var(&capDrop, "cap-drop", "drop a capability, e.g. NET_RAW or ALL (repeatable)")
	fs.Var(&ulimits, "ulimit", "NAME=SOFT[:HARD] resource limit, e.g. nofile=1024:1024 (repeatable)")
	fs.Var(&landlockRO, "landlock-ro", "with Landlock, allow reading PATH (repeatable; any landlock flag denies the rest)")
	fs.Var(&landlockRW, "landlock-rw", "with Landlock, allow reading and writing PATH (repeatable)")
	fs.Var(&publish, "p", "[HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp] publish a port (repeatable; implies --net bridge)")
	fs.Var(&dns, "dns", "nameserver for /etc/resolv.conf (repeatable; bridge)")
	fs.Var(&egress, "egress-allow", "CIDR[:PORT] the only destinations allowed out (repeatable; bridge)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return 125
	}
	cmd := fs.Args()
	if len(cmd) == 0 && *imageRef == "" {
		fmt.Fprintln(stderr, "cocoon: no command given (cocoon run [flags] -- CMD [ARGS...])")
		return 125
	}
	b := container.New(cmd...)
	if *imageRef != "" {
		if *rootfsDir != "" || len(layers) > 0 {
			return fail(stderr, errors.New("--image cannot be combined with --rootfs or --layer"))
		}
		s, img, err := pullImage(*store, *imageRef, stderr)
		if err != nil {
			return fail(stderr, err)
		}
		b.WithImage(s.Runnable(img))
	}
	b.WithStdin(stdin).WithStdout(stdout).WithStderr(stderr)
	if *debug {
		b.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	if *hostname != "" {
		b.WithHostname(*hostname)
	}
	b.WithEnv(env...)
	if *workdir != "" {
		b.WithDir(*workdir)
	}
	if *user != "" {
		uid, gid, err := parseUser(*user)
		if err != nil {
			return fail(stderr, err)
		}
		b.WithUser(uid, gid)
	}
	switch {
	case *rootfsDir != "" && len(layers) > 0:
		return fail(stderr, errors.New("--rootfs and --layer cannot be combined"))
	case *rootfsDir != "":
		b.WithRootfs(*rootfsDir)
	case len(layers) > 0:
		b.WithLayers(layers...)
	}
	if *readOnly {
		b.WithReadonlyRootfs()
	}
	if *withInit {
		b.WithInit()
	}
	if *userns {
		b.WithUserNamespace(nil, nil)
	}
	if *name != "" {
		b.WithID(*name)
	}
	mode, arg, err := netsetup.ParseMode(*netMode)
	if err != nil {
		return fail(stderr, fmt.Errorf("--net: %w", err))
	}
	switch mode {
	case netsetup.ModeContainer:
		rec, err := container.Lookup("", arg)
		if err != nil {
			return fail(stderr, fmt.Errorf("--net %s: %w", *netMode, err))
		}
		b.WithJoinNamespace(namespace.Network, fmt.Sprintf("/proc/%d/ns/net", rec.Pid))
	case netsetup.ModeNS:
		b.WithJoinNamespace(namespace.Network, arg)
	default:
		b.WithNetwork(string(mode))
	}
	if len(publish) > 0 {
		b.WithPublish(publish...)
	}
	if *subnet != "" {
		b.WithBridge("", *subnet)
	}
	if len(dns) > 0 {
		b.WithDNS(dns...)
	}
	if len(egress) > 0 {
		b.WithEgressAllow(egress...)
	}
	if *privileged {
		b.WithPrivileged()
	}
	switch *seccompOpt {
	case "default":
	case "unconfined":
		b.WithSeccomp(nil)
	default:
		body, err := os.ReadFile(*seccompOpt)
		if err != nil {
			return fail(stderr, fmt.Errorf("--seccomp: %w", err))
		}
		spec, err := b.Spec()
		if err != nil {
			return fail(stderr, err)
		}
		profile, err := security.LoadSeccompProfile(body, spec.Process.Capabilities.Bounding)
		if err != nil {
			return fail(stderr, fmt.Errorf("--seccomp %s: %w", *seccompOpt, err))
		}
		b.WithSeccomp(profile)
	}
	if len(capAdd) > 0 {
		b.WithCapAdd(capAdd...)
	}
	if len(capDrop) > 0 {
		b.WithCapDrop(capDrop...)
	}
	for _, u := range ulimits {
		r, err := security.ParseUlimit(u)
		if err != nil {
			return fail(stderr, fmt.Errorf("--ulimit: %w", err))
		}
		b.WithRlimit(r.Type, r.Soft, r.Hard)
	}
	if len(landlockRO) > 0 || len(landlockRW) > 0 {
		b.WithLandlock(landlockRO, landlockRW, true)
	}
	if *memory != "" {
		n, err := parseSize(*memory)
		if err != nil {
			return fail(stderr, fmt.Errorf("--memory: %w", err))
		}
		b.WithMemoryLimit(n)
	}
	if *cpus != 0 {
		b.WithCPULimit(*cpus)
	}
	if *pids != 0 {
		b.WithPidsLimit(*pids)
	}
	if *cpuset != "" {
		b.WithCPUSet(*cpuset)
	}
	for _, t := range tmpfs {
		path, opt, _ := strings.Cut(t, ":")
		var size int64
		if opt != "" {
			v, ok := strings.CutPrefix(opt, "size=")
			if !ok {
				return fail(stderr, fmt.Errorf("--tmpfs %q: want PATH[:size=N]", t))
			}
			n, err := parseSize(v)
			if err != nil {
				return fail(stderr, fmt.Errorf("--tmpfs %q: %w", t, err))
			}
			size = n
		}
		b.WithTmpfs(path, size, 0)
	}
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
			return fail(stderr, fmt.Errorf("-v %q: want HOST:CTR[:ro]", v))
		}
		b.WithBind(parts[0], parts[1], len(parts) == 3 && parts[2] == "ro")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	c, err := b.Start(ctx)
	if err != nil {
		return failStart(stderr, err)
	}
	// Signals to cocoon go to the container, as docker run's signal proxy
	// does. A workload running as PID 1 ignores SIGINT and SIGTERM unless it
	// handles them, so after one of those the container gets 10 seconds (or
	// a second signal) before it is killed, as docker stop does.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var stopping <-chan time.Time
		for {
			select {
			case s, ok := <-sigs:
				if !ok {
					return
				}
				if (s == syscall.SIGINT || s == syscall.SIGTERM) && stopping != nil {
					c.Kill()
					continue
				}
				c.Signal(s)
				if s == syscall.SIGINT || s == syscall.SIGTERM {
					stopping = time.After(10 * time.Second)
				}
			case <-stopping:
				c.Kill()
				stopping = nil
			}
		}
	}()
	res, err := c.Wait()
	signal.Stop(sigs)
	close(sigs)
	if derr := c.Delete(); derr != nil {
		fmt.Fprintf(stderr, "cocoon: cleanup: %v\n", derr)
	}
	if err != nil {
		return fail(stderr, err)
	}
	switch res.Reason {
	case container.DeadlineExceeded:
		fmt.Fprintf(stderr, "cocoon: timeout after %s: container killed\n", timeout.Round(time.Millisecond))
	case container.OOMKilled:
		fmt.Fprintln(stderr, "cocoon: the container hit its memory limit and was killed by the OOM killer")
	}
	return res.ExitCode
}

func parseUser(s string) (uint32, uint32, error) {
	u, g, hasG := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
	}
	gid := uid
	if hasG {
		if gid, err = strconv.ParseUint(g, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional k, m or g suffix", s)
	}
	return n * mult, nil
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "cocoon: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	return 125
}

// failStart maps "command not found / not executable" to docker's 127 / 126.
func failStart(stderr io.Writer, err error) int {
	var se *container.StepError
	if errors.As(err, &se) && strings.HasPrefix(se.Step, "exec ") {
		fmt.Fprintf(stderr, "cocoon: %v\n", err)
		if errors.Is(err, unix.ENOENT) {
			return 127
		}
		return 126
	}
	return fail(stderr, err)
}
