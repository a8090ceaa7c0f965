// Command bench measures how long it takes to start a container with cocoon,
// next to runc and crun, on the same machine, in one run:
//
//	go run ./examples/bench -n 200
//
// It must run as root (it starts real containers). Setup is automatic and
// idempotent: runc, crun and a static busybox are installed with apt-get when
// missing (-install=false forbids that), a busybox root filesystem is built in
// a temporary directory, and the example CLI (examples/cocoon) is built once
// with "go build" (or taken from -cocoon-bin).
//
// # What is measured
//
// Every row starts "true" of the same static busybox (/bin/true of a busybox
// root directory shared by the rows, or the host's /bin/busybox where a row
// measures another root) with the namespaces cocoon creates by default (pid,
// network, ipc, uts, mount, cgroup; fewer only where a row says so), and waits
// for it to end. The time of one start is the wall time from the call to its
// return:
//
//   - in-process rows: container.New(...).Run(ctx) called from this Go
//     program: what a Go caller gets (builder, re-exec of the init, rootfs
//     setup, exec, wait and Delete). Variants: the plain directory
//     (WithRootfs), the same directory as an overlay layer (WithLayers: the
//     cost of overlayfs and of the private writable layer), and the default
//     root (the host's "/" as overlay lower layer);
//   - whole-process rows: fork+exec of a runtime binary until wait4 reaps it:
//     "cocoon run --rootfs DIR -- /bin/true", "runc run" and "crun run"
//     (--bundle, a unique container ID per start, stdin and stdout on
//     /dev/null, stderr in a file read back only when a start fails: no pipe),
//     plus a plain fork+exec of busybox true as the floor. Peak RSS (-rss-runs extra,
//     untimed starts per row) is the ru_maxrss that wait4 reports for the
//     process and its reaped descendants, taken under "busybox time": a Go
//     launcher would lend the child its own peak RSS through vfork;
//   - rootfs cost: cocoon without a mount namespace and without a root
//     filesystem, and with a new mount namespace but the host's mounts, next
//     to WithRootfs: the median of the per-round differences is the price
//     of the rootfs step per start;
//   - concurrent: -concurrent containers started at once (goroutines for
//     cocoon in-process, processes for the CLI, runc and crun), the total time
//     until the last has been reaped, repeated -burst-rounds times; every
//     start must succeed.
//
// The rows are interleaved: each round starts every row once, in an order
// shuffled per round (-order=fixed keeps A B C A B C), so drift in the
// machine's load hits every row alike; -warmup rounds are run first and not
// counted. The report gives min, median and p90 per row and the ratios of
// medians cocoon/runc and cocoon/crun, in-process and whole-process.
//
// # Same work for every runtime
//
// The OCI bundle given to runc and crun is cocoon's own spec for the same
// container (Builder.Spec of New("/bin/true").WithRootfs(dir)): the same
// mounts, masked and read-only paths, namespaces, a writable root, and
// whatever cocoon adds by default later (capabilities, seccomp, rlimits) flows
// into it. Only the spec version (runc 1.1.5 and crun 1.8.1 speak 1.0.x),
// cocoon's annotations and linux.cgroupsPath are changed. One difference is
// left on purpose and printed: runc and crun create and remove a cgroup in
// every hierarchy per start (linux.cgroupsPath /cocoon-bench/<id>), while cocoon,
// asked for no limit, creates none; the row "cocoon WithRootfs + own cgroup"
// (Builder.WithCgroup) is the like-for-like comparison. -memory 64m adds rows
// with a memory limit (swap = limit, as WithMemoryLimit sets it) for all
// three. Builder methods newer than this benchmark (WithCgroup,
// WithMemoryLimit) are looked up by reflection: the program builds before and
// after they exist, and their rows appear once they do. Add rows for later
// features (seccomp, capabilities) the same way.
//
// # This host's quirks
//
// crun 1.8.1 refuses hybrid cgroup hosts (v1 controllers plus cgroup2 at
// /sys/fs/cgroup/unified). On such a host every crun command runs inside a
// helper: this program re-executed once in a private mount namespace where
// /sys/fs/cgroup/unified is unmounted and a throw-away tmpfs put in its place
// (an unmount alone would let crun create directories in the host's
// /sys/fs/cgroup tmpfs). The helper times each crun start itself, exactly as
// the main process times the others (fork+exec+wait4 from a Go process), so the
// pipe to the helper is not counted; the two floor rows (main process and
// helper) show that both measure from the same baseline. crun leaves a
// directory and a cgroup.procs file per container in that tmpfs; the helper
// empties it after each request, untimed.
//
// Nothing is left behind: unique IDs per start, "runc delete -f" / "crun
// delete -f" after any failed start, and at the end a check of "runc list",
// "crun list", this run's cgroup directories in every hierarchy (under
// /cocoon-bench for runc and crun, whose empty parent is removed since they
// leave it behind, and /cocoon for cocoon), mounts, cocoon state directories,
// child processes and the temporary directory. Anything found is reported and
// fails the run. -csv writes every sample for analysis elsewhere.
//
// Exit status: 0 when every start succeeded and nothing leaked, 1 otherwise, 2
// for bad flags or a failed setup.
package main

import (
	"os"

	"github.com/cocoonrt/container"
)

func main() {
	// The bench starts cocoon containers in-process: its own binary is
	// re-executed as their init.
	container.Init()
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
