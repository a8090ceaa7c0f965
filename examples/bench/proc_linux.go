//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sample is one timed start: its wall time and why it failed.
type sample struct {
	d   time.Duration
	err error
}

// prober starts whole processes and times them. The main process and the crun
// helper use the same code, so their numbers are comparable.
type prober struct {
	devnull *os.File // stdin and stdout of every start: no pipe, no copying goroutine
	errlog  *os.File // stderr of every start, O_APPEND: read back only on failure
}

func newProber(errlogPath string) (*prober, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	errlog, err := os.OpenFile(errlogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		devnull.Close()
		return nil, err
	}
	return &prober{devnull: devnull, errlog: errlog}, nil
}

func (p *prober) Close() {
	p.devnull.Close()
	p.errlog.Close()
}

// start runs argv (argv[0] an absolute path: no PATH lookup in the timed
// span) and times it from just before fork to just after wait4.
func (p *prober) start(argv []string) sample {
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Stdin: p.devnull, Stdout: p.devnull, Stderr: p.errlog}
	off, _ := p.errlog.Seek(0, io.SeekEnd)
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	s := sample{d: d}
	if err != nil {
		s.err = fmt.Errorf("%s: %w%s", argv[0], err, p.stderrSince(off))
	}
	return s
}

// stderrSince returns what was written to the error log since off (under
// concurrency, possibly by another start too: it is a hint, not a proof).
func (p *prober) stderrSince(off int64) string {
	f, err := os.Open(p.errlog.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, off, 4096))
	if len(b) == 0 {
		return ""
	}
	return ": " + tail(b, 400)
}

// burst starts every argv at once and returns the time until the last one
// was reaped, with each start's own result.
func (p *prober) burst(argvs [][]string) (time.Duration, []sample) {
	res := make([]sample, len(argvs))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, argv := range argvs {
		wg.Go(func() { res[i] = p.start(argv) })
	}
	wg.Wait()
	return time.Since(t0), res
}

// The crun helper: this program re-executed in a private mount namespace (see
// the package doc). It reads requests on stdin and answers on stdout, one
// JSON value each, until stdin closes.
const helperArg0 = "cocoon-bench-helper"

type helperReq struct {
	Op    string     // "start", "burst", "rss" or "cmd" (untimed, output returned)
	Argv  []string   `json:",omitempty"`
	Argvs [][]string `json:",omitempty"`
}

type wireSample struct {
	Nanos int64
	Err   string `json:",omitempty"`
}

type helperResp struct {
	Samples []wireSample `json:",omitempty"`
	Nanos   int64        `json:",omitempty"` // burst: total
	Output  string       `json:",omitempty"` // cmd
	MaxRSS  int64        `json:",omitempty"` // rss
	Err     string       `json:",omitempty"`
}

func toWire(s sample) wireSample {
	w := wireSample{Nanos: int64(s.d)}
	if s.err != nil {
		w.Err = s.err.Error()
	}
	return w
}

func fromWire(w wireSample) sample {
	s := sample{d: time.Duration(w.Nanos)}
	if w.Err != "" {
		s.err = errors.New(w.Err)
	}
	return s
}

const unified = "/sys/fs/cgroup/unified"

