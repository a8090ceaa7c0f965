//go:build linux

package security

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const (
	eperm  = retErrno | uint32(unix.EPERM)
	enosys = retErrno | uint32(unix.ENOSYS)
)

func nr(t testing.TB, table, name string) uint32 {
	t.Helper()
	n, ok := syscallTables[table][name]
	require.True(t, ok, "%s has no %s", table, name)
	return n
}

func decide(t testing.TB, f *Filter, d seccompData) uint32 {
	t.Helper()
	v, err := runBPF(f.Program, d)
	require.NoError(t, err)
	return v
}

func TestDockerProfileDecisions(t *testing.T) {
	prof, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(t, err)
	f, err := compile(prof, "amd64")
	require.NoError(t, err)
	t.Logf("Docker's default profile: %d BPF instructions", f.Instructions())
	assert.Less(t, f.Instructions(), bpfMaxInsns)

	x64 := func(name string, args ...uint64) seccompData {
		d := seccompData{nr: nr(t, "x86_64", name), arch: unix.AUDIT_ARCH_X86_64}
		copy(d.args[:], args)
		return d
	}
	x32 := func(name string) seccompData {
		return seccompData{nr: nr(t, "x32", name), arch: unix.AUDIT_ARCH_X86_64}
	}
	i386 := func(name string, args ...uint64) seccompData {
		d := seccompData{nr: nr(t, "x86", name), arch: unix.AUDIT_ARCH_I386}
		copy(d.args[:], args)
		return d
	}
	for _, c := range []struct {
		what string
		d    seccompData
		want uint32
	}{
		{"x86_64 read", x64("read"), retAllow},
		{"x86_64 execve", x64("execve"), retAllow},
		{"x86_64 mount", x64("mount"), eperm},
		{"x86_64 kexec_load", x64("kexec_load"), eperm},
		{"x86_64 reboot", x64("reboot"), eperm},
		{"x86_64 keyctl", x64("keyctl"), eperm},
		{"x86_64 unshare", x64("unshare"), eperm},
		{"x86_64 clone3", x64("clone3"), enosys},
		{"x86_64 clone thread", x64("clone", unix.CLONE_VM|unix.CLONE_THREAD), retAllow},
		{"x86_64 clone newuser", x64("clone", unix.CLONE_NEWUSER), eperm},
		{"x86_64 clone newns high bits set", x64("clone", 1<<40|unix.CLONE_NEWNS), eperm},
		{"x86_64 socket AF_INET", x64("socket", unix.AF_INET), retAllow},
		{"x86_64 socket AF_VSOCK", x64("socket", unix.AF_VSOCK), eperm},
		{"x86_64 personality query", x64("personality", 0xffffffff), retAllow},
		{"x86_64 personality other", x64("personality", 0x0400000), eperm},
		{"x86_64 syscall newer than the tables", seccompData{nr: 1000, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"x32 read", x32("read"), retAllow},
		{"x32 rt_sigaction (x32-only number)", x32("rt_sigaction"), retAllow},
		{"x32 mount", x32("mount"), eperm},
		{"i386 chown32", i386("chown32"), retAllow},
		{"i386 socketcall", i386("socketcall"), retAllow},
		{"i386 mount", i386("mount"), eperm},
		{"i386 clone newuser", i386("clone", unix.CLONE_NEWUSER), eperm},
		{"arm on x86", seccompData{nr: 0, arch: unix.AUDIT_ARCH_ARM}, retKillProcess},
	} {
		assert.Equal(t, fmt.Sprintf("%#x", c.want), fmt.Sprintf("%#x", decide(t, f, c.d)), c.what)
	}
}

func TestArchCoverage(t *testing.T) {
	// x86_64 only: x32 and i386 syscalls are refused outright, so a deny
	// list cannot be bypassed through another ABI.
	f, err := compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}},
	}, "amd64")
	require.NoError(t, err)
	assert.Equal(t, uint32(eperm), decide(t, f, seccompData{nr: nr(t, "x86_64", "mkdir"), arch: unix.AUDIT_ARCH_X86_64}))
	assert.Equal(t, uint32(retAllow), decide(t, f, seccompData{nr: nr(t, "x86_64", "rmdir"), arch: unix.AUDIT_ARCH_X86_64}))
	assert.Equal(t, uint32(retKillProcess), decide(t, f, seccompData{nr: nr(t, "x32", "mkdir"), arch: unix.AUDIT_ARCH_X86_64}))
	assert.Equal(t, uint32(retKillProcess), decide(t, f, seccompData{nr: nr(t, "x86", "mkdir"), arch: unix.AUDIT_ARCH_I386}))

	// A foreign architecture in the list is fine (it cannot occur here);
	// no native one is an error.
	_, err = compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}}, "amd64")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "SCMP_ARCH_X86_64")
}

