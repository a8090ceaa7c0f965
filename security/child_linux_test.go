//go:build linux

package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The tests that change process state run in re-executed children of the
// test binary, selected by COCOON_SECURITY_CHILD:
//
//	apply  decode COCOON_PLAN, lock the thread, Apply, then execve
//	       COCOON_ARGV from the same thread (what the container init does)
//	probe  run the syscalls named in COCOON_PROBE and print "op=result"
//	       (a Go program running under the applied plan)
//	loadbench  load COCOON_PLAN's filter once and print the nanoseconds
const childEnv = "COCOON_SECURITY_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "apply":
		childApply()
	case "probe":
		childProbe()
	case "loadbench":
		childLoadBench()
	case "threads":
		childThreads()
	case "rootless":
		childRootless()
	}
	os.Exit(m.Run())
}

func childApply() {
	var plan Plan
	if err := json.Unmarshal([]byte(os.Getenv("COCOON_PLAN")), &plan); err != nil {
		fmt.Fprintln(os.Stderr, "decode plan:", err)
		os.Exit(111)
	}
	var argv []string
	if err := json.Unmarshal([]byte(os.Getenv("COCOON_ARGV")), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "decode argv:", err)
		os.Exit(111)
	}
	runtime.LockOSThread()
	if pf := os.Getenv("COCOON_PREFILTER"); pf != "" {
		// A filter standing in for a kernel that lacks something.
		var f Filter
		if err := json.Unmarshal([]byte(pf), &f); err != nil {
			os.Exit(111)
		}
		if err := loadSeccomp(&f); err != nil {
			fmt.Fprintln(os.Stderr, "prefilter:", err)
			os.Exit(111)
		}
	}
	if err := plan.Apply(); err != nil {
		fmt.Fprintln(os.Stderr, "apply:", err)
		if errors.Is(err, ErrNotSupported) {
			os.Exit(114)
		}
		os.Exit(112)
	}
	// The workload must not see the apply request again (the first of two
	// duplicate variables wins in Go), or a probe would re-apply and exec
	// itself in a loop.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") && !strings.HasPrefix(kv, "COCOON_PLAN=") && !strings.HasPrefix(kv, "COCOON_ARGV=") {
			env = append(env, kv)
		}
	}
	env = append(env, childEnv+"=probe")
	if os.Getenv("COCOON_FORK") != "" {
		// The init-process mode: PID 1 stays and starts the workload with
		// fork+exec from the same locked goroutine, so the child is cloned
		// from the thread that holds the applied credentials.
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "fork+exec:", err)
			os.Exit(113)
		}
		os.Exit(0)
	}
	err := unix.Exec(argv[0], argv, env)
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(113)
}

func errnoResult(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(syscall.Errno); ok {
		return strconv.Itoa(int(e))
	}
	return err.Error()
}

func rawResult(errno syscall.Errno) string {
	if errno == 0 {
		return "ok"
	}
	return strconv.Itoa(int(errno))
}

func childProbe() {
	var ops []string
	_ = json.Unmarshal([]byte(os.Getenv("COCOON_PROBE")), &ops)
	for _, op := range ops {
		name, arg, _ := strings.Cut(op, ":")
		var res string
		switch name {
		case "unshare-user":
			res = errnoResult(unix.Unshare(unix.CLONE_NEWUSER))
		case "mount":
			dir, err := os.MkdirTemp("", "probe")
			if err != nil {
				res = err.Error()
				break
			}
			res = errnoResult(unix.Mount("none", dir, "tmpfs", 0, ""))
			if res == "ok" {
				_ = unix.Unmount(dir, unix.MNT_DETACH)
			}
			_ = os.Remove(dir)
		case "kexec_load":
			// Invalid flags: refused with EINVAL before anything happens if
			// the filter were to let it through.
			_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xdead0000, 0, 0)
			res = rawResult(e)
		case "reboot":
			// Wrong magic numbers: EINVAL, never a reboot, if it got through.
			_, _, e := unix.Syscall6(unix.SYS_REBOOT, 1, 2, 3, 0, 0, 0)
			res = rawResult(e)
		case "keyctl":
			_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0) // session keyring
			res = rawResult(e)
		case "clone3":
			_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
			res = rawResult(e)
		case "mkdir":
			res = errnoResult(unix.Mkdir(arg, 0o755))
		case "personality":
			v, _ := strconv.ParseUint(arg, 0, 64)
			_, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(v), 0, 0)
			res = rawResult(e)
		case "write":
			fd, err := unix.Open(arg, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			res = errnoResult(err)
		case "read":
			_, err := os.ReadFile(arg)
			if pe, ok := err.(*os.PathError); ok {
				err = pe.Err
			}
			res = errnoResult(err)
		case "x32":
			// An x32 syscall: seccomp sees it before the kernel decides
			// whether it runs x32 at all (ENOSYS when it does not).
			_, _, e := unix.Syscall(uintptr(syscallTables["x32"][arg]), 0, 0, 0)
			res = rawResult(e)
		case "getpid":
			res = strconv.Itoa(os.Getpid())
		default:
			res = "unknown-op"
		}
		fmt.Printf("%s=%s\n", op, res)
	}
	os.Exit(0)
}