// helperMain is the helper's whole life. args: error-log path, and
// "hide-unified" on a hybrid host.
func helperMain(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "bench helper: no error log given (not meant to be run by hand)")
		return 2
	}
	// Mounts below must not propagate to the host: the mount namespace is
	// new (CLONE_NEWNS) but starts with the host's shared peer groups.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "bench helper: make / private: %v\n", err)
		return 2
	}
	scrub := func() error { return nil }
	if len(args) > 1 && args[1] == "hide-unified" {
		if err := unix.Unmount(unified, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "bench helper: unmount %s: %v\n", unified, err)
			return 2
		}
		// Without this tmpfs, crun would create its v2 directories in the
		// host's /sys/fs/cgroup tmpfs, which this namespace shares.
		if err := unix.Mount("cocoon-bench", unified, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64m,mode=755"); err != nil {
			fmt.Fprintf(os.Stderr, "bench helper: mount tmpfs on %s: %v\n", unified, err)
			return 2
		}
		// crun takes the tmpfs for its cgroup2 tree and leaves a directory
		// and a cgroup.procs file there per container (rmdir on a tmpfs
		// directory with files fails): empty it after each request, untimed,
		// or it fills up.
		scrub = func() error {
			ents, err := os.ReadDir(unified)
			if err != nil {
				return err
			}
			for _, ent := range ents {
				if err := os.RemoveAll(filepath.Join(unified, ent.Name())); err != nil {
					return err
				}
			}
			return nil
		}
	}
	p, err := newProber(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench helper: %v\n", err)
		return 2
	}
	defer p.Close()
	dec, enc := json.NewDecoder(os.Stdin), json.NewEncoder(os.Stdout)
	for {
		var req helperReq
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "bench helper: read request: %v\n", err)
			return 2
		}
		var resp helperResp
		switch req.Op {
		case "start":
			resp.Samples = []wireSample{toWire(p.start(req.Argv))}
		case "burst":
			total, res := p.burst(req.Argvs)
			resp.Nanos = int64(total)
			for _, s := range res {
				resp.Samples = append(resp.Samples, toWire(s))
			}
		case "rss":
			n, err := busyboxMaxRSS(filepath.Dir(args[0]), req.Argv)
			resp.MaxRSS = n
			if err != nil {
				resp.Err = err.Error()
			}
		case "cmd":
			out, err := exec.Command(req.Argv[0], req.Argv[1:]...).CombinedOutput()
			resp.Output = string(out)
			if err != nil {
				resp.Err = err.Error()
			}
		default:
			resp.Err = fmt.Sprintf("unknown op %q", req.Op)
		}
		if err := scrub(); err != nil && resp.Err == "" {
			resp.Err = fmt.Sprintf("empty the tmpfs on %s: %v", unified, err)
		}
		if err := enc.Encode(&resp); err != nil {
			return 2
		}
	}
}

// helper is the main process's handle on the helper process.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	dec *json.Decoder
	mu  sync.Mutex
}

func startHelper(errlog string, hideUnified bool) (*helper, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{helperArg0, errlog}
	if hideUnified {
		args = append(args, "hide-unified")
	}
	cmd := &exec.Cmd{
		Path:   exe,
		Args:   args,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS,
			// The helper, its mount namespace and its tmpfs die with us.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		in.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		in.Close()
		return nil, fmt.Errorf("start helper in a new mount namespace: %w", err)
	}
	h := &helper{cmd: cmd, in: in, dec: json.NewDecoder(out)}
	// A helper that failed its setup exits at once: find out now, not at the
	// first crun start.
	if _, err := h.call(helperReq{Op: "cmd", Argv: []string{"/bin/true"}}); err != nil {
		h.Close()
		return nil, fmt.Errorf("helper: %w", err)
	}
	return h, nil
}

func (h *helper) call(req helperReq) (*helperResp, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := json.NewEncoder(h.in).Encode(&req); err != nil {
		return nil, fmt.Errorf("send to helper: %w", err)
	}
	var resp helperResp
	if err := h.dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("helper gave no answer (it died?): %w", err)
	}
	return &resp, nil
}

func (h *helper) start(argv []string) sample {
	resp, err := h.call(helperReq{Op: "start", Argv: argv})
	if err != nil {
		return sample{err: err}
	}
	if resp.Err != "" {
		return sample{err: errors.New("helper: " + resp.Err)}
	}
	if len(resp.Samples) != 1 {
		return sample{err: fmt.Errorf("helper: %d samples for one start", len(resp.Samples))}
	}
	return fromWire(resp.Samples[0])
}

