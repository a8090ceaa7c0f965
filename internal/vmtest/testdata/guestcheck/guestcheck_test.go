//go:build linux

// Package guestcheck is run by vmtest's own tests inside the VM: it checks
// what the guest promises to the packages tested there.
package guestcheck

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Getenv("GUESTCHECK_PIVOT") == "1" {
		os.Exit(pivot())
	}
	os.Exit(m.Run())
}

// pivot runs in a new mount namespace: pivot_root into a tmpfs.
func pivot() int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		println("make / private:", err.Error())
		return 1
	}
	nr := "/tmp/guestcheck-root"
	os.MkdirAll(nr, 0o755)
	if err := unix.Mount("tmpfs", nr, "tmpfs", 0, ""); err != nil {
		println("mount tmpfs:", err.Error())
		return 1
	}
	os.Mkdir(nr+"/old", 0o755)
	if err := unix.PivotRoot(nr, nr+"/old"); err != nil {
		println("pivot_root:", err.Error())
		return 1
	}
	return 0
}

func TestEnvironment(t *testing.T) {
	if os.Getpid() == 1 || os.Getppid() != 1 {
		t.Errorf("pid %d ppid %d: the test should be a child of the guest's PID 1", os.Getpid(), os.Getppid())
	}
	if os.Getenv("GUESTCHECK") != "passed-through" {
		t.Errorf("GUESTCHECK=%q: Options.Env did not reach the test", os.Getenv("GUESTCHECK"))
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Errorf("/sys/fs/cgroup is not cgroup2 (%v)", err)
	}
	sub, _ := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
	for _, c := range []string{"cpu", "memory", "pids", "io", "cpuset"} {
		if !strings.Contains(string(sub), c) {
			t.Errorf("controller %s not enabled in the root subtree_control (%q)", c, sub)
		}
	}
	for _, m := range []string{"overlay", "veth", "bridge", "nf_tables"} {
		if _, err := os.Stat("/sys/module/" + m); err != nil {
			t.Errorf("module %s not loaded: %v", m, err)
		}
	}
	out, err := exec.Command("sh", "-c", "echo $((6*7)) | cat").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Errorf("busybox sh: %q %v", out, err)
	}
	if _, err := os.Stat("testdata/marker"); err != nil {
		t.Errorf("the package's testdata is not beside the test: %v", err)
	}
}

// TestModuleAutoload asks the kernel for a protocol that lives in a module
// nobody loaded: its request_module must reach the guest's modprobe.
func TestModuleAutoload(t *testing.T) {
	if _, err := os.Stat("/sys/module/sctp"); err == nil {
		t.Fatal("sctp is loaded already; pick another module for this test")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP)
	if err != nil {
		t.Fatalf("sctp socket (module autoload): %v", err)
	}
	unix.Close(fd)
	if _, err := os.Stat("/sys/module/sctp"); err != nil {
		t.Errorf("sctp module not loaded: %v", err)
	}
}

func TestPivotRoot(t *testing.T) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), "GUESTCHECK_PIVOT=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pivot_root in a new mount namespace: %v %s", err, out)
	}
}

func TestFails(t *testing.T) {
	if os.Getenv("GUESTCHECK_FAIL") == "1" {
		t.Fatal("failing on purpose")
	}
}

func TestHangs(t *testing.T) {
	if os.Getenv("GUESTCHECK_HANG") == "1" {
		time.Sleep(time.Hour)
	}
}
