//go:build linux

package security

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// dockerCapHex is Docker's default set as /proc/self/status prints it.
const dockerCapHex = "00000000a80425fb"

func errno(e unix.Errno) string { return strconv.Itoa(int(e)) }

// defaultSpec is what the builder produces by default: Docker's
// capabilities, no_new_privs, Docker's seccomp profile.
func defaultSpec(t testing.TB) (*specs.Process, *specs.Linux) {
	t.Helper()
	prof, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(t, err)
	p := &specs.Process{
		Capabilities:    LinuxCapabilities(DefaultCapabilities()),
		NoNewPrivileges: true,
	}
	return p, &specs.Linux{Seccomp: prof}
}

func defaultPlan(t testing.TB) *Plan {
	t.Helper()
	p, l := defaultSpec(t)
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	return plan
}

func TestDefaultsInWorkload(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	f := statusFields(t, defaultPlan(t), nil)
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "1", f["NoNewPrivs"])
	assert.Equal(t, dockerCapHex, f["CapEff"])
	assert.Equal(t, dockerCapHex, f["CapPrm"])
	assert.Equal(t, dockerCapHex, f["CapBnd"])
	assert.Equal(t, "0000000000000000", f["CapInh"])
	assert.Equal(t, "0000000000000000", f["CapAmb"])
	assert.Equal(t, "uid=0 gid=0 groups=0", f["id"])
}

func TestDefaultProfileDenies(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	ops := []string{"unshare-user", "mount", "kexec_load", "reboot", "keyctl", "clone3", "getpid"}

	t.Run("defaults", func(t *testing.T) {
		r := probe(t, defaultPlan(t), nil, ops...)
		for _, op := range []string{"unshare-user", "mount", "kexec_load", "reboot", "keyctl"} {
			assert.Equal(t, errno(unix.EPERM), r[op], op)
		}
		assert.Equal(t, errno(unix.ENOSYS), r["clone3"])
		assert.NotEqual(t, "", r["getpid"])
	})

	// With every capability the filter is the only thing in the way, so
	// this shows the denials come from seccomp. The profile stays the one
	// resolved for Docker's default capabilities.
	t.Run("seccomp alone", func(t *testing.T) {
		p, l := defaultSpec(t)
		p.Capabilities = LinuxCapabilities(hostCapabilities(t))
		plan, err := Prepare(p, l)
		require.NoError(t, err)
		r := probe(t, plan, nil, ops...)
		for _, op := range []string{"unshare-user", "mount", "kexec_load", "reboot", "keyctl"} {
			assert.Equal(t, errno(unix.EPERM), r[op], op)
		}
		assert.Equal(t, errno(unix.ENOSYS), r["clone3"])
	})

	// Control: the same probes without a filter, so the assertions above
	// are not vacuous (kexec_load and reboot get EINVAL for their invalid
	// arguments, clone3 EINVAL for its zero size).
	t.Run("control without seccomp", func(t *testing.T) {
		p, _ := defaultSpec(t)
		p.Capabilities = LinuxCapabilities(hostCapabilities(t))
		plan, err := Prepare(p, nil)
		require.NoError(t, err)
		r := probe(t, plan, nil, ops...)
		// unshare(CLONE_NEWUSER) from a multithreaded Go program is EINVAL;
		// the shell check below covers unshare -U itself.
		assert.Equal(t, errno(unix.EINVAL), r["unshare-user"])
		assert.Equal(t, "ok", r["mount"])
		// This kernel has no kexec (ENOSYS); elsewhere the bad flags give EINVAL.
		assert.Contains(t, []string{errno(unix.EINVAL), errno(unix.ENOSYS)}, r["kexec_load"])
		assert.Equal(t, errno(unix.EINVAL), r["reboot"])
		assert.Equal(t, "ok", r["keyctl"])
		assert.Equal(t, errno(unix.EINVAL), r["clone3"])
		out, err := runPlan(t, plan, nil, nil, "/bin/sh", "-c", "unshare -U true && echo unshare-ok")
		require.NoError(t, err)
		assert.Equal(t, "unshare-ok\n", out)
	})

	// The unshare(1) command itself (single-threaded C), under the defaults.
	t.Run("unshare command", func(t *testing.T) {
		out, err := runPlan(t, defaultPlan(t), nil, nil, "/bin/sh", "-c", "unshare -U true 2>&1; echo rc=$?")
		require.NoError(t, err)
		assert.Contains(t, out, "Operation not permitted")
		assert.Contains(t, out, "rc=1")
	})
}

