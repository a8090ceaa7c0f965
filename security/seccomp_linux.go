//go:build linux

package security

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Return values of a seccomp filter (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	x32Bit = 0x40000000

	// struct seccomp_data: nr at 0, arch at 4, args[6] (u64) from 16.
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// abi is one syscall ABI a process on this host can enter the kernel with.
type abi struct {
	spec  specs.Arch
	table string // key of syscallTables
	audit uint32 // seccomp_data.arch
	// x32 syscalls report AUDIT_ARCH_X86_64 and set x32Bit in nr.
	x32    bool
	bits32 bool // arguments are 32 bits wide
}

// hostABIs lists, per GOARCH, the ABIs the kernel may run: filters must
// cover each of them, and arches outside this list cannot occur here.
var hostABIs = map[string][]abi{
	"amd64": {
		{spec: specs.ArchX86_64, table: "x86_64", audit: unix.AUDIT_ARCH_X86_64},
		{spec: specs.ArchX32, table: "x32", audit: unix.AUDIT_ARCH_X86_64, x32: true},
		{spec: specs.ArchX86, table: "x86", audit: unix.AUDIT_ARCH_I386, bits32: true},
	},
	"arm64": {
		{spec: specs.ArchAARCH64, table: "aarch64", audit: unix.AUDIT_ARCH_AARCH64},
		{spec: specs.ArchARM, table: "arm", audit: unix.AUDIT_ARCH_ARM, bits32: true},
	},
}

// knownArches are the architecture names of the runtime spec; a profile may
// list foreign ones (they never match on this host) but not misspell one.
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
}

var filterFlags = map[specs.LinuxSeccompFlag]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":            unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: 0, // rejected below: only meaningful with SCMP_ACT_NOTIFY
}

// DefaultSeccompProfile returns Docker's default profile (from
// github.com/moby/profiles/seccomp) resolved for this host's architecture,
// kernel and the given bounding capabilities: with CAP_SYS_ADMIN in bounding,
// for example, mount and unshare are allowed, as in Docker.
func DefaultSeccompProfile(bounding []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
	p, err := seccomp.GetDefaultProfile(rs)
	if err != nil {
		return nil, fmt.Errorf("docker default seccomp profile: %w", err)
	}
	return p, nil
}

// LoadSeccompProfile reads a profile in Docker's JSON format (the format of
// docker run --security-opt seccomp=FILE, which also accepts a plain runtime
// spec LinuxSeccomp) and resolves it like DefaultSeccompProfile.
func LoadSeccompProfile(body []byte, bounding []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
	p, err := seccomp.LoadProfile(string(body), rs)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w: %w", ErrInvalid, err)
	}
	return p, nil
}

// filterCache holds one compiled filter per distinct profile, so a profile
// used for thousands of starts (Docker's default) is compiled once per
// process. Keyed by the SHA-256 of the profile's JSON form.
var filterCache struct {
	sync.Mutex
	m map[[32]byte]*Filter
}

const filterCacheMax = 256