// childThreads applies the plan on a locked thread and prints, per thread of
// the process, what the kernel holds for it: which settings are per thread.
func childThreads() {
	var plan Plan
	if err := json.Unmarshal([]byte(os.Getenv("COCOON_PLAN")), &plan); err != nil {
		os.Exit(111)
	}
	// More threads: goroutines blocked in locked threads.
	release := make(chan struct{})
	for range 3 {
		go func() {
			runtime.LockOSThread()
			<-release
		}()
	}
	time.Sleep(20 * time.Millisecond)
	runtime.LockOSThread()
	if err := plan.Apply(); err != nil {
		fmt.Fprintln(os.Stderr, "apply:", err)
		os.Exit(112)
	}
	self := unix.Gettid()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		os.Exit(113)
	}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		who := "other"
		if e.Name() == strconv.Itoa(self) {
			who = "self"
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		fmt.Printf("%s|%s|%s|%s|%s|%s\n", who, fields["Uid"], fields["CapEff"], fields["CapBnd"], fields["NoNewPrivs"], fields["Seccomp"])
	}
	close(release)
	os.Exit(0)
}

// childRootless runs as an unprivileged host user and starts the apply child
// in a user namespace of its own, mapping its uid to 0, as a rootless
// container start does.
func childRootless() {
	uid, gid := os.Getuid(), os.Getgid()
	cmd := exec.Command("/proc/self/exe")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, childEnv+"=apply")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		Credential:  &syscall.Credential{Uid: 0, Gid: 0},
	}
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "rootless child:", err)
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		os.Exit(115)
	}
	os.Exit(0)
}

func childLoadBench() {
	var plan Plan
	if err := json.Unmarshal([]byte(os.Getenv("COCOON_PLAN")), &plan); err != nil {
		os.Exit(111)
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		os.Exit(112)
	}
	start := time.Now()
	if err := loadSeccomp(plan.Seccomp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(113)
	}
	fmt.Println(time.Since(start).Nanoseconds())
	os.Exit(0)
}

// runPlan runs argv under plan in a re-executed child and returns its
// stdout. attr, when set, starts the child in new namespaces.
func runPlan(t testing.TB, plan *Plan, attr *syscall.SysProcAttr, extraEnv []string, argv ...string) (string, error) {
	t.Helper()
	pj, err := json.Marshal(plan)
	require.NoError(t, err)
	aj, err := json.Marshal(argv)
	require.NoError(t, err)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), childEnv+"=apply", "COCOON_PLAN="+string(pj), "COCOON_ARGV="+string(aj))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%w: stderr: %s", err, stderr.String())
	}
	return stdout.String(), nil
}

// probe runs the test binary itself as the workload (a Go program) and
// returns op -> result.
func probe(t testing.TB, plan *Plan, attr *syscall.SysProcAttr, ops ...string) map[string]string {
	t.Helper()
	oj, err := json.Marshal(ops)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	out, err := runPlan(t, plan, attr, []string{"COCOON_PROBE=" + string(oj)}, exe)
	require.NoError(t, err)
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			res[k] = v
		}
	}
	require.Len(t, res, len(ops), "probe output: %s", out)
	return res
}

// hostCapabilities are the capabilities in the test process's bounding set
// (the machines here lack CAP_SYS_RESOURCE): a plan cannot grant more.
func hostCapabilities(t testing.TB) []string {
	t.Helper()
	caps, err := HostCapabilities()
	require.NoError(t, err)
	require.Contains(t, caps, "CAP_SYS_ADMIN")
	return caps
}

// statusFields returns fields of /proc/self/status as the workload sees it.
func statusFields(t testing.TB, plan *Plan, attr *syscall.SysProcAttr) map[string]string {
	t.Helper()
	out, err := runPlan(t, plan, attr, nil, "/bin/sh", "-c", "cat /proc/self/status; echo uid=$(id -u) gid=$(id -g) groups=$(id -G)")
	require.NoError(t, err)
	f := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
		if strings.HasPrefix(line, "uid=") {
			f["id"] = line
		}
	}
	return f
}