func TestOrdinaryWorkload(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	out, err := runPlan(t, defaultPlan(t), nil, nil, "/bin/sh", "-c",
		"echo hello world | tr a-z A-Z | sed 's/WORLD/CONTAINER/'; seq 1 1000 | sort -rn | head -1; ls / >/dev/null && echo ls-ok")
	require.NoError(t, err)
	assert.Equal(t, "HELLO CONTAINER\n1000\nls-ok\n", out)
	// python's http.server, serving and answering on loopback.
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is part of the must-show workloads and is missing: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	out, err = runPlan(t, defaultPlan(t), nil, nil, "/bin/sh", "-c", `
		cd /etc && python3 -m http.server `+port+` --bind 127.0.0.1 >/dev/null 2>&1 & pid=$!
		for i in $(seq 100); do
			code=$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:`+port+`/hostname) && [ "$code" = 200 ] && break
			sleep 0.1
		done
		echo "$code"; kill $pid; wait $pid 2>/dev/null; true`)
	require.NoError(t, err)
	assert.Equal(t, "200\n", out)

	// A Go program (the test binary as probe) starts, runs goroutines and
	// threads, and exits normally under the default profile.
	r := probe(t, defaultPlan(t), nil, "getpid", "read:/etc/hostname")
	assert.Equal(t, "ok", r["read:/etc/hostname"])
}

func TestCustomProfileErrno(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	chosen := uint(unix.ENOMEDIUM)
	prof := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &chosen},
		},
	}
	p, _ := defaultSpec(t)
	plan, err := Prepare(p, &specs.Linux{Seccomp: prof})
	require.NoError(t, err)
	dir := t.TempDir()
	r := probe(t, plan, nil, "mkdir:"+filepath.Join(dir, "x"), "write:"+filepath.Join(dir, "y"))
	assert.Equal(t, errno(unix.ENOMEDIUM), r["mkdir:"+filepath.Join(dir, "x")])
	assert.Equal(t, "ok", r["write:"+filepath.Join(dir, "y")])
	_, err = os.Stat(filepath.Join(dir, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestArgumentCondition(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	// personality is allowed only to query (0xffffffff) or to set PER_LINUX
	// (0); anything else fails with EACCES.
	eacces := uint(unix.EACCES)
	prof := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &eacces},
		},
	}
	p, _ := defaultSpec(t)
	plan, err := Prepare(p, &specs.Linux{Seccomp: prof})
	require.NoError(t, err)
	r := probe(t, plan, nil, "personality:0xffffffff", "personality:0", "personality:0x8", "personality:0x1ffffffff")
	assert.Equal(t, "ok", r["personality:0xffffffff"])
	assert.Equal(t, "ok", r["personality:0"])
	assert.Equal(t, errno(unix.EACCES), r["personality:0x8"])
	// Differs from an allowed value only in the upper 32 bits: the 64-bit
	// comparison must see it.
	assert.Equal(t, errno(unix.EACCES), r["personality:0x1ffffffff"])
}

func TestUser(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	p, l := defaultSpec(t)
	p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 2000}}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	f := statusFields(t, plan, nil)
	assert.Equal(t, "uid=1000 gid=1000 groups=1000 2000", f["id"])
	assert.Equal(t, "0000000000000000", f["CapEff"])
	assert.Equal(t, "0000000000000000", f["CapPrm"])
	assert.Equal(t, dockerCapHex, f["CapBnd"])
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "1", f["NoNewPrivs"])
}

func TestAmbientCapabilitiesForNonRoot(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	// A non-root workload keeps exactly its ambient capabilities across
	// execve: this exercises the keep-caps ordering of the user switch.
	p, l := defaultSpec(t)
	p.User = specs.User{UID: 1000, GID: 1000}
	p.Capabilities.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
	p.Capabilities.Ambient = []string{"CAP_NET_BIND_SERVICE"}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	f := statusFields(t, plan, nil)
	assert.Equal(t, "0000000000000400", f["CapEff"])
	assert.Equal(t, "0000000000000400", f["CapAmb"])
}

