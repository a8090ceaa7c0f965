// Package container starts real Linux containers from a Go program, in-process:
// no daemon, no runc binary, no cgo.
//
//	func main() {
//		container.Init() // first thing: in a container's init it never returns
//
//		res, err := container.New("sh", "-c", "echo hello from $(hostname)").
//			WithHostname("box").
//			Run(ctx)
//	}
//
// # The model
//
// A Builder edits an OCI runtime spec (github.com/opencontainers/runtime-spec):
// every With... method changes the spec, Spec returns it for inspection, and
// FromSpec runs any config.json through the same path. Invalid settings are
// collected and returned as one error by Spec, Start and Run; nothing panics.
// Settings the runtime spec has no field for (the layers of an overlay root,
// an init process) are recorded as annotations under "cocoon.", so a spec is
// the whole description of a container and can be stored or sent.
//
// New starts from isolating defaults: new pid, mount, uts, ipc, network (with
// only lo, up) and cgroup namespaces, and the embedded default root filesystem
// (the host's "/" as a read-only lower layer under a private writable layer, with
// fresh /proc, /sys, /dev, /tmp and /run; see package rootfs). WithNamespaces
// narrows or widens the set; WithRootfs and WithLayers choose another root.
//
// # The init and the start path
//
// The caller's own binary is re-executed as the container's first process
// ("cocoon-init" in argv[0]). That is why Init must be called first thing in
// main (and in TestMain): in the normal program it returns at once; in the
// container's init it sets the container up and never returns. The binary is
// executed through a read-only, detached bind mount of itself (or, where that
// is not allowed, a sealed in-memory copy made once per process), so nothing in
// the container can write to the caller's binary through /proc/<pid>/exe (the
// class of CVE-2019-5736).
//
// Configuration travels to the init over an inherited socket (fd 3), never in
// the environment; failures come back as a *StepError naming the step
// ("rootfs: mount overlay on ...: invalid argument") with the errno kept, so
// errors.Is(err, unix.EPERM) works.
//
// # Lifetime
//
// Start returns a *Container; its context bounds the container's life:
// cancelling it kills the whole container (every process of its pid namespace).
// Wait returns how it ended (*Result: exit code, signal, typed reason); Delete
// releases what the container owns (writable layer, cgroup, network) and is the
// one release point; Run is Start+Wait+Delete.
//
// If the program that started a container dies, its containers die with it: the
// init is started with a parent-death signal (SIGKILL), and killing a pid
// namespace's first process kills every process in it. The parent-death signal
// is tied to the OS thread that forked the init: do not call Start from a
// goroutine that has locked its OS thread and then exits without unlocking it
// (go.dev/issue/27505). With WithInit, the init also kills the workload when
// its socket to the parent closes.
//
// Linux only; on other systems Start returns an error wrapping ErrNotSupported.
package container
