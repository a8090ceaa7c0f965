//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/namespace"
)

func role(args []string) (int, bool) {
	if len(args) > 0 && args[0] == helperArg0 {
		return helperMain(args[1:]), true
	}
	if len(args) == 2 && args[1] == selfReportArg {
		return selfReport(), true
	}
	return 0, false
}

// Row groups, in report order.
const (
	groupInProcess = "in-process: container.Run called from this Go program"
	groupWhole     = "whole process: fork+exec of a binary until wait4 reaps it"
	groupRootfs    = "rootfs cost: in-process, busybox true run by its host path"
	groupNetwork   = "network cost: in-process, the bridge in a namespace of the bench's own playing the host"
)

// row is one way of starting the workload, measured once per round.
type row struct {
	key   string // in container IDs and the CSV
	name  string
	group string
	start func(id string) sample
	// cleanup runs (untimed) after a failed start, for what the runtime may
	// have left (runc/crun state).
	cleanup func(id string)
	// Whole-process rows: the command for a start, and whether it runs in the helper.
	argv      func(id string) ([]string, error)
	viaHelper bool

	samples []sample // measured rounds, in round order (warm-up rounds are not kept)
	rss     []int64  // peak RSS (KiB) of the separate, untimed RSS starts
	fails   []string // every failure, warm-up included: "id: error"
}

type env struct {
	o        *options
	out      io.Writer
	runID    string
	tmp      string
	rootDir  string
	runc     string
	crun     string
	cocoon   string
	stateDir string
	p        *prober
	h        *helper
	net      *netHost // plays the host for the bridge rows
	seq      int      // container ID counter
}

func (e *env) id(key string) string {
	e.seq++
	return fmt.Sprintf("cb-%s-%s-%d", e.runID, key, e.seq)
}