func TestRlimitNofile(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	rl, err := ParseUlimit("nofile=1024:1024")
	require.NoError(t, err)
	p, l := defaultSpec(t)
	p.Rlimits = []specs.POSIXRlimit{rl, {Type: "RLIMIT_NPROC", Soft: 500, Hard: 600}}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	out, err := runPlan(t, plan, nil, nil, "/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; grep -E 'open files|processes' /proc/self/limits")
	require.NoError(t, err)
	lines := splitLines(out)
	require.Len(t, lines, 4, out)
	assert.Equal(t, "1024", lines[0])
	assert.Equal(t, "1024", lines[1])
	assert.Regexp(t, `^Max processes\s+500\s+600\s`, lines[2])
	assert.Regexp(t, `^Max open files\s+1024\s+1024\s`, lines[3])

	// A soft limit below the hard one is where Go's saved limit would win:
	// the runtime raised soft to hard-1 at start and syscall.Exec restores
	// what it saved unless Setrlimit told it not to.
	p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 200, Hard: 4096}}
	plan, err = Prepare(p, l)
	require.NoError(t, err)
	out, err = runPlan(t, plan, nil, nil, "/bin/sh", "-c", "ulimit -Sn; ulimit -Hn")
	require.NoError(t, err)
	assert.Equal(t, "200\n4096\n", out)
}

func splitLines(s string) []string {
	var out []string
	for _, l := range filepathSplitLines(s) {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func filepathSplitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestLandlock(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	if LandlockABI() < 1 {
		t.Skip("kernel without Landlock; the notes say this machine has it, so look at the kernel config")
	}
	dir := t.TempDir()
	rw := filepath.Join(dir, "rw")
	other := filepath.Join(dir, "other")
	require.NoError(t, os.Mkdir(rw, 0o755))
	require.NoError(t, os.Mkdir(other, 0o755))
	p, l := defaultSpec(t)
	plan, err := Prepare(p, l, WithLandlock(&Landlock{ReadOnly: []string{"/"}, ReadWrite: []string{rw}, Required: true}))
	require.NoError(t, err)
	r := probe(t, plan, nil, "write:"+filepath.Join(rw, "ok"), "write:"+filepath.Join(other, "denied"), "write:/tmp/cocoon-landlock-denied", "read:/etc/hostname")
	assert.Equal(t, "ok", r["write:"+filepath.Join(rw, "ok")])
	assert.Equal(t, errno(unix.EACCES), r["write:"+filepath.Join(other, "denied")])
	assert.Equal(t, errno(unix.EACCES), r["write:/tmp/cocoon-landlock-denied"])
	assert.Equal(t, "ok", r["read:/etc/hostname"])
	_, err = os.Stat(filepath.Join(other, "denied"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A shell can still run, read and write where allowed.
	out, err := runPlan(t, plan, nil, nil, "/bin/sh", "-c", "echo hi > "+rw+"/f && cat "+rw+"/f; echo no > "+other+"/g 2>/dev/null || echo denied")
	require.NoError(t, err)
	assert.Equal(t, "hi\ndenied\n", out)
}

// TestInUserNamespace applies the defaults inside a new user namespace (uid
// 0 inside mapped to an unprivileged range outside): what the rootless path
// needs from this package.
func TestInUserNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	attr := &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		// Like an unprivileged caller's namespace: setgroups is denied.
		GidMappingsEnableSetgroups: false,
		// The child keeps the caller's host uid (0), which the map does not
		// cover: without becoming the namespace's root it would run as the
		// overflow uid with no capabilities.
		Credential: &syscall.Credential{Uid: 0, Gid: 0},
	}
	f := statusFields(t, defaultPlan(t), attr)
	assert.Equal(t, "uid=0 gid=0 groups=0", f["id"])
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "1", f["NoNewPrivs"])
	assert.Equal(t, dockerCapHex, f["CapEff"])
	assert.Equal(t, dockerCapHex, f["CapBnd"])

	p, l := defaultSpec(t)
	p.User = specs.User{UID: 1000, GID: 1000}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	f = statusFields(t, plan, attr)
	assert.Equal(t, "uid=1000 gid=1000 groups=1000", f["id"][:len("uid=1000 gid=1000 groups=1000")])
	assert.Equal(t, "0000000000000000", f["CapEff"])

	// Nesting a user namespace is allowed to the namespace's root by the
	// kernel; the default profile denies it.
	out, err := runPlan(t, defaultPlan(t), attr, nil, "/bin/sh", "-c", "unshare -U true 2>&1; echo rc=$?")
	require.NoError(t, err)
	assert.Contains(t, out, "Operation not permitted")
	p, _ = defaultSpec(t)
	plan, err = Prepare(p, nil)
	require.NoError(t, err)
	out, err = runPlan(t, plan, attr, nil, "/bin/sh", "-c", "unshare -U true 2>&1; echo rc=$?")
	require.NoError(t, err)
	assert.Equal(t, "rc=0\n", out, "control without seccomp")
}

// TestX32InKernel shows the kernel routes x32 syscall numbers through the
// filter as this package expects: the x32 table's numbers match what the
// filter sees, and a profile without x32 kills instead of letting a deny list
// be bypassed through the other ABI.
func TestX32InKernel(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	enomedium := uint(unix.ENOMEDIUM)
	p, _ := defaultSpec(t)
	plan, err := Prepare(p, &specs.Linux{Seccomp: &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &enomedium}},
	}})
	require.NoError(t, err)
	r := probe(t, plan, nil, "x32:getppid", "x32:getuid")
	assert.Equal(t, errno(unix.ENOMEDIUM), r["x32:getppid"])
	assert.NotEqual(t, errno(unix.ENOMEDIUM), r["x32:getuid"])

	plan, err = Prepare(p, &specs.Linux{Seccomp: &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &enomedium}},
	}})
	require.NoError(t, err)
	oj, _ := json.Marshal([]string{"x32:getuid"})
	exe, err := os.Executable()
	require.NoError(t, err)
	_, err = runPlan(t, plan, nil, []string{"COCOON_PROBE=" + string(oj)}, exe)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws := ee.Sys().(syscall.WaitStatus)
	assert.True(t, ws.Signaled() && ws.Signal() == unix.SIGSYS, "want death by SIGSYS, got %v", ws)
}