// cmp64 is the reference semantics of the runtime-spec operators.
func cmp64(op specs.LinuxSeccompOperator, arg, v, v2 uint64) bool {
	switch op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic(op)
}

func TestOperators(t *testing.T) {
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan,
		specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual}
	edges := []uint64{0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000,
		0x100000001, 0x1ffffffff, 0xffffffff00000000, 0xfffffffffffffffe, 0xffffffffffffffff, 0x8000000000000000}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		edges = append(edges, rnd.Uint64())
	}
	for _, op := range ops {
		for _, v := range edges {
			v2 := v & 0x00ff00ff00ff00ff
			for argIdx := range uint(6) {
				if argIdx != 0 && argIdx != 5 && v != 0x100000000 {
					continue // every index once, all values on the first and last
				}
				f, err := compile(&specs.LinuxSeccomp{
					DefaultAction: specs.ActErrno,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
						Args: []specs.LinuxSeccompArg{{Index: argIdx, Value: v, ValueTwo: v2, Op: op}}}},
				}, "amd64")
				require.NoError(t, err)
				for _, arg := range edges {
					for _, a := range []uint64{arg, v, v + 1, v - 1, v2} {
						d := seccompData{nr: nr(t, "x86_64", "read"), arch: unix.AUDIT_ARCH_X86_64}
						d.args[argIdx] = a
						// Other arguments must not matter.
						d.args[(argIdx+1)%6] = ^a
						want := uint32(eperm)
						if cmp64(op, a, v, v2) {
							want = retAllow
						}
						got := decide(t, f, d)
						if got != want {
							t.Fatalf("%s arg%d=%#x value=%#x valueTwo=%#x: got %#x want %#x", op, argIdx, a, v, v2, got, want)
						}
					}
				}
			}
		}
	}
}

func TestOperators32Bit(t *testing.T) {
	// i386 arguments are 32 bits; the kernel zero-extends them.
	for _, op := range []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan,
		specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual} {
		for _, v := range []uint64{0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff} {
			f, err := compile(&specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
					Args: []specs.LinuxSeccompArg{{Index: 1, Value: v, ValueTwo: v & 0xf0f0f0f0, Op: op}}}},
			}, "amd64")
			require.NoError(t, err)
			for _, a := range []uint64{0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff} {
				d := seccompData{nr: nr(t, "x86", "read"), arch: unix.AUDIT_ARCH_I386}
				d.args[1] = a
				want := uint32(eperm)
				if cmp64(op, a, v, v&0xf0f0f0f0) {
					want = retAllow
				}
				assert.Equal(t, want, decide(t, f, d), "%s arg=%#x value=%#x", op, a, v)
			}
		}
	}
	_, err := compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 1 << 33, Op: specs.OpEqualTo}}}},
	}, "amd64")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestActionsAndRuleOrder(t *testing.T) {
	e := func(v uint) *uint { return &v }
	f, err := compile(&specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: e(uint(unix.EACCES)),
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			{Names: []string{"write"}, Action: specs.ActLog},
			{Names: []string{"open"}, Action: specs.ActTrace, ErrnoRet: e(7)},
			{Names: []string{"close"}, Action: specs.ActTrace},
			{Names: []string{"kill"}, Action: specs.ActKillProcess},
			{Names: []string{"tkill"}, Action: specs.ActKillThread},
			{Names: []string{"tgkill"}, Action: specs.ActKill},
			{Names: []string{"pipe"}, Action: specs.ActTrap},
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: e(uint(unix.EXDEV))},
			// Conditional rules first, then the unconditional action.
			{Names: []string{"dup"}, Action: specs.ActErrno, ErrnoRet: e(9)},
			{Names: []string{"dup"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, Op: specs.OpEqualTo}}},
			// Repeated index: OR.
			{Names: []string{"dup2"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}},
			// Different indexes: AND.
			{Names: []string{"dup3"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpEqualTo}}},
		},
	}, "amd64")
	require.NoError(t, err)
	d := func(name string, args ...uint64) seccompData {
		x := seccompData{nr: nr(t, "x86_64", name), arch: unix.AUDIT_ARCH_X86_64}
		copy(x.args[:], args)
		return x
	}
	for _, c := range []struct {
		d    seccompData
		want uint32
	}{
		{d("read"), retAllow},
		{d("write"), retLog},
		{d("open"), retTrace | 7},
		{d("close"), retTrace | uint32(unix.EPERM)},
		{d("kill"), retKillProcess},
		{d("tkill"), retKillThread},
		{d("tgkill"), retKillThread},
		{d("pipe"), retTrap},
		{d("mkdir"), retErrno | uint32(unix.EXDEV)},
		{d("rmdir"), retErrno | uint32(unix.EACCES)},
		{d("dup", 3), retAllow},
		{d("dup", 4), retErrno | 9},
		{d("dup2", 1), retAllow},
		{d("dup2", 2), retAllow},
		{d("dup2", 3), retErrno | uint32(unix.EACCES)},
		{d("dup3", 1, 2), retAllow},
		{d("dup3", 1, 3), retErrno | uint32(unix.EACCES)},
		{d("dup3", 2, 2), retErrno | uint32(unix.EACCES)},
	} {
		assert.Equal(t, fmt.Sprintf("%#x", c.want), fmt.Sprintf("%#x", decide(t, f, c.d)), "nr %d args %v", c.d.nr, c.d.args)
	}
}

