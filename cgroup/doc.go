// Package cgroup gives a container hard resource limits the kernel enforces
// and tells the caller what happened inside: usage, OOM kills, and a way to
// freeze or kill every process at once.
//
// # Model
//
// A Cgroup is one directory per hierarchy, named after the container, under a
// parent. New creates it and applies a runtime spec's linux.resources;
// Destroy (the only release point) kills what is left inside and removes it.
// Two drivers sit behind the one type:
//
//   - cgroup v2 (the design target): one directory. New delegates every
//     controller the parent offers down to it, and PlacementFD returns an
//     open directory fd for SysProcAttr{UseCgroupFD, CgroupFD}, so with
//     CLONE_INTO_CGROUP the container's init is born inside and never runs
//     unlimited. Freeze uses cgroup.freeze, Kill uses cgroup.kill, OOM kills
//     come from memory.events.
//   - cgroup v1 and hybrid hosts (v1 controllers, a cgroup2 mount beside
//     them): a directory in each v1 hierarchy. There is no placement fd; the
//     parent must Attach the child before letting it run. Kill freezes,
//     sends SIGKILL to every member and thaws; OOM kills come from
//     memory.oom_control.
//
// The runtime spec's resources are v1-shaped; on v2 they are converted the
// way runc and crun do (cpu shares to cpu.weight, blkio weight to io.weight,
// memory+swap to memory.swap.max), so one config.json means the same
// everywhere.
//
// # Where cgroups are created
//
// New never assumes the caller owns the hierarchy's root. On v2 the default
// parent is "<the caller's own cgroup>/cocoon". v2 forbids a non-root cgroup
// to hold processes while it enables controllers for its children (the
// no-internal-processes rule), so when the caller's cgroup still holds
// processes and does not yet delegate, New moves every process of that
// cgroup (the caller and its siblings there) into "<own>/leaf" and logs it.
// That is what works inside a systemd unit with Delegate=yes or inside a
// container with its own cgroup namespace. On v1/hybrid hosts the default
// parent is "/cocoon" in every hierarchy: the caller's own v1 cgroups may
// belong to a supervisor that must not get children. Config.Parent overrides
// both; a parent given by the caller is never removed, the default one is
// removed by the Destroy that empties it.
//
// # Values the host cannot enforce
//
// A limit that cannot be enforced fails New with an error wrapping
// ErrNotSupported that names it: a controller the parent does not delegate,
// a missing interface file (memory.swap.max without swap accounting,
// blkio weight without CFQ/BFQ), kernel memory limits, net_cls/net_prio,
// rdma, and device rules on v2 (they need an eBPF program this package does
// not load; the container's own /dev is the isolation there). Nonsensical
// values (a zero memory limit, swap below the memory limit) wrap ErrInvalid;
// the kernel's refusals wrap its errno.
//
// # When not to use it
//
// A process that only wants to limit itself needs setrlimit(2), not a
// cgroup. On a host managed by systemd without delegation, ask systemd for a
// scope (over D-Bus) and pass it as Config.Parent instead of writing into a
// tree systemd believes it owns.
//
// # Pitfalls
//
//   - On v1 a child started before Attach runs unlimited until attached:
//     hold it (the init waits for the parent's go-ahead) until Attach
//     returns.
//   - A real-time task cannot join a v1 cpu cgroup whose cpu.rt_runtime_us
//     is 0 (the default for new cgroups); Attach says so.
//   - A v1 cpuset cgroup starts with no CPUs and no memory nodes; New copies
//     the parent's.
//   - Zombies do not keep a cgroup busy: Destroy can remove it before the
//     caller reaps the init.
//
// Man pages and kernel documents: cgroups(7), clone(2) (CLONE_INTO_CGROUP),
// Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/*.rst in the Linux
// source.
package cgroup