// TestThreadModel shows which settings are per thread in the kernel and
// that Apply's result is right where it matters: on the thread that will
// execve. Capabilities and the bounding set change on the applying thread
// only; uid (Go changes it on all threads), no_new_privs and seccomp (TSYNC)
// reach every thread.
func TestThreadModel(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	p, l := defaultSpec(t)
	p.User = specs.User{UID: 1000, GID: 1000}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	pj, err := json.Marshal(plan)
	require.NoError(t, err)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), childEnv+"=threads", "COCOON_PLAN="+string(pj))
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := splitLines(string(out))
	require.Greater(t, len(lines), 3, "the child should have several threads: %s", out)
	self := 0
	for _, line := range lines {
		f := strings.Split(line, "|")
		require.Len(t, f, 6, line)
		assert.Equal(t, "1000 1000 1000 1000", f[1], "uid on every thread: %s", line)
		assert.Equal(t, "1", f[4], "no_new_privs on every thread: %s", line)
		assert.Equal(t, "2", f[5], "seccomp on every thread: %s", line)
		if f[0] == "self" {
			self++
			// Until execve, a non-root thread keeps what capset gave it.
			assert.Equal(t, dockerCapHex, f[2], line)
			assert.Equal(t, dockerCapHex, f[3], line)
		} else {
			// The uid change cleared the other threads' effective sets (no
			// keep-caps there), and their bounding sets were never touched.
			assert.Equal(t, "0000000000000000", f[2], line)
			assert.NotEqual(t, dockerCapHex, f[3], line)
		}
	}
	assert.Equal(t, 1, self)
}

// TestWithoutNoNewPrivs loads seccomp before capabilities are dropped (the
// kernel wants CAP_SYS_ADMIN for a filter without no_new_privs).
func TestWithoutNoNewPrivs(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	p, l := defaultSpec(t)
	p.NoNewPrivileges = false
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	f := statusFields(t, plan, nil)
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "0", f["NoNewPrivs"])
	assert.Equal(t, dockerCapHex, f["CapEff"])
	assert.Equal(t, dockerCapHex, f["CapBnd"])

	p.User = specs.User{UID: 1000, GID: 1000}
	plan, err = Prepare(p, l)
	require.NoError(t, err)
	f = statusFields(t, plan, nil)
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "uid=1000 gid=1000 groups=1000", f["id"])
	assert.Equal(t, "0000000000000000", f["CapEff"])
}

// TestLandlockRequiredUnsupported runs Apply where landlock_create_ruleset
// fails with ENOSYS, as on a kernel without Landlock (a seccomp filter
// loaded first plays that kernel).
func TestLandlockRequiredUnsupported(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	enosys := uint(unix.ENOSYS)
	pre, err := CompileSeccomp(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"landlock_create_ruleset"}, Action: specs.ActErrno, ErrnoRet: &enosys}},
	})
	require.NoError(t, err)
	pj, err := json.Marshal(pre)
	require.NoError(t, err)
	env := []string{"COCOON_PREFILTER=" + string(pj)}
	dir := t.TempDir()

	p, l := defaultSpec(t)
	plan, err := Prepare(p, l, WithLandlock(&Landlock{ReadOnly: []string{"/"}, Required: true}))
	require.NoError(t, err)
	_, err = runPlan(t, plan, nil, env, "/bin/sh", "-c", "true")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 114, ee.ExitCode(), "Apply must fail with ErrNotSupported: %v", err)
	assert.Contains(t, err.Error(), "landlock")

	// Not required: the workload runs without the policy.
	plan, err = Prepare(p, l, WithLandlock(&Landlock{ReadOnly: []string{"/"}}))
	require.NoError(t, err)
	out, err := runPlan(t, plan, nil, env, "/bin/sh", "-c", "echo x > "+dir+"/f && cat "+dir+"/f")
	require.NoError(t, err)
	assert.Equal(t, "x\n", out)
}