// TestLongJumps forces targets beyond the 255-instruction reach of
// conditional jumps in every part of the program.
func TestLongJumps(t *testing.T) {
	var rules []specs.LinuxSyscall
	names := []string{"read", "write", "ioctl", "openat", "mmap"}
	for i := range 150 {
		rules = append(rules, specs.LinuxSyscall{Names: names[i%len(names) : i%len(names)+1], Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(i % 6), Value: uint64(i) << 20, Op: specs.OpEqualTo}}})
	}
	var all []string
	for n := range syscallTables["x86_64"] {
		if n != "getpid" {
			all = append(all, n)
		}
	}
	rules = append(rules, specs.LinuxSyscall{Names: all, Action: specs.ActLog})
	f, err := compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls:      rules,
	}, "amd64")
	require.NoError(t, err)
	t.Logf("%d instructions", f.Instructions())
	for i := range 150 {
		d := seccompData{nr: nr(t, "x86_64", names[i%len(names)]), arch: unix.AUDIT_ARCH_X86_64}
		d.args[i%6] = uint64(i) << 20
		assert.Equal(t, uint32(retAllow), decide(t, f, d), "rule %d", i)
		d.args[i%6]++
		if got := decide(t, f, d); got != retLog && got != retAllow {
			t.Errorf("rule %d with another value: %#x", i, got)
		}
	}
	assert.Equal(t, uint32(eperm), decide(t, f, seccompData{nr: nr(t, "x86_64", "getpid"), arch: unix.AUDIT_ARCH_X86_64}))
	for name, n := range syscallTables["x86"] {
		if slices.Contains(names, name) {
			continue // args all zero match rule 0
		}
		want := uint32(retLog)
		if _, ok := syscallTables["x86_64"][name]; !ok || name == "getpid" {
			want = eperm
		}
		require.Equal(t, want, decide(t, f, seccompData{nr: n, arch: unix.AUDIT_ARCH_I386}), "i386 %s", name)
	}
}

func TestCompileRejects(t *testing.T) {
	e := func(v uint) *uint { return &v }
	for _, c := range []struct {
		what string
		s    specs.LinuxSeccomp
		want error
	}{
		{"notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, ErrNotSupported},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"}, ErrNotSupported},
		{"unknown syscall", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdri"}, Action: specs.ActErrno}}}, ErrInvalid},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, ErrInvalid},
		{"no default action", specs.LinuxSeccomp{}, ErrInvalid},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, ErrInvalid},
		{"errnoRet with allow", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: e(1)}, ErrInvalid},
		{"errno too big", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: e(70000)}, ErrInvalid},
		{"bad operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_LIKE"}}}}}, ErrInvalid},
		{"arg index", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, ErrInvalid},
		{"conflicting unconditional", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno}, {Names: []string{"read"}, Action: specs.ActLog}}}, ErrInvalid},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}}, ErrNotSupported},
	} {
		_, err := compile(&c.s, "amd64")
		assert.ErrorIs(t, err, c.want, c.what)
	}
	_, err := compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, "mips64")
	assert.ErrorIs(t, err, ErrNotSupported)
	// Known elsewhere only: skipped, as libseccomp does.
	_, err = compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"riscv_hwprobe", "read"}, Action: specs.ActAllow}}}, "amd64")
	assert.NoError(t, err)
}

