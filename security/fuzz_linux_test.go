//go:build linux

package security

import (
	"math/rand/v2"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// reference decides a syscall the way the runtime spec and runc describe,
// straight from the profile, without any of the compiler's structure
// (segments, binary search, shared returns, jump copies).
func reference(s *specs.LinuxSeccomp, d seccompData) uint32 {
	val := func(act specs.LinuxSeccompAction, e *uint) uint32 {
		v, err := actionValue(act, e, "")
		if err != nil {
			panic(err)
		}
		return v
	}
	covered := func(a specs.Arch) bool {
		if len(s.Architectures) == 0 {
			return a == specs.ArchX86_64
		}
		for _, x := range s.Architectures {
			if x == a {
				return true
			}
		}
		return false
	}
	var table string
	bits32 := false
	switch {
	// Like libseccomp, every number from the x32 bit up is x32's (the
	// kernel runs no x86_64 syscall there).
	case d.arch == unix.AUDIT_ARCH_X86_64 && d.nr >= x32Bit:
		if !covered(specs.ArchX32) {
			return retKillProcess
		}
		table = "x32"
	case d.arch == unix.AUDIT_ARCH_X86_64:
		table = "x86_64"
	case d.arch == unix.AUDIT_ARCH_I386 && covered(specs.ArchX86):
		table, bits32 = "x86", true
	default:
		return retKillProcess
	}
	var uncond *uint32
	for _, sc := range s.Syscalls {
		match := false
		for _, n := range sc.Names {
			if nr, ok := syscallTables[table][n]; ok && nr == d.nr {
				match = true
			}
		}
		if !match {
			continue
		}
		act := val(sc.Action, sc.ErrnoRet)
		if len(sc.Args) == 0 {
			if uncond == nil {
				uncond = &act
			}
			continue
		}
		groups, _ := condGroups(sc.Args, "")
		for _, g := range groups {
			all := true
			for _, c := range g {
				arg := d.args[c.Index]
				v, v2 := c.Value, c.ValueTwo
				if bits32 {
					arg, v, v2 = arg&0xffffffff, v&0xffffffff, v2&0xffffffff
				}
				if !cmp64(c.Op, arg, v, v2) {
					all = false
				}
			}
			if all {
				return act
			}
		}
	}
	if uncond != nil {
		return *uncond
	}
	def := val(s.DefaultAction, s.DefaultErrnoRet)
	var newest uint32
	for _, nr := range syscallTables[table] {
		newest = max(newest, nr)
	}
	if def&0xffff0000 == retErrno && d.nr > newest && !(table == "x86_64" && d.nr >= x32Bit) {
		return retErrno | uint32(unix.ENOSYS)
	}
	return def
}

var (
	fuzzNames = []string{"read", "write", "mkdir", "personality", "rt_sigaction", "chown32", "socketcall",
		"execve", "clone", "clone3", "openat", "getpid", "readv", "uretprobe"}
	fuzzActions = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActLog, specs.ActKillProcess,
		specs.ActKillThread, specs.ActTrap, specs.ActTrace}
	fuzzOps = []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan,
		specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual}
	fuzzValues = []uint64{0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0xffffffff00000000, ^uint64(0)}
)