// TestRootless applies the defaults the way a rootless container gets them:
// an unprivileged host user (nobody) creates the user namespace itself,
// mapping only its own uid to 0, with setgroups denied.
func TestRootless(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	const nobody = 65534
	// The test binary sits in a root-only build directory: give nobody a
	// copy it can execute.
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "security.test")
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))

	run := func(plan *Plan, argv ...string) (string, error) {
		pj, err := json.Marshal(plan)
		require.NoError(t, err)
		aj, err := json.Marshal(argv)
		require.NoError(t, err)
		cmd := exec.Command(bin)
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), childEnv+"=rootless", "COCOON_PLAN="+string(pj), "COCOON_ARGV="+string(aj))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return string(out), fmt.Errorf("%w: %s", err, stderr.String())
		}
		return string(out), nil
	}
	out, err := run(defaultPlan(t), "/bin/sh", "-c",
		"grep -E '^(Uid|Seccomp|NoNewPrivs|CapEff|CapBnd):' /proc/self/status; cat /proc/self/uid_map; unshare -U true 2>&1; echo rc=$?")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^Uid:\s+0\s+0\s+0\s+0$`, out)
	assert.Regexp(t, `(?m)^Seccomp:\s+2$`, out)
	assert.Regexp(t, `(?m)^NoNewPrivs:\s+1$`, out)
	assert.Regexp(t, `(?m)^CapEff:\s+`+dockerCapHex+`$`, out)
	assert.Regexp(t, `(?m)^CapBnd:\s+`+dockerCapHex+`$`, out)
	assert.Regexp(t, `(?m)^\s+0\s+65534\s+1$`, out, "uid 0 inside is nobody outside")
	assert.Contains(t, out, "Operation not permitted")
	assert.Contains(t, out, "rc=1")
}

// TestKillActionsAndFlags checks actions that end the process, and filter
// flags, on the real kernel.
func TestKillActionsAndFlags(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	dir := t.TempDir()
	for _, act := range []specs.LinuxSeccompAction{specs.ActKillProcess, specs.ActKillThread, specs.ActTrap} {
		p, _ := defaultSpec(t)
		plan, err := Prepare(p, &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: act}},
		}})
		require.NoError(t, err)
		// mkdir(1) is single-threaded, so all three end it by SIGSYS
		// (31); the shell reports 128+31 and goes on.
		out, err := runPlan(t, plan, nil, nil, "/bin/sh", "-c", "mkdir "+dir+"/x 2>/dev/null; echo rc=$?; echo after")
		require.NoError(t, err)
		assert.Equal(t, "rc=159\nafter\n", out, act)
		_, statErr := os.Stat(filepath.Join(dir, "x"))
		assert.ErrorIs(t, statErr, os.ErrNotExist, act)
	}
}

// TestApplyThenForkExec covers an init that stays as PID 1 (reaping,
// forwarding signals) and starts the workload with fork+exec: Apply on the
// locked goroutine, then os/exec from that same goroutine. The workload gets
// the same credentials as with a direct execve, the rlimit included.
func TestApplyThenForkExec(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	p, l := defaultSpec(t)
	p.User = specs.User{UID: 1000, GID: 1000}
	p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 300, Hard: 1024}}
	p.Capabilities.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
	p.Capabilities.Ambient = []string{"CAP_NET_BIND_SERVICE"}
	plan, err := Prepare(p, l)
	require.NoError(t, err)
	out, err := runPlan(t, plan, nil, []string{"COCOON_FORK=1"}, "/bin/sh", "-c",
		"grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd|CapAmb):' /proc/self/status; id -u; ulimit -Sn")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^Seccomp:\s+2$`, out)
	assert.Regexp(t, `(?m)^NoNewPrivs:\s+1$`, out)
	assert.Regexp(t, `(?m)^CapEff:\s+0000000000000400$`, out)
	assert.Regexp(t, `(?m)^CapAmb:\s+0000000000000400$`, out)
	assert.Regexp(t, `(?m)^CapBnd:\s+`+dockerCapHex+`$`, out)
	assert.Regexp(t, `(?m)^1000$`, out)
	assert.Regexp(t, `(?m)^300$`, out)
}