func TestCompileCache(t *testing.T) {
	prof, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(t, err)
	f1, err := CompileSeccomp(prof)
	require.NoError(t, err)
	again, err := DefaultSeccompProfile(DefaultCapabilities())
	require.NoError(t, err)
	f2, err := CompileSeccomp(again)
	require.NoError(t, err)
	assert.Same(t, f1, f2, "same profile content, same compiled filter")
	withAdmin, err := DefaultSeccompProfile(append(DefaultCapabilities(), "CAP_SYS_ADMIN"))
	require.NoError(t, err)
	f3, err := CompileSeccomp(withAdmin)
	require.NoError(t, err)
	assert.NotSame(t, f1, f3)
	// CAP_SYS_ADMIN in bounding allows mount, as in Docker.
	assert.Equal(t, uint32(retAllow), decide(t, f3, seccompData{nr: nr(t, "x86_64", "mount"), arch: unix.AUDIT_ARCH_X86_64}))
}

func TestPrepare(t *testing.T) {
	p, l := defaultSpec(t)
	p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}}
	p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
	plan, err := Prepare(p, l, WithLandlock(&Landlock{ReadOnly: []string{"/"}, ReadWrite: []string{"/tmp"}}))
	require.NoError(t, err)
	assert.Equal(t, uint64(0xa80425fb), plan.Caps.Bounding)
	assert.Equal(t, uint64(0xa80425fb), plan.Caps.Effective)
	assert.Equal(t, []Rlimit{{Name: "RLIMIT_NOFILE", Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}}, plan.Rlimits)

	// The plan survives the trip to the init.
	b, err := json.Marshal(plan)
	require.NoError(t, err)
	var back Plan
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, plan, &back)
	t.Logf("plan as JSON: %d bytes (seccomp %d instructions)", len(b), plan.Seccomp.Instructions())

	bad := func(mut func(p *specs.Process), opts ...Option) error {
		p, l := defaultSpec(t)
		mut(p)
		_, err := Prepare(p, l, opts...)
		return err
	}
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.Capabilities.Bounding = append(p.Capabilities.Bounding, "CAP_FLY") }), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.Capabilities.Effective = append(p.Capabilities.Effective, "CAP_SYS_ADMIN") }), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.Capabilities.Ambient = []string{"CAP_KILL"} }), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FUN"}} }), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}} }), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.ApparmorProfile = "docker-default" }), ErrNotSupported)
	assert.ErrorIs(t, bad(func(p *specs.Process) { p.NoNewPrivileges = false }, WithLandlock(&Landlock{ReadOnly: []string{"/"}})), ErrInvalid)
	assert.ErrorIs(t, bad(func(p *specs.Process) {}, WithLandlock(&Landlock{ReadOnly: []string{"relative"}})), ErrInvalid)
}

func TestAdjustCapabilities(t *testing.T) {
	got, err := AdjustCapabilities(DefaultCapabilities(), []string{"net_admin", "SYS_PTRACE"}, []string{"CAP_MKNOD"})
	require.NoError(t, err)
	assert.Contains(t, got, "CAP_NET_ADMIN")
	assert.Contains(t, got, "CAP_SYS_PTRACE")
	assert.NotContains(t, got, "CAP_MKNOD")
	assert.Len(t, got, 15)

	got, err = AdjustCapabilities(DefaultCapabilities(), []string{"NET_BIND_SERVICE"}, []string{"ALL"})
	require.NoError(t, err)
	assert.Equal(t, []string{"CAP_NET_BIND_SERVICE"}, got)

	got, err = AdjustCapabilities(nil, []string{"ALL"}, []string{"SYS_ADMIN"})
	require.NoError(t, err)
	assert.Len(t, got, len(AllCapabilities())-1)
	assert.NotContains(t, got, "CAP_SYS_ADMIN")

	_, err = AdjustCapabilities(nil, []string{"CAP_WARP_DRIVE"}, nil)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = AdjustCapabilities(nil, []string{"KILL"}, []string{"kill"})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestParseUlimit(t *testing.T) {
	r, err := ParseUlimit("nofile=1024:4096")
	require.NoError(t, err)
	assert.Equal(t, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}, r)
	r, err = ParseUlimit("core=unlimited")
	require.NoError(t, err)
	assert.Equal(t, specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)}, r)
	for _, bad := range []string{"nofile", "nofile=x", "nofile=10:5", "=5"} {
		_, err := ParseUlimit(bad)
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
}
