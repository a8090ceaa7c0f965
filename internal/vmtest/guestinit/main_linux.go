//go:build linux

// Command guestinit is PID 1 of a vmtest guest: it prepares a pure cgroup v2
// system in the initramfs, runs one test binary, reports its exit status as
// a marker line on the test output port and powers the VM off. It is built
// by the vmtest runner with CGO_ENABLED=0 and never runs on a host.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/internal/vmtest/guest"
)

func main() {
	if filepath.Base(os.Args[0]) == "modprobe" {
		os.Exit(modprobe(os.Args[1:]))
	}
	// Until the output port is open, messages go to the console (kernel log).
	out := os.Stderr
	code, err := run(&out)
	if err != nil {
		fmt.Fprintf(out, "vmtest guest: %v\n", err)
		fmt.Fprintf(os.Stderr, "vmtest guest: %v\n", err)
	}
	fmt.Fprintf(out, "\n%s%s\n", guest.Marker, code)
	out.Sync()
	unix.Sync()
	// QEMU runs with -no-reboot: a restart ends it on every machine type,
	// ACPI or not.
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}

func run(out **os.File) (string, error) {
	if err := makePivotable(); err != nil {
		return guest.StatusFailed, err
	}
	for _, m := range []struct{ src, dst, fs, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate"},
		{"tmpfs", "/tmp", "tmpfs", ""},
		{"tmpfs", "/run", "tmpfs", ""},
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666"},
		{"tmpfs", "/dev/shm", "tmpfs", ""},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return guest.StatusFailed, err
		}
		if err := unix.Mount(m.src, m.dst, m.fs, 0, m.data); err != nil {
			return guest.StatusFailed, fmt.Errorf("mount %s on %s: %w", m.fs, m.dst, err)
		}
	}
	f, err := os.OpenFile(guest.OutputPort, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return guest.StatusFailed, fmt.Errorf("open %s: %w", guest.OutputPort, err)
	}
	// Raw output: no \n -> \r\n translation between the test and the host.
	if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
	}
	*out = f

	b, err := os.ReadFile(guest.ConfigPath)
	if err != nil {
		return guest.StatusFailed, err
	}
	var cfg guest.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return guest.StatusFailed, fmt.Errorf("%s: %w", guest.ConfigPath, err)
	}
	if err := enableControllers(); err != nil {
		return guest.StatusFailed, err
	}
	for _, m := range cfg.Modules {
		if err := loadModule(m); err != nil {
			return guest.StatusFailed, err
		}
	}
	return runTest(cfg, f)
}

// makePivotable puts a real mount over the initramfs root: pivot_root(2)
// refuses to move the rootfs itself, so containers started by the tests
// could not pivot out of it otherwise.
func makePivotable() error {
	const tmp = "/.vmtest-root"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/", tmp, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind / on %s: %w", tmp, err)
	}
	if err := unix.Chdir(tmp); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s over /: %w", tmp, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

func enableControllers() error {
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return err
	}
	var add []string
	for _, c := range strings.Fields(string(b)) {
		add = append(add, "+"+c)
	}
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte(strings.Join(add, " ")), 0); err != nil {
		return fmt.Errorf("enable cgroup controllers %v: %w", add, err)
	}
	return nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("finit_module %s: %w", filepath.Base(path), err)
	}
	return nil
}

func runTest(cfg guest.Config, out *os.File) (string, error) {
	cmd := exec.Command(cfg.Args[0], cfg.Args[1:]...)
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	cmd.Stdout, cmd.Stderr = out, out
	// Its own session and process group: a SIGQUIT for the goroutine dump
	// reaches the test binary, not init.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return guest.StatusFailed, fmt.Errorf("start %v: %w", cfg.Args, err)
	}
	pid := cmd.Process.Pid
	fmt.Fprintln(out, guest.StartMarker)
	timeout := time.NewTimer(time.Duration(cfg.TimeoutSeconds) * time.Second)
	exited := make(chan unix.WaitStatus, 1)
	go func() {
		// As PID 1 it reaps every orphan; only the test's status matters.
		for {
			var ws unix.WaitStatus
			p, err := unix.Wait4(-1, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			if p == pid {
				exited <- ws
			}
		}
	}()
	select {
	case ws := <-exited:
		return status(ws), nil
	case <-timeout.C:
	}
	fmt.Fprintf(out, "\nvmtest guest: the test ran past %ds: SIGQUIT for a goroutine dump\n", cfg.TimeoutSeconds)
	unix.Kill(pid, unix.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		unix.Kill(pid, unix.SIGKILL)
	}
	return guest.StatusTimeout, nil
}

func status(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprint(128 + int(ws.Signal()))
	}
	return fmt.Sprint(ws.ExitStatus())
}