func bench(o *options, stdout, stderr io.Writer) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bench: must run as root: it starts real containers with runc, crun and cocoon")
		return 2
	}
	if err := ensureTools(o.install, stderr); err != nil {
		fmt.Fprintf(stderr, "bench: setup: %v\n", err)
		return 2
	}
	e := &env{o: o, out: stdout, stateDir: container.DefaultStateDir()}
	var rb [3]byte
	rand.Read(rb[:])
	e.runID = hex.EncodeToString(rb[:])
	mountsBefore, err := mountPoints()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	code, err := e.setupAndRun()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		code = 2
	}
	// Cleanup and the leak check run whatever happened above.
	leaks := e.cleanup(mountsBefore)
	if len(leaks) == 0 {
		fmt.Fprintln(stdout, "\ncleanup: nothing left behind (runc list, crun list, cgroup dirs cocoon-bench/*, mounts, cocoon state dirs, child processes, temporary dir)")
	} else {
		fmt.Fprintln(stdout, "\ncleanup: LEFT BEHIND (a bug to report):")
		for _, l := range leaks {
			fmt.Fprintln(stdout, "  "+l)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

func (e *env) setupAndRun() (int, error) {
	var err error
	for _, t := range []struct {
		dst  *string
		name string
	}{{&e.runc, "runc"}, {&e.crun, "crun"}} {
		if *t.dst, err = exec.LookPath(t.name); err != nil {
			return 2, err
		}
	}
	if e.tmp, err = os.MkdirTemp("", "cocoon-bench-"+e.runID+"-"); err != nil {
		return 2, err
	}
	e.rootDir = filepath.Join(e.tmp, "rootfs")
	if err := busyboxRootfs(e.rootDir); err != nil {
		return 2, fmt.Errorf("busybox rootfs: %w", err)
	}
	e.cocoon = e.o.cocoonBin
	if e.cocoon == "" {
		if e.cocoon, err = buildCocoonCLI(e.tmp); err != nil {
			return 2, err
		}
	} else if e.cocoon, err = filepath.Abs(e.cocoon); err != nil {
		return 2, err
	}
	// First, before any child process: the namespace's thread is locked for
	// good and ends at close, and a child forked from a thread that ends gets
	// its parent-death signal (go.dev/issue/27505).
	if e.net, err = newNetHost(e.tmp); err != nil {
		return 2, fmt.Errorf("network namespace for the bridge rows: %w", err)
	}
	defer func() {
		if err := e.net.close(); err != nil {
			fmt.Fprintf(e.out, "bench: removing the bridge: %v\n", err)
		}
	}()
	errlog := filepath.Join(e.tmp, "stderr.log")
	if e.p, err = newProber(errlog); err != nil {
		return 2, err
	}
	if e.h, err = startHelper(errlog, cgroupMode() == "hybrid"); err != nil {
		return 2, err
	}

	for _, d := range []string{"bundle-runc", "bundle-crun"} {
		if err := os.Mkdir(filepath.Join(e.tmp, d), 0o755); err != nil {
			return 2, err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, l := range hostInfo(e.runc, e.crun) {
		fmt.Fprintln(e.out, l)
	}
	rows, notes := e.rows()
	seed := e.o.seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	fmt.Fprintf(e.out, "run:     %d measured rounds after %d warm-up rounds, %d rows, order %s (-seed %d), run id %s\n",
		e.o.n, e.o.warmup, len(rows), e.o.order, seed, e.runID)
	fmt.Fprintf(e.out, "rootfs:  %s (busybox; the root of every row but host-root and no-rootfs ones)\n", e.rootDir)
	fmt.Fprintln(e.out, "workload: busybox true; namespaces pid net ipc uts mount cgroup (less only where a row says so)")
	if s, err := bundleSpec(e.rootDir, "", 0); err == nil {
		fmt.Fprintf(e.out, "spec:    cocoon's for WithRootfs(dir), also runc's and crun's bundle: %s\n", specSummary(s))
	}
	var helperPid int
	if e.h != nil {
		helperPid = e.h.cmd.Process.Pid
	}
	cpu0, cpuErr := takeCPU(helperPid)
	t0 := time.Now()
	rng := mrand.New(mrand.NewPCG(uint64(seed), 0))
	order := make([]*row, len(rows))
	copy(order, rows)
	for round := 0; round < e.o.warmup+e.o.n && ctx.Err() == nil; round++ {
		if e.o.order == "shuffle" {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, r := range order {
			id := e.id(r.key)
			s := r.start(id)
			if s.err != nil {
				r.fails = append(r.fails, id+": "+s.err.Error())
				if r.cleanup != nil {
					r.cleanup(id)
				}
			}
			if round >= e.o.warmup {
				r.samples = append(r.samples, s)
			}
		}
	}
	seqTime := time.Since(t0)
	cpu1, err := takeCPU(helperPid)
	if cpuErr == nil {
		cpuErr = err
	}
	if cpuErr != nil {
		notes = append(notes, fmt.Sprintf("CPU use during the rounds unknown: %v", cpuErr))
	} else {
		notes = append(notes, cpuNote(cpuUse(cpu0, cpu1))...)
	}
	if ctx.Err() == nil {
		if n := e.measureRSS(rows); n != "" {
			notes = append(notes, n)
		}
	}
	var bursts []*burstRow
	if e.o.concurrent > 0 && ctx.Err() == nil {
		bursts = e.burstRows()
		e.runBursts(ctx, bursts, rng)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(e.out, "\ninterrupted: the numbers below are partial")
	}
	failed := e.report(rows, bursts, notes, seqTime)
	if e.o.csv != "" {
		if err := writeCSV(e.o.csv, rows, bursts); err != nil {
			return 2, fmt.Errorf("write %s: %w", e.o.csv, err)
		}
		fmt.Fprintf(e.out, "samples: %s\n", e.o.csv)
	}
	if failed || ctx.Err() != nil {
		return 1, nil
	}
	return 0, nil
}

// noRootfs edits a spec to keep the host's mounts: no root change, no
// standard mounts, nothing masked.
func noRootfs(s *specs.Spec) {
	s.Mounts = nil
	delete(s.Annotations, container.AnnotationRootfs)
	s.Linux.MaskedPaths = nil
	s.Linux.ReadonlyPaths = nil
}

// optional calls the builder method name with args when this version of
// cocoon has it, and reports whether it did. Rows for features that land
// after the benchmark (limits, cgroups, security) are looked up by reflection,
// so the benchmark builds before those APIs exist and measures them as soon
// as they do. Numbers are converted to the method's parameter type.
func optional(b *container.Builder, name string, args ...any) bool {
	m := reflect.ValueOf(b).MethodByName(name)
	if !m.IsValid() || m.Type().NumIn() != len(args) || m.Type().IsVariadic() {
		return false
	}
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		v, want := reflect.ValueOf(a), m.Type().In(i)
		switch {
		case v.Type().AssignableTo(want):
			in[i] = v
		case numeric(v.Kind()) && numeric(want.Kind()):
			in[i] = v.Convert(want)
		default:
			return false // reflect would convert 42 to "*", for one
		}
	}
	m.Call(in)
	return true
}

func numeric(k reflect.Kind) bool {
	return (k >= reflect.Int && k <= reflect.Uint64) || k == reflect.Float32 || k == reflect.Float64
}

func (e *env) rows() (rows []*row, notes []string) {
	inProc := func(key, name, group string, mk func(id string) *container.Builder) *row {
		return &row{key: key, name: name, group: group, start: func(id string) sample {
			t0 := time.Now()
			res, err := mk(id).Run(context.Background())
			d := time.Since(t0)
			if err == nil && !res.Success() {
				err = fmt.Errorf("container %s", res)
			}
			return sample{d: d, err: err}
		}}
	}
	rows = append(rows,
		inProc("rootfs", "cocoon WithRootfs(dir)", groupInProcess, func(id string) *container.Builder {
			return container.New("/bin/true").WithID(id).WithRootfs(e.rootDir)
		}),
		inProc("layers", "cocoon WithLayers(dir) (overlay)", groupInProcess, func(id string) *container.Builder {
			return container.New("/bin/true").WithID(id).WithLayers(e.rootDir)
		}),
		inProc("host", "cocoon default root (host / as lower)", groupInProcess, func(id string) *container.Builder {
			return container.New(busyboxPath, "true").WithID(id)
		}),
		inProc("nomnt", "cocoon, no mount ns, no rootfs", groupRootfs, func(id string) *container.Builder {
			return container.New(busyboxPath, "true").WithID(id).
				WithNamespaces(namespace.PID, namespace.Network, namespace.IPC, namespace.UTS, namespace.Cgroup).
				WithSpec(noRootfs)
		}),
		inProc("mntns", "cocoon, mount ns, host mounts", groupRootfs, func(id string) *container.Builder {
			return container.New(busyboxPath, "true").WithID(id).WithSpec(noRootfs)
		}),
		inProc("netnone", "cocoon WithRootfs, network none (lo down)", groupNetwork, func(id string) *container.Builder {
			return container.New("/bin/true").WithID(id).WithRootfs(e.rootDir).WithNetwork(container.NetworkNone)
		}),
		inProc("bridge", "cocoon WithRootfs, bridge (veth, address, NAT)", groupNetwork, func(id string) *container.Builder {
			return container.New("/bin/true").WithID(id).WithRootfs(e.rootDir).WithNetworkHost(e.net.h, e.net.state)
		}),
	)
	if optional(container.New("/bin/true"), "WithCgroup") {
		rows = append(rows, inProc("rootfscg", "cocoon WithRootfs + own cgroup (WithCgroup)", groupInProcess, func(id string) *container.Builder {
			b := container.New("/bin/true").WithID(id).WithRootfs(e.rootDir)
			optional(b, "WithCgroup")
			return b
		}))
	} else {
		notes = append(notes, "no cocoon row with a cgroup: this cocoon's Builder has no WithCgroup yet")
	}
	if e.o.memory > 0 {
		if optional(container.New("/bin/true"), "WithMemoryLimit", e.o.memory) {
			rows = append(rows, inProc("rootfsmem", fmt.Sprintf("cocoon WithRootfs + memory %s", size(e.o.memory)), groupInProcess, func(id string) *container.Builder {
				b := container.New("/bin/true").WithID(id).WithRootfs(e.rootDir)
				optional(b, "WithMemoryLimit", e.o.memory)
				return b
			}))
		} else {
			notes = append(notes, "-memory: no cocoon row: this cocoon's Builder has no WithMemoryLimit yet (runc and crun rows are shown)")
		}
	}

	floor := func(string) ([]string, error) { return []string{busyboxPath, "true"}, nil }
	cli := func(string) ([]string, error) {
		return []string{e.cocoon, "run", "--rootfs", e.rootDir, "--", "/bin/true"}, nil
	}
	rows = append(rows,
		e.wholeRow("floor", "fork+exec busybox true (no container)", false, floor, nil),
		e.wholeRow("floorh", "same, from the crun helper", true, floor, nil),
		e.wholeRow("cli", "cocoon run --rootfs DIR (examples/cocoon)", false, cli, nil),
	)
	runtimeRow := func(key, name, rt string, memory int64, viaHelper bool) *row {
		bundle := filepath.Join(e.tmp, "bundle-"+filepath.Base(rt))
		cleanup := func(id string) { exec.Command(rt, "delete", "-f", id).Run() }
		if viaHelper {
			cleanup = func(id string) { e.h.cmdOutput(rt, "delete", "-f", id) }
		}
		return e.wholeRow(key, name, viaHelper, func(id string) ([]string, error) {
			if err := writeBundle(bundle, e.rootDir, "/cocoon-bench/"+id, memory); err != nil {
				return nil, err
			}
			return []string{rt, "run", "--bundle", bundle, id}, nil
		}, cleanup)
	}
	crunName := "crun run"
	if cgroupMode() == "hybrid" {
		crunName = "crun run (in the helper's mount ns)"
	}
	rows = append(rows,
		runtimeRow("runc", "runc run", e.runc, 0, false),
		runtimeRow("crun", crunName, e.crun, 0, true),
	)
	if e.o.memory > 0 {
		rows = append(rows,
			runtimeRow("runcmem", "runc run + memory "+size(e.o.memory), e.runc, e.o.memory, false),
			runtimeRow("crunmem", crunName+" + memory "+size(e.o.memory), e.crun, e.o.memory, true),
		)
	}
	return rows, notes
}

// wholeRow times argv as a whole process, from this process or the helper.
// argv runs untimed before the start (it may write the bundle).
func (e *env) wholeRow(key, name string, viaHelper bool, argv func(id string) ([]string, error), cleanup func(id string)) *row {
	r := &row{key: key, name: name, group: groupWhole, argv: argv, viaHelper: viaHelper, cleanup: cleanup}
	r.start = func(id string) sample {
		a, err := argv(id)
		if err != nil {
			return sample{err: err}
		}
		if viaHelper {
			return e.h.start(a)
		}
		return e.p.start(a)
	}
	return r
}

func size(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "g"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "m"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

// burstRow starts e.o.concurrent containers at once, burst-rounds times.
type burstRow struct {
	key, name string
	// prepare writes what the burst needs (untimed) for these IDs.
	prepare func(ids []string) error
	run     func(ids []string) (time.Duration, []sample, error)
	cleanup func(id string)

	totals []time.Duration
	starts int
	fails  []string
}

func (e *env) burstRows() []*burstRow {
	rows := []*burstRow{{
		key: "brootfs", name: "cocoon WithRootfs(dir), in-process goroutines",
		run: func(ids []string) (time.Duration, []sample, error) {
			res := make([]sample, len(ids))
			done := make(chan struct{}, len(ids))
			t0 := time.Now()
			for i, id := range ids {
				go func() {
					ts := time.Now()
					r, err := container.New("/bin/true").WithID(id).WithRootfs(e.rootDir).Run(context.Background())
					if err == nil && !r.Success() {
						err = fmt.Errorf("container %s", r)
					}
					res[i] = sample{d: time.Since(ts), err: err}
					done <- struct{}{}
				}()
			}
			for range ids {
				<-done
			}
			return time.Since(t0), res, nil
		},
	}, {
		key: "bcli", name: "cocoon run --rootfs DIR, processes",
		run: func(ids []string) (time.Duration, []sample, error) {
			argvs := make([][]string, len(ids))
			for i := range ids {
				argvs[i] = []string{e.cocoon, "run", "--rootfs", e.rootDir, "--", "/bin/true"}
			}
			d, res := e.p.burst(argvs)
			return d, res, nil
		},
	}}
	rt := func(key, name, bin string, viaHelper bool) *burstRow {
		dir := filepath.Join(e.tmp, "burst-"+filepath.Base(bin))
		bundle := func(i int) string { return filepath.Join(dir, strconv.Itoa(i)) }
		argvs := func(ids []string) [][]string {
			a := make([][]string, len(ids))
			for i, id := range ids {
				a[i] = []string{bin, "run", "--bundle", bundle(i), id}
			}
			return a
		}
		b := &burstRow{key: key, name: name,
			prepare: func(ids []string) error {
				for i, id := range ids {
					if err := os.MkdirAll(bundle(i), 0o755); err != nil {
						return err
					}
					if err := writeBundle(bundle(i), e.rootDir, "/cocoon-bench/"+id, 0); err != nil {
						return err
					}
				}
				return nil
			},
			cleanup: func(id string) { exec.Command(bin, "delete", "-f", id).Run() },
			run: func(ids []string) (time.Duration, []sample, error) {
				d, res := e.p.burst(argvs(ids))
				return d, res, nil
			},
		}
		if viaHelper {
			b.cleanup = func(id string) { e.h.cmdOutput(bin, "delete", "-f", id) }
			b.run = func(ids []string) (time.Duration, []sample, error) { return e.h.burst(argvs(ids)) }
		}
		return b
	}
	return append(rows, rt("bcrun", "crun run, processes", e.crun, true), rt("brunc", "runc run, processes", e.runc, false))
}

// measureRSS runs every whole-process row -rss-runs more times, untimed,
// under busybox time (see busyboxMaxRSS for why).
func (e *env) measureRSS(rows []*row) (note string) {
	unit, err := calibrateRSS(e.tmp)
	if err != nil {
		return "no peak RSS: " + err.Error()
	}
	for i := 0; i < e.o.rssRuns; i++ {
		for _, r := range rows {
			if r.argv == nil {
				continue
			}
			id := e.id(r.key)
			a, err := r.argv(id)
			var n int64
			if err == nil {
				if r.viaHelper {
					n, err = e.h.rss(a)
				} else {
					n, err = busyboxMaxRSS(e.tmp, a)
				}
				n /= unit
			}
			if err != nil {
				r.fails = append(r.fails, id+" (rss start): "+err.Error())
				if r.cleanup != nil {
					r.cleanup(id)
				}
				continue
			}
			r.rss = append(r.rss, n)
		}
	}
	if unit != 1 {
		return fmt.Sprintf("busybox time's %%M divided by %d: this busybox takes ru_maxrss (KiB) for pages", unit)
	}
	return ""
}

func (e *env) runBursts(ctx context.Context, rows []*burstRow, rng *mrand.Rand) {
	order := append([]*burstRow(nil), rows...)
	for round := 0; round < e.o.burstRounds && ctx.Err() == nil; round++ {
		if e.o.order == "shuffle" {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, r := range order {
			ids := make([]string, e.o.concurrent)
			for i := range ids {
				ids[i] = e.id(r.key)
			}
			if r.prepare != nil {
				if err := r.prepare(ids); err != nil {
					r.fails = append(r.fails, "prepare: "+err.Error())
					continue
				}
			}
			total, res, err := r.run(ids)
			if err != nil {
				r.fails = append(r.fails, err.Error())
				continue
			}
			r.totals = append(r.totals, total)
			r.starts += len(res)
			for i, s := range res {
				if s.err != nil {
					r.fails = append(r.fails, ids[i]+": "+s.err.Error())
					if r.cleanup != nil {
						r.cleanup(ids[i])
					}
				}
			}
		}
	}
}

type stats struct {
	ok, fail           int
	min, median, p90   time.Duration
	rssMedian, rssPeak int64 // KiB, from the RSS starts
}

func statsOf(r *row) stats {
	var ds []time.Duration
	st := stats{fail: len(r.fails)}
	for _, s := range r.samples {
		if s.err == nil {
			ds = append(ds, s.d)
		}
	}
	if len(r.rss) > 0 {
		rss := slices.Sorted(slices.Values(r.rss))
		st.rssMedian, st.rssPeak = rss[len(rss)/2], rss[len(rss)-1]
	}
	st.ok = len(ds)
	if len(ds) == 0 {
		return st
	}
	slices.Sort(ds)
	st.min, st.median, st.p90 = ds[0], median(ds), quantile(ds, 0.9)
	return st
}

// median of sorted ds (the mean of the middle two for an even count).
func median(ds []time.Duration) time.Duration {
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// quantile by nearest rank, of sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[max(i, 0)]
}

// pairedDiff is the median of a-b over the rounds where both succeeded: the
// rows ran in the same rounds, so the difference cancels the drift of the
// machine's load.
func pairedDiff(a, b *row) (time.Duration, int) {
	var ds []time.Duration
	for i := range min(len(a.samples), len(b.samples)) {
		if a.samples[i].err == nil && b.samples[i].err == nil {
			ds = append(ds, a.samples[i].d-b.samples[i].d)
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return median(ds), len(ds)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func (e *env) report(rows []*row, bursts []*burstRow, notes []string, seqTime time.Duration) (failed bool) {
	w := e.out
	byKey := map[string]*row{}
	st := map[string]stats{}
	for _, r := range rows {
		byKey[r.key] = r
		st[r.key] = statsOf(r)
	}
	fmt.Fprintf(w, "\nwall time per start in ms (%d rounds in %s)\n", e.o.n, seqTime.Round(time.Millisecond))
	fmt.Fprintf(w, "%-52s %5s %5s %8s %8s %8s %15s\n", "row", "n", "fail", "min", "median", "p90", "peak RSS (KiB)")
	for _, g := range []string{groupInProcess, groupWhole, groupRootfs, groupNetwork} {
		fmt.Fprintf(w, "%s\n", g)
		for _, r := range rows {
			if r.group != g {
				continue
			}
			s := st[r.key]
			rss := "-"
			if s.rssPeak > 0 {
				rss = fmt.Sprintf("%d / %d", s.rssMedian, s.rssPeak)
			}
			if s.ok == 0 {
				fmt.Fprintf(w, "  %-50s %5d %5d %8s %8s %8s %15s\n", r.name, 0, s.fail, "-", "-", "-", rss)
				continue
			}
			fmt.Fprintf(w, "  %-50s %5d %5d %8s %8s %8s %15s\n", r.name, s.ok, s.fail, ms(s.min), ms(s.median), ms(s.p90), rss)
		}
	}
	fmt.Fprintf(w, "  (peak RSS: median / max of wait4's ru_maxrss over %d separate untimed starts under busybox time,\n", e.o.rssRuns)
	fmt.Fprintln(w, "   for the process and its reaped descendants; busybox's own share is at most the floor row's value)")

	fmt.Fprintln(w, "\nratios of medians (below 1: cocoon is faster)")
	ratio := func(label, a, b string) {
		sa, sb := st[a], st[b]
		if sa.ok == 0 || sb.ok == 0 || byKey[a] == nil || byKey[b] == nil {
			fmt.Fprintf(w, "  %-56s n/a (no successful start)\n", label)
			return
		}
		r := float64(sa.median) / float64(sb.median)
		fmt.Fprintf(w, "  %-56s %5.2f  (%s takes %.1fx as long)\n", label, r, byKey[b].name, 1/r)
	}
	ratio("in-process cocoon WithRootfs / runc run", "rootfs", "runc")
	ratio("in-process cocoon WithRootfs / crun run", "rootfs", "crun")
	if byKey["rootfscg"] != nil {
		ratio("in-process cocoon WithRootfs+WithCgroup / runc run", "rootfscg", "runc")
		ratio("in-process cocoon WithRootfs+WithCgroup / crun run", "rootfscg", "crun")
	}
	ratio("whole-process cocoon run --rootfs / runc run", "cli", "runc")
	ratio("whole-process cocoon run --rootfs / crun run", "cli", "crun")
	if byKey["rootfsmem"] != nil {
		ratio("in-process cocoon + memory / runc + memory", "rootfsmem", "runcmem")
		ratio("in-process cocoon + memory / crun + memory", "rootfsmem", "crunmem")
	}

	fmt.Fprintln(w, "\nper-start costs (median of per-round differences, ms)")
	diff := func(label, a, b string) {
		d, n := pairedDiff(byKey[a], byKey[b])
		if n == 0 {
			fmt.Fprintf(w, "  %-68s n/a\n", label)
			return
		}
		fmt.Fprintf(w, "  %-68s %6s  (%d rounds)\n", label, ms(d), n)
	}
	diff("rootfs step: WithRootfs - (no mount ns, no rootfs)", "rootfs", "nomnt")
	diff("  of which the mount ns: (mount ns, host mounts) - (no mount ns)", "mntns", "nomnt")
	diff("  of which mounts + pivot_root: WithRootfs - (mount ns, host mounts)", "rootfs", "mntns")
	diff("overlay: WithLayers - WithRootfs", "layers", "rootfs")
	diff("network loopback (the default): WithRootfs - network none", "rootfs", "netnone")
	diff("network bridge: bridge - WithRootfs (loopback)", "bridge", "rootfs")
	if byKey["rootfscg"] != nil {
		diff("own cgroup: WithRootfs+WithCgroup - WithRootfs", "rootfscg", "rootfs")
	}
	diff("whole process vs in-process: cocoon run --rootfs - WithRootfs", "cli", "rootfs")
	diff("crun helper vs main process floor (should be ~0)", "floorh", "floor")

	if len(bursts) > 0 {
		fmt.Fprintf(w, "\nconcurrent: %d containers started at once, total time until the last is reaped (ms), %d rounds\n", e.o.concurrent, e.o.burstRounds)
		fmt.Fprintf(w, "  %-46s %7s %6s %8s %8s %8s\n", "row", "starts", "fail", "min", "median", "max")
		for _, b := range bursts {
			if len(b.totals) == 0 {
				fmt.Fprintf(w, "  %-46s %7d %6d %8s %8s %8s\n", b.name, b.starts, len(b.fails), "-", "-", "-")
				continue
			}
			t := append([]time.Duration(nil), b.totals...)
			slices.Sort(t)
			fmt.Fprintf(w, "  %-46s %7d %6d %8s %8s %8s\n", b.name, b.starts, len(b.fails), ms(t[0]), ms(median(t)), ms(t[len(t)-1]))
		}
	}

	fmt.Fprintln(w, "\nnotes")
	fmt.Fprintln(w, "  - runc and crun create and remove a cgroup per start in every hierarchy (here /cocoon-bench/<id>);")
	fmt.Fprintln(w, "    cocoon, asked for no limit, creates none: the WithCgroup row, where shown, is the like-for-like one.")
	fmt.Fprintln(w, "    Otherwise all three are asked for the same work: the bundle is cocoon's own spec (see spec: above).")
	if cgroupMode() == "hybrid" {
		fmt.Fprintln(w, "  - crun 1.8.1 refuses hybrid cgroups: it runs in a helper process (a private mount namespace with a")
		fmt.Fprintln(w, "    tmpfs over /sys/fs/cgroup/unified) that times each start itself, like the main process does.")
		fmt.Fprintln(w, "    crun's cgroup2 writes land in that tmpfs, a little cheaper than the real cgroup2 runc writes to.")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "  - "+n)
	}

	for _, r := range rows {
		if len(r.fails) > 0 {
			failed = true
			fmt.Fprintf(w, "\nFAILED: %s: %d starts, first: %s\n", r.name, len(r.fails), r.fails[0])
		}
	}
	for _, b := range bursts {
		if len(b.fails) > 0 {
			failed = true
			fmt.Fprintf(w, "\nFAILED: concurrent %s: %d starts, first: %s\n", b.name, len(b.fails), b.fails[0])
		}
	}
	return failed
}

// cpuNote says how busy the machine was with other work during the rounds,
// and warns when that was enough to inflate the medians.
func cpuNote(self, kthreads, others float64) []string {
	n := runtime.NumCPU()
	notes := []string{fmt.Sprintf("CPU during the rounds: of %d CPUs, this benchmark kept %.2f busy, kernel threads %.2f (much of it\n"+
		"    tearing down the containers' namespaces and cgroups), other processes %.2f", n, self, kthreads, others)}
	if others > 0.25*float64(n) {
		notes = append(notes, "WARNING: other work competed for the CPUs: medians are inflated and the ratios less certain;\n"+
			"    quote numbers from a quiet machine (the min column is the least disturbed)")
	}
	return notes
}

func writeCSV(path string, rows []*row, bursts []*burstRow) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	cw.Write([]string{"kind", "row", "round", "value", "error"}) // value: ns for time and burst_total, KiB for rss_kib
	for _, r := range rows {
		for i, s := range r.samples {
			msg := ""
			if s.err != nil {
				msg = s.err.Error()
			}
			cw.Write([]string{"time", r.key, strconv.Itoa(i), strconv.FormatInt(int64(s.d), 10), msg})
		}
		for i, n := range r.rss {
			cw.Write([]string{"rss_kib", r.key, strconv.Itoa(i), strconv.FormatInt(n, 10), ""})
		}
	}
	for _, b := range bursts {
		for i, t := range b.totals {
			cw.Write([]string{"burst_total", b.key, strconv.Itoa(i), strconv.FormatInt(int64(t), 10), ""})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
