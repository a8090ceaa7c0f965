package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cocoonrt/container/internal/vmtest/guest"
)

// Options says what to test in the VM and how.
type Options struct {
	// Package is one Go package pattern (./cgroup), resolved in ModuleDir.
	Package string
	// ModuleDir is where go builds run; "" is the working directory.
	ModuleDir string
	// TestArgs go to the test binary as they are (-test.run=..., -test.v).
	TestArgs []string
	// Env is added to the guest test's environment (PATH, HOME and TMPDIR
	// are set already).
	Env []string
	// Timeout bounds the test run inside the guest; when it fires the guest
	// sends SIGQUIT (a goroutine dump) and reports a timeout.
	Timeout time.Duration
	// CacheDir keeps the downloaded kernel; "" is DefaultCacheDir().
	CacheDir string
	// Modules to load in the guest; nil is DefaultModules.
	Modules []string
	// Memory for the guest in MiB (0: 1024) and its CPU count (0: 2).
	MemoryMiB, CPUs int
	// Stdout receives the test output as it arrives; nil is os.Stdout.
	Stdout io.Writer
	// KernelLog is where the guest's console goes; "" keeps it in the work
	// dir, and its tail is part of the error when the guest fails.
	KernelLog string
	// Logf reports the runner's own progress; nil is silent.
	Logf func(format string, args ...any)
}

// Result is how the guest run ended.
type Result struct {
	// ExitCode is the test binary's exit status (128+signal when killed).
	ExitCode int
	// TimedOut is set when the guest-side timeout fired.
	TimedOut bool
	Boot     time.Duration // from QEMU start to the test's start
	Total    time.Duration
}

// ErrGuest is wrapped by errors about the VM itself (no boot, no status
// line, setup in the guest failed), as opposed to failing tests.
var ErrGuest = errors.New("vmtest: guest failed")

// Run builds the package's test binary and a static PID 1, boots them in a
// QEMU (TCG) VM with a pure cgroup v2 kernel, streams the test output, and
// returns the test's exit status.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Package == "" {
		return nil, errors.New("vmtest: no package")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.Modules == nil {
		o.Modules = DefaultModules
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w (apt-get install qemu-system-x86)", err)
	}
	busybox, err := staticBusybox()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "cocoon-vmtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	k, err := ensureKernel(ctx, o.CacheDir, logf)
	if err != nil {
		return nil, err
	}
	eager, err := resolveModules(k.modDir, o.Modules)
	if err != nil {
		return nil, err
	}
	table, aliases, files, err := onDemand(k.modDir, onDemandTrees)
	if err != nil {
		return nil, err
	}
	mods := moduleSet{dir: k.modDir, eager: eager, table: table, aliases: aliases, files: append(files, eager...)}
	logf("vmtest: building %s and the guest init", o.Package)
	if err := goCmd(ctx, o.ModuleDir, "build", "-o", filepath.Join(work, "init"), "github.com/cocoonrt/container/internal/vmtest/guestinit"); err != nil {
		return nil, err
	}
	testBin := filepath.Join(work, "pkg.test")
	if err := goCmd(ctx, o.ModuleDir, "test", "-c", "-o", testBin, o.Package); err != nil {
		return nil, err
	}
	if _, err := os.Stat(testBin); err != nil {
		return nil, fmt.Errorf("vmtest: %s has no tests to run: %w", o.Package, err)
	}
	pkgDir, err := goOutput(ctx, o.ModuleDir, "list", "-f", "{{.Dir}}", o.Package)
	if err != nil {
		return nil, err
	}

	initrd := filepath.Join(work, "initramfs.cpio")
	if err := writeInitramfs(initrd, work, busybox, testBin, pkgDir, mods, o); err != nil {
		return nil, fmt.Errorf("vmtest: initramfs: %w", err)
	}
	kernelLog := o.KernelLog
	if kernelLog == "" {
		kernelLog = filepath.Join(work, "kernel.log")
	}

	// The host-side limit covers boot and shutdown on top of the guest's own.
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+2*time.Minute)
	defer cancel()
	args := []string{
		"-machine", "pc,accel=tcg", "-cpu", "max", "-m", fmt.Sprint(o.MemoryMiB), "-smp", fmt.Sprint(o.CPUs),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", k.vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 rdinit=/init panic=-1 oops=panic loglevel=6 mitigations=off audit=0 random.trust_cpu=on",
		"-serial", "file:" + kernelLog, // ttyS0: kernel log
		"-chardev", "stdio,id=out,signal=off", "-serial", "chardev:out", // ttyS1: test output
	}
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.WaitDelay = 5 * time.Second
	var qemuErr bytes.Buffer
	cmd.Stderr = &qemuErr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	logf("vmtest: booting %s (kernel log: %s)", filepath.Base(k.vmlinuz), kernelLog)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vmtest: start qemu: %w", err)
	}
	res := &Result{ExitCode: -1}
	status := ""
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, "\r") == guest.StartMarker {
			res.Boot = time.Since(begin)
			continue
		}
		if s, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), guest.Marker); ok {
			status = s
			continue
		}
		fmt.Fprintln(o.Stdout, line)
	}
	werr := cmd.Wait()
	res.Total = time.Since(begin)
	switch {
	case status == guest.StatusTimeout:
		res.TimedOut = true
		return res, nil
	case status == guest.StatusFailed:
		return res, fmt.Errorf("%w: setup in the guest failed (message above)%s", ErrGuest, logTail(kernelLog))
	case status != "":
		if _, err := fmt.Sscan(status, &res.ExitCode); err != nil {
			return res, fmt.Errorf("%w: bad status line %q", ErrGuest, status)
		}
		return res, nil
	case ctx.Err() != nil:
		res.TimedOut = true
		return res, fmt.Errorf("%w: no status after %v (host-side limit); qemu killed%s", ErrGuest, o.Timeout+2*time.Minute, logTail(kernelLog))
	default:
		return res, fmt.Errorf("%w: the VM ended without reporting a status (boot failure or kernel panic?); qemu: %v %s%s",
			ErrGuest, werr, bytes.TrimSpace(qemuErr.Bytes()), logTail(kernelLog))
	}
}