// CompileSeccomp compiles a runtime-spec seccomp profile to a BPF filter for
// this host, from the cache when the same profile was compiled before. It
// refuses what it cannot enforce faithfully: SCMP_ACT_NOTIFY, syscall names
// no covered architecture knows, arches the spec does not define, argument
// values wider than a 32-bit ABI's registers.
func CompileSeccomp(s *specs.LinuxSeccomp) (*Filter, error) {
	if s == nil {
		return nil, nil
	}
	key, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	sum := sha256.Sum256(append(key, runtime.GOARCH...))
	filterCache.Lock()
	f, ok := filterCache.m[sum]
	filterCache.Unlock()
	if ok {
		return f, nil
	}
	f, err = compile(s, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	filterCache.Lock()
	if filterCache.m == nil || len(filterCache.m) >= filterCacheMax {
		filterCache.m = map[[32]byte]*Filter{}
	}
	filterCache.m[sum] = f
	filterCache.Unlock()
	return f, nil
}

func actionValue(act specs.LinuxSeccompAction, errnoRet *uint, what string) (uint32, error) {
	data := func() (uint32, error) {
		if errnoRet == nil {
			return uint32(unix.EPERM), nil
		}
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("%s: errnoRet %d does not fit in 16 bits: %w", what, *errnoRet, ErrInvalid)
		}
		return uint32(*errnoRet), nil
	}
	noData := func(v uint32) (uint32, error) {
		if errnoRet != nil {
			return 0, fmt.Errorf("%s: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %s: %w", what, act, ErrInvalid)
		}
		return v, nil
	}
	switch act {
	case specs.ActAllow:
		return noData(retAllow)
	case specs.ActLog:
		return noData(retLog)
	case specs.ActKill, specs.ActKillThread:
		return noData(retKillThread)
	case specs.ActKillProcess:
		return noData(retKillProcess)
	case specs.ActTrap:
		return noData(retTrap)
	case specs.ActErrno:
		d, err := data()
		return retErrno | d, err
	case specs.ActTrace:
		// Like runc: the tracer gets errnoRet as its message, EPERM by default.
		d, err := data()
		return retTrace | d, err
	case specs.ActNotify:
		return 0, fmt.Errorf("%s: SCMP_ACT_NOTIFY (seccomp user notification) is not implemented: %w", what, ErrNotSupported)
	case "":
		return 0, fmt.Errorf("%s: no action: %w", what, ErrInvalid)
	default:
		return 0, fmt.Errorf("%s: unknown action %q: %w", what, act, ErrInvalid)
	}
}

// rule is one conditional rule: all conds hold -> action.
type rule struct {
	conds  []specs.LinuxSeccompArg
	action uint32
}

// sysRules is what one syscall number does.
type sysRules struct {
	conds  []rule
	uncond *uint32
	name   string
}

func compile(s *specs.LinuxSeccomp, goarch string) (*Filter, error) {
	host, ok := hostABIs[goarch]
	if !ok {
		return nil, fmt.Errorf("seccomp on GOARCH %s: no syscall tables: %w", goarch, ErrNotSupported)
	}
	def, err := actionValue(s.DefaultAction, s.DefaultErrnoRet, "defaultAction")
	if err != nil {
		return nil, err
	}
	if s.ListenerPath != "" || s.ListenerMetadata != "" {
		return nil, fmt.Errorf("seccomp listenerPath: user notification is not implemented: %w", ErrNotSupported)
	}
	var flags uint
	for _, fl := range s.Flags {
		v, ok := filterFlags[fl]
		if !ok || v == 0 {
			return nil, fmt.Errorf("seccomp flag %q is not supported: %w", fl, ErrNotSupported)
		}
		flags |= v
	}
	flags &^= unix.SECCOMP_FILTER_FLAG_TSYNC

	// Which host ABIs does the profile cover? An empty list means the
	// native ABI only.
	var abis []abi
	if len(s.Architectures) == 0 {
		abis = host[:1]
	}
	for _, a := range s.Architectures {
		if !slices.Contains(knownArches, a) {
			return nil, fmt.Errorf("seccomp: unknown architecture %q: %w", a, ErrInvalid)
		}
		for _, h := range host {
			if h.spec == a && !slices.ContainsFunc(abis, func(x abi) bool { return x.spec == a }) {
				abis = append(abis, h)
			}
		}
	}
	if !slices.ContainsFunc(abis, func(x abi) bool { return x.spec == host[0].spec }) {
		return nil, fmt.Errorf("seccomp: profile architectures %v do not include this host's %s: %w", s.Architectures, host[0].spec, ErrInvalid)
	}

	perABI := make([]map[uint32]*sysRules, len(abis))
	for i := range perABI {
		perABI[i] = map[uint32]*sysRules{}
	}
	for i, sc := range s.Syscalls {
		what := fmt.Sprintf("syscalls[%d] %v", i, sc.Names)
		act, err := actionValue(sc.Action, sc.ErrnoRet, what)
		if err != nil {
			return nil, err
		}
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("%s: no syscall names: %w", what, ErrInvalid)
		}
		groups, err := condGroups(sc.Args, what)
		if err != nil {
			return nil, err
		}
		for _, name := range sc.Names {
			found := false
			for ai, a := range abis {
				nr, ok := syscallTables[a.table][name]
				if !ok {
					continue
				}
				found = true
				r := perABI[ai][nr]
				if r == nil {
					r = &sysRules{name: name}
					perABI[ai][nr] = r
				}
				if groups == nil {
					if r.uncond != nil && *r.uncond != act {
						return nil, fmt.Errorf("%s: syscall %s has two unconditional rules with different actions (%#x, %#x): %w", what, name, *r.uncond, act, ErrInvalid)
					}
					v := act
					r.uncond = &v
					continue
				}
				for _, g := range groups {
					if a.bits32 {
						for _, c := range g {
							if c.Value > 0xffffffff || (c.Op == specs.OpMaskedEqual && c.ValueTwo > 0xffffffff) {
								return nil, fmt.Errorf("%s: argument %d value %#x does not fit the 32-bit %s ABI: %w", what, c.Index, c.Value, a.spec, ErrInvalid)
							}
						}
					}
					r.conds = append(r.conds, rule{conds: g, action: act})
				}
			}
			if _, known := syscallNames[name]; !found && !known {
				return nil, fmt.Errorf("%s: syscall %q is not a Linux syscall on any architecture: %w", what, name, ErrInvalid)
			}
		}
	}

	prog, err := emitFilter(abis, perABI, def)
	if err != nil {
		return nil, err
	}
	return &Filter{Program: prog, Flags: flags}, nil
}