// randomProfile builds a profile from r; values stay within 32 bits when
// i386 is covered (wider ones are refused there, as tested elsewhere).
func randomProfile(r *rand.Rand) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{DefaultAction: fuzzActions[r.IntN(len(fuzzActions))]}
	if s.DefaultAction == specs.ActErrno && r.IntN(2) == 0 {
		e := uint(r.IntN(200))
		s.DefaultErrnoRet = &e
	}
	archSets := [][]specs.Arch{nil, {specs.ArchX86_64}, {specs.ArchX86_64, specs.ArchX32},
		{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, {specs.ArchX86_64, specs.ArchX86, specs.ArchAARCH64}}
	s.Architectures = archSets[r.IntN(len(archSets))]
	narrow := false
	for _, a := range s.Architectures {
		narrow = narrow || a == specs.ArchX86
	}
	used := map[string]specs.LinuxSeccompAction{} // one unconditional action per name
	for range r.IntN(12) {
		sc := specs.LinuxSyscall{Action: fuzzActions[r.IntN(len(fuzzActions))]}
		if sc.Action == specs.ActErrno || sc.Action == specs.ActTrace {
			if r.IntN(2) == 0 {
				e := uint(r.IntN(4096))
				sc.ErrnoRet = &e
			}
		}
		for range 1 + r.IntN(3) {
			sc.Names = append(sc.Names, fuzzNames[r.IntN(len(fuzzNames))])
		}
		for range r.IntN(4) {
			v := fuzzValues[r.IntN(len(fuzzValues))] + uint64(r.IntN(3)) - 1
			v2 := fuzzValues[r.IntN(len(fuzzValues))]
			if narrow {
				v, v2 = v&0xffffffff, v2&0xffffffff
			}
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: uint(r.IntN(3)), Value: v, ValueTwo: v2, Op: fuzzOps[r.IntN(len(fuzzOps))]})
		}
		if len(sc.Args) == 0 {
			ok := true
			for _, n := range sc.Names {
				if a, seen := used[n]; seen && (a != sc.Action || sc.ErrnoRet != nil) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			if sc.ErrnoRet != nil {
				sc.ErrnoRet = nil
			}
			for _, n := range sc.Names {
				used[n] = sc.Action
			}
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

func randomData(r *rand.Rand) seccompData {
	var d seccompData
	switch r.IntN(4) {
	case 0, 1:
		d.arch = unix.AUDIT_ARCH_X86_64
		d.nr = syscallTables["x86_64"][fuzzNames[r.IntN(len(fuzzNames))]]
	case 2:
		d.arch = unix.AUDIT_ARCH_I386
		d.nr = syscallTables["x86"][fuzzNames[r.IntN(len(fuzzNames))]]
	default:
		d.arch = unix.AUDIT_ARCH_X86_64
		d.nr = syscallTables["x32"][fuzzNames[r.IntN(len(fuzzNames))]]
	}
	if r.IntN(8) == 0 {
		d.nr = r.Uint32() // anything, including numbers no table has
	}
	if r.IntN(16) == 0 {
		d.arch = unix.AUDIT_ARCH_AARCH64
	}
	for i := range d.args {
		d.args[i] = fuzzValues[r.IntN(len(fuzzValues))] + uint64(r.IntN(3)) - 1
		if d.arch == unix.AUDIT_ARCH_I386 {
			d.args[i] &= 0xffffffff // the kernel zero-extends 32-bit arguments
		}
	}
	return d
}

// checkAgainstReference compiles a random profile and compares the filter's
// decisions with the reference on random syscalls: the security property is
// that the program enforces exactly the profile, on every ABI.
func checkAgainstReference(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := randomProfile(r)
	f, err := compile(s, "amd64")
	if err != nil {
		t.Fatalf("seed %d: compile: %v\nprofile: %+v", seed, err, s)
	}
	for range 200 {
		d := randomData(r)
		got, err := runBPF(f.Program, d)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if want := reference(s, d); got != want {
			t.Fatalf("seed %d: nr %#x arch %#x args %#x: filter %#x, reference %#x\nprofile: %+v", seed, d.nr, d.arch, d.args, got, want, s)
		}
	}
}

func TestCompilerAgainstReference(t *testing.T) {
	n := uint64(3000)
	if testing.Short() {
		n = 300
	}
	for seed := range n {
		checkAgainstReference(t, seed)
	}
}

func FuzzCompilerAgainstReference(f *testing.F) {
	f.Add(uint64(1))
	f.Fuzz(func(t *testing.T, seed uint64) { checkAgainstReference(t, seed) })
}
