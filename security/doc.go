// Package security locks a container's workload down the way `docker run`
// does by default, in pure Go: seccomp, capabilities, no_new_privs,
// resource limits, the user/group switch and, beyond Docker, an optional
// Landlock filesystem policy.
//
// # Model
//
// Work is split in two, along the container start path:
//
//   - Parent, before the start: [Prepare] turns the runtime-spec process and
//     Linux sections into a [Plan]. It validates every name (capabilities,
//     rlimits, syscalls, architectures, actions) and compiles the seccomp
//     profile to classic BPF. Compiling is the only slow part (about 0.4 ms
//     for Docker's profile) and happens once per distinct profile and
//     process: [CompileSeccomp] caches by the profile's content.
//   - Init, the container's PID 1, after pivot_root, right before execve:
//     [Plan.Apply] enforces it in runc's order (rlimits, bounding set,
//     user and groups, capabilities, no_new_privs, Landlock, seccomp last).
//     A Plan is plain data and travels to the init as JSON.
//
// Defaults are helpers that the builder writes into the spec, so users can
// read them before anything runs: [DefaultCapabilities] (Docker's 14),
// [LinuxCapabilities], [DefaultSeccompProfile] (Docker's profile from
// github.com/moby/profiles/seccomp, resolved for the host and the bounding
// set), [AdjustCapabilities] for --cap-add/--cap-drop, [ParseUlimit].
//
// # The seccomp compiler
//
// Profiles compile to one BPF program covering every ABI the host kernel
// runs (x86_64, x32 and i386 on amd64; aarch64 and arm on arm64): an
// architecture check, x32 detected by the x32 bit of the syscall number, a
// jump per listed syscall, argument conditions as 64-bit unsigned
// comparisons done in 32-bit halves (all seven operators, MASKED_EQ
// included), and per-rule actions with their errno. An ABI the profile does
// not list kills the process; syscalls newer than the syscall tables get
// ENOSYS when the default action is an errno, so libc falls back (as runc
// does). Rules for one syscall are tried in profile order, conditional
// ones first, then its unconditional action, then the default. Repeated
// argument indexes in one rule are OR-ed, as runc and libseccomp do.
//
// Syscall numbers come from tables generated from golang.org/x/sys (see
// internal/gensyscalls). A name no architecture knows is an error; a name
// only other architectures know (Docker's profile lists riscv_hwprobe) is
// skipped, like libseccomp does.
//
// # When not to use it
//
// Apply changes the calling process for good. Call it only in a process that
// is about to execve the workload (the container's init), never in a
// long-running program. It does not do AppArmor or SELinux: Prepare refuses
// specs asking for them. SCMP_ACT_NOTIFY is not implemented and refused.
//
// # Pitfalls
//
//   - Capabilities, the bounding set and no_new_privs are per thread. Lock
//     the goroutine to its thread (runtime.LockOSThread) before Apply and
//     call execve from the same goroutine without unlocking. seccomp (TSYNC),
//     Landlock and the uid/gid change are applied to every thread. An init
//     that stays as PID 1 may instead fork+exec the workload (os/exec) from
//     that same locked goroutine: the child is cloned from the applied
//     thread. The init then runs under the same restrictions, as tini does.
//   - The Go runtime raises its own RLIMIT_NOFILE soft limit at start and
//     puts the old value back in syscall.Exec. Apply uses syscall.Setrlimit,
//     which tells the runtime not to, so the workload sees what was asked.
//   - Without no_new_privs the kernel only lets CAP_SYS_ADMIN load a filter:
//     Apply then loads seccomp before dropping capabilities, and the profile
//     must allow the remaining setup (Docker's does).
//   - In a user namespace the init must run as the namespace's root (for
//     example Credential{Uid: 0} when the caller's uid is not in the map),
//     or it has no capabilities to drop. setgroups may be denied there;
//     Apply tolerates that when no supplementary groups were asked for.
//   - Landlock needs no_new_privs (go-landlock sets it); Prepare refuses a
//     Landlock policy with noNewPrivileges off instead of overriding it.
//
// Man pages: seccomp(2), seccomp_unotify(2), capabilities(7), capset(2),
// prctl(2) (PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_KEEPCAPS,
// PR_CAP_AMBIENT), setrlimit(2), setgroups(2), landlock(7),
// landlock_restrict_self(2).
package security