func (h *helper) burst(argvs [][]string) (time.Duration, []sample, error) {
	resp, err := h.call(helperReq{Op: "burst", Argvs: argvs})
	if err != nil {
		return 0, nil, err
	}
	if resp.Err != "" {
		return 0, nil, errors.New("helper: " + resp.Err)
	}
	res := make([]sample, len(resp.Samples))
	for i, w := range resp.Samples {
		res[i] = fromWire(w)
	}
	return time.Duration(resp.Nanos), res, nil
}

func (h *helper) rss(argv []string) (int64, error) {
	resp, err := h.call(helperReq{Op: "rss", Argv: argv})
	if err != nil {
		return 0, err
	}
	if resp.Err != "" {
		return resp.MaxRSS, errors.New(resp.Err)
	}
	return resp.MaxRSS, nil
}

// cmdOutput runs argv in the helper's mount namespace, untimed.
func (h *helper) cmdOutput(argv ...string) (string, error) {
	resp, err := h.call(helperReq{Op: "cmd", Argv: argv})
	if err != nil {
		return "", err
	}
	if resp.Err != "" {
		return resp.Output, fmt.Errorf("%s: %s: %s", argv[0], resp.Err, tail([]byte(resp.Output), 400))
	}
	return resp.Output, nil
}

// Close ends the helper (stdin closed) and reaps it; its mount namespace and
// tmpfs go with it.
func (h *helper) Close() error {
	h.in.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		return fmt.Errorf("helper did not exit within 10s of its stdin closing: killed: %v", <-done)
	}
}

// Peak RSS is measured in separate, untimed starts through busybox's
// "time" applet, which starts the command and reports the ru_maxrss that
// wait4 gives for it (and its reaped descendants). A small launcher is needed
// because launchers start children with vfork (CLONE_VM): at execve the
// kernel folds the peak RSS of the memory the child shared, the launcher's,
// into the child's ru_maxrss, so a start from this Go program would report at
// least this program's own peak (about 4 MiB for a fresh one, more for the
// benchmark). busybox's own share is the floor row's value.
//
// busybox 1.35 prints ru_maxrss multiplied by pagesize/1024 (it takes KiB for
// pages): calibrateRSS finds the factor by measuring a process that knows
// its own peak, so a fixed busybox is not divided too.

// selfReportArg makes this program print its own peak RSS (VmHWM, KiB) and exit.
const selfReportArg = "-cocoon-bench-self-report"

func selfReport() int {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Println(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "no VmHWM in /proc/self/status")
	return 2
}

// busyboxMaxRSS runs argv under "busybox time -f %M" and returns what busybox
// printed (raw: see calibrateRSS). dir holds the report file.
func busyboxMaxRSS(dir string, argv []string) (int64, error) {
	f, err := os.CreateTemp(dir, "rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	var stderr bytes.Buffer
	cmd := exec.Command(busyboxPath, append([]string{"time", "-f", "%M", "-o", f.Name()}, argv...)...)
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	out, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	// A failing command adds a "Command exited with non-zero status" line first.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, perr := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if runErr != nil {
		return 0, fmt.Errorf("%s: %w: %s", argv[0], runErr, tail(stderr.Bytes(), 400))
	}
	if perr != nil {
		return 0, fmt.Errorf("busybox time printed %q: %w", out, perr)
	}
	return n, nil
}

// calibrateRSS returns the factor by which busybox time's %M exceeds KiB.
func calibrateRSS(dir string) (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	raw, err := busyboxMaxRSS(dir, []string{exe, selfReportArg})
	if err != nil {
		return 0, err
	}
	out, err := exec.Command(exe, selfReportArg).Output()
	if err != nil {
		return 0, err
	}
	self, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || self <= 0 {
		return 0, fmt.Errorf("self report %q: %v", out, err)
	}
	r := float64(raw) / float64(self)
	for _, f := range []int64{1, int64(os.Getpagesize() / 1024)} {
		if r > 0.75*float64(f) && r < 1.33*float64(f) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("busybox time reports %d for a process whose peak RSS is about %d KiB: unknown unit", raw, self)
}