// condGroups validates a rule's argument conditions and returns the
// alternatives it stands for: nil for an unconditional rule, one group (all
// must hold) normally, and one group per condition when an argument index
// repeats, which runc (through libseccomp) treats as OR; Docker's profiles
// rely on neither, custom profiles written for runc may.
func condGroups(args []specs.LinuxSeccompArg, what string) ([][]specs.LinuxSeccompArg, error) {
	if len(args) == 0 {
		return nil, nil
	}
	seen := map[uint]bool{}
	repeat := false
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("%s: argument index %d (syscalls have 6 arguments, 0-5): %w", what, a.Index, ErrInvalid)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual,
			specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("%s: unknown operator %q: %w", what, a.Op, ErrInvalid)
		}
		if seen[a.Index] {
			repeat = true
		}
		seen[a.Index] = true
	}
	if !repeat {
		return [][]specs.LinuxSeccompArg{args}, nil
	}
	out := make([][]specs.LinuxSeccompArg, len(args))
	for i := range args {
		out[i] = args[i : i+1]
	}
	return out, nil
}

// emitFilter lays the program out as:
//
//	ld arch
//	jeq AUDIT_ARCH_<abi> -> that ABI's dispatch      (per covered audit arch)
//	ret KILL_PROCESS                                  (an ABI the profile does not cover)
//	dispatch: ld nr; binary search (jge) over syscall number segments, each
//	          leading to a shared "ret action", a syscall's rule block, the
//	          x32 dispatch (x86_64, nr >= x32 bit), ENOSYS or the default
//	rules:    per rule: conditions -> ret action, else next rule; ret fallback
//
// Built backwards by asm, so it is written here from the end.
func emitFilter(abis []abi, perABI []map[uint32]*sysRules, def uint32) ([]byte, error) {
	a := newAsm()
	kill := a.retLabel(retKillProcess)
	entry := map[int]label{} // index in abis -> label of its dispatch

	// x32 (if covered) is entered from the x86_64 dispatch by a forward
	// jump, so it comes after every other dispatch (and, the program being
	// built backwards, is emitted first).
	order := make([]int, 0, len(abis))
	for i, ab := range abis {
		if !ab.x32 {
			order = append(order, i)
		}
	}
	for i, ab := range abis {
		if ab.x32 {
			order = append(order, i)
		}
	}
	// Emission is backwards: emit in reverse of the final order.
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		entry[i] = emitDispatch(a, abis[i], perABI[i], def, kill, entry, abis)
	}
	// Arch dispatch: one jeq per distinct audit arch.
	next := kill
	done := map[uint32]bool{}
	for i := len(abis) - 1; i >= 0; i-- {
		ab := abis[i]
		if ab.x32 || done[ab.audit] {
			continue
		}
		done[ab.audit] = true
		next = a.jump(bpf.JumpEqual, ab.audit, entry[i], next)
	}
	a.load(offArch)
	return a.program()
}