func logTail(p string) string {
	b, err := os.ReadFile(p)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "\nlast kernel log lines (" + p + "):\n" + strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// staticBusybox finds a statically linked busybox: the guest has no libc.
func staticBusybox() (string, error) {
	p, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("vmtest: %w (apt-get install busybox-static)", err)
	}
	f, err := elf.Open(p)
	if err != nil {
		return "", fmt.Errorf("vmtest: %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("vmtest: %s is dynamically linked (apt-get install busybox-static)", p)
		}
	}
	return p, nil
}

// goTool is the go command that runs the runner (go run puts its own
// GOROOT/bin first in PATH), else the one in PATH.
func goTool() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func goEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
}

func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("vmtest: go %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// onDemandTrees are the module subtrees the guest's modprobe can load from:
// networking (netfilter expressions, bridge, veth, tunnels) is where the
// kernel asks for modules at run time.
var onDemandTrees = []string{"kernel/net"}

type moduleSet struct {
	dir     string
	eager   []string            // loaded at boot, dependencies first
	table   map[string][]string // module -> .ko files for modprobe
	aliases [][2]string
	files   []string // every .ko to ship
}

func (m moduleSet) guestPath(p string) string {
	rel, _ := filepath.Rel(m.dir, p)
	return "/vmtest/modules/" + filepath.ToSlash(rel)
}

func writeInitramfs(dst, work, busybox, testBin, pkgDir string, mods moduleSet, o Options) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	c := newCpio(f)
	// The directories a Debian host has, which tests may use as mount points.
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/var/tmp", "/var/lib", "/etc", "/mnt", "/opt", "/srv", "/home", "/media"} {
		if err := c.mkdirAll(d); err != nil {
			return err
		}
	}
	if err := c.file("/init", filepath.Join(work, "init")); err != nil {
		return err
	}
	if err := c.file("/bin/busybox", busybox); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	for _, applet := range strings.Fields(string(list)) {
		switch applet {
		case "busybox", "init":
			continue
		case "modprobe":
			// The kernel's request_module helper: the guest init plays it.
			if err := c.symlink("/bin/modprobe", "/init"); err != nil {
				return err
			}
			continue
		}
		if err := c.symlink("/bin/"+applet, "busybox"); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{{"/sbin", "bin"}, {"/usr/bin", "../bin"}, {"/usr/sbin", "../bin"}} {
		if err := c.symlink(l[0], l[1]); err != nil {
			return err
		}
	}
	for name, data := range map[string]string{
		"/etc/passwd":      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"/etc/group":       "root:x:0:\nnogroup:x:65534:\n",
		"/etc/hosts":       "127.0.0.1 localhost\n::1 localhost\n",
		"/etc/hostname":    "vmtest\n",
		"/etc/resolv.conf": "nameserver 127.0.0.1\n",
	} {
		if err := c.bytes(name, 0o644, []byte(data)); err != nil {
			return err
		}
	}
	if err := c.file("/vmtest/pkg.test", testBin); err != nil {
		return err
	}
	shipped := map[string]bool{}
	for _, m := range mods.files {
		if !shipped[m] {
			shipped[m] = true
			if err := c.file(mods.guestPath(m), m); err != nil {
				return err
			}
		}
	}
	var guestMods []string
	for _, m := range mods.eager {
		guestMods = append(guestMods, mods.guestPath(m))
	}
	table := map[string][]string{}
	for name, kos := range mods.table {
		for _, ko := range kos {
			table[name] = append(table[name], mods.guestPath(ko))
		}
	}
	dir := "/src/" + filepath.Base(pkgDir)
	if err := c.mkdirAll(dir); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(pkgDir, "testdata")); err == nil && st.IsDir() {
		if err := c.tree(dir+"/testdata", filepath.Join(pkgDir, "testdata")); err != nil {
			return err
		}
	}
	// The guest's timeout outlasts the test binary's own -test.timeout (set
	// by the caller, usually equal to it) by a little, so Go's panic with
	// its goroutine dump comes first.
	cfg := guest.Config{
		Args:           append([]string{"/vmtest/pkg.test"}, o.TestArgs...),
		Env:            append([]string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TMPDIR=/tmp"}, o.Env...),
		Dir:            dir,
		Modules:        guestMods,
		OnDemand:       table,
		Aliases:        mods.aliases,
		TimeoutSeconds: int((o.Timeout + min(15*time.Second, max(time.Second, o.Timeout/4)) + time.Second - 1) / time.Second),
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := c.bytes(guest.ConfigPath, 0o644, b); err != nil {
		return err
	}
	return c.close()
}