func emitDispatch(a *asm, ab abi, rules map[uint32]*sysRules, def uint32, kill label, entry map[int]label, abis []abi) label {
	nrs := make([]uint32, 0, len(rules))
	for nr := range rules {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)

	// The handlers: one block per syscall with conditions; syscalls with
	// only an unconditional action jump straight to a shared "ret".
	rets := map[uint32]label{}
	retFor := func(v uint32) label {
		if l, ok := rets[v]; ok {
			return l
		}
		l := a.retLabel(v)
		rets[v] = l
		return l
	}
	handler := map[uint32]label{}
	for i := len(nrs) - 1; i >= 0; i-- {
		r := rules[nrs[i]]
		if len(r.conds) == 0 {
			continue
		}
		fallback := def
		if r.uncond != nil {
			fallback = *r.uncond
		}
		next := a.retLabel(fallback)
		for j := len(r.conds) - 1; j >= 0; j-- {
			next = emitRule(a, ab, r.conds[j], next)
		}
		handler[nrs[i]] = next
	}

	// The syscall number space as sorted segments, each going to one place:
	// runs of consecutive numbers with the same action share a segment
	// (Docker's allow list has long runs), the gaps take the default action.
	// Numbers above every table entry get ENOSYS when the default is an
	// errno (what runc does), so that libc falls back from a syscall this
	// profile could not know about instead of failing with EPERM. On x86_64,
	// numbers with the x32 bit go to the x32 dispatch, or are killed when
	// the profile does not cover x32.
	type target struct {
		kind byte // 'h' handler of syscall v, 'r' return v, 'x' x32 dispatch
		v    uint32
	}
	type seg struct {
		lo uint32
		t  target
	}
	var segs []seg
	// set makes [lo, next segment) go to t, merging equal neighbours.
	set := func(lo uint32, t target) {
		if n := len(segs); n > 0 && segs[n-1].lo == lo {
			segs = segs[:n-1]
		}
		if n := len(segs); n > 0 && segs[n-1].t == t {
			return
		}
		segs = append(segs, seg{lo, t})
	}
	defT := target{'r', def}
	set(0, defT)
	for _, nr := range nrs {
		t := target{'h', nr}
		if _, ok := handler[nr]; !ok {
			t = target{'r', *rules[nr].uncond}
		}
		set(nr, t)
		if nr < 0xffffffff {
			set(nr+1, defT)
		}
	}
	var newest uint32
	for _, nr := range syscallTables[ab.table] {
		newest = max(newest, nr)
	}
	if def&0xffff0000 == retErrno && newest < 0xffffffff {
		set(newest+1, target{'r', retErrno | uint32(unix.ENOSYS)})
	}
	if ab.spec == specs.ArchX86_64 {
		set(x32Bit, target{'x', 0})
	}
	x32 := kill
	for i, o := range abis {
		if o.x32 && ab.spec == specs.ArchX86_64 {
			l, ok := entry[i]
			if !ok {
				panic("seccomp: internal error: x32 dispatch not emitted before x86_64")
			}
			x32 = l
		}
	}
	targetOf := func(t target) label {
		switch t.kind {
		case 'h':
			return handler[t.v]
		case 'r':
			return retFor(t.v)
		}
		return x32
	}
	// A binary search over the segments: log2(segments) comparisons per
	// syscall instead of one per listed syscall, and one instruction per
	// segment boundary.
	var tree func(segs []seg) label
	tree = func(segs []seg) label {
		if len(segs) == 1 {
			return targetOf(segs[0].t)
		}
		mid := len(segs) / 2
		r := tree(segs[mid:])
		l := tree(segs[:mid])
		return a.jump(bpf.JumpGreaterOrEqual, segs[mid].lo, r, l)
	}
	tree(segs)
	return a.load(offNr)
}

// emitRule emits one conditional rule: if every condition holds, return its
// action, else go to next.
func emitRule(a *asm, ab abi, r rule, next label) label {
	t := a.retLabel(r.action)
	for i := len(r.conds) - 1; i >= 0; i-- {
		t = emitCond(a, ab, r.conds[i], t, next)
	}
	return t
}

// emitCond emits a 64-bit unsigned comparison of one argument (32-bit on a
// 32-bit ABI) as two 32-bit halves: the high words decide unless they are
// equal, then the low words do. Returns the label of its first instruction.
func emitCond(a *asm, ab abi, c specs.LinuxSeccompArg, t, f label) label {
	lo := uint32(offArgs + 8*c.Index) // little endian: low word first
	hi := lo + 4
	v := c.Value
	switch c.Op {
	case specs.OpNotEqual:
		return emitCond(a, ab, specs.LinuxSeccompArg{Index: c.Index, Value: v, Op: specs.OpEqualTo}, f, t)
	case specs.OpLessThan:
		return emitCond(a, ab, specs.LinuxSeccompArg{Index: c.Index, Value: v, Op: specs.OpGreaterEqual}, f, t)
	case specs.OpLessEqual:
		return emitCond(a, ab, specs.LinuxSeccompArg{Index: c.Index, Value: v, Op: specs.OpGreaterThan}, f, t)
	case specs.OpEqualTo:
		a.jump(bpf.JumpEqual, uint32(v), t, f)
		l := a.load(lo)
		if ab.bits32 {
			return l
		}
		a.jump(bpf.JumpEqual, uint32(v>>32), l, f)
		return a.load(hi)
	case specs.OpMaskedEqual:
		// Value is the mask, ValueTwo the datum: (arg & Value) == ValueTwo.
		m, d := v, c.ValueTwo
		a.jump(bpf.JumpEqual, uint32(d), t, f)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(m)})
		l := a.load(lo)
		if ab.bits32 {
			return l
		}
		a.jump(bpf.JumpEqual, uint32(d>>32), l, f)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(m >> 32)})
		return a.load(hi)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		cond := bpf.JumpGreaterThan
		if c.Op == specs.OpGreaterEqual {
			cond = bpf.JumpGreaterOrEqual
		}
		a.jump(cond, uint32(v), t, f)
		l := a.load(lo)
		if ab.bits32 {
			return l
		}
		// hi > vhi -> t; hi == vhi -> compare low words; hi < vhi -> f.
		l = a.jump(bpf.JumpEqual, uint32(v>>32), l, f)
		a.jump(bpf.JumpGreaterThan, uint32(v>>32), t, l)
		return a.load(hi)
	}
	panic("seccomp: unvalidated operator " + string(c.Op))
}

// loadSeccomp installs f on every thread of the process (TSYNC), so the Go
// runtime's other threads cannot escape it.
func loadSeccomp(f *Filter) error {
	n := f.Instructions()
	if n == 0 || n > bpfMaxInsns || len(f.Program)%8 != 0 {
		return fmt.Errorf("seccomp: malformed program of %d bytes: %w", len(f.Program), ErrInvalid)
	}
	insns := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&insns[0])), len(f.Program)), f.Program)
	prog := unix.SockFprog{Len: uint16(n), Filter: &insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(f.Flags|unix.SECCOMP_FILTER_FLAG_TSYNC), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(insns)
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	if r != 0 {
		// With TSYNC a positive return is the thread that could not be synced.
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread %d has a diverging filter: %w", r, unix.EBUSY)
	}
	return nil
}
