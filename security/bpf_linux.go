//go:build linux

package security

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// asm builds a classic BPF program backwards, from its last instruction to
// its first. Every jump target is then already placed, so each offset is
// known when the jump is written, and a target beyond the 8-bit reach of a
// conditional jump gets a nearby copy: the return instruction itself, or an
// unconditional "ja" (32-bit offset) to it. No instruction but loads and ALU
// operations falls through, so copies can sit anywhere between a jump and
// the code after it.
type asm struct {
	rev []bpf.Instruction // last instruction first
	// near maps a target to its most recent copy.
	near map[int]int
	// ret records which targets are return instructions.
	ret map[int]uint32
}

// A label is the index of an instruction counted from the end of the
// program (0 is the last instruction).
type label = int

func newAsm() *asm { return &asm{near: map[int]int{}, ret: map[int]uint32{}} }

// emit prepends one instruction and returns its label.
func (a *asm) emit(ins bpf.Instruction) label {
	a.rev = append(a.rev, ins)
	return len(a.rev) - 1
}

// retLabel prepends "ret v".
func (a *asm) retLabel(v uint32) label {
	l := a.emit(bpf.RetConstant{Val: v})
	a.ret[l] = v
	return l
}

func (a *asm) load(off uint32) label { return a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

// dist is the skip count from the next emitted instruction to target.
func (a *asm) dist(target label) int { return len(a.rev) - target - 1 }

// reach returns target or a copy of it close enough for a conditional jump,
// emitting a copy when none exists.
func (a *asm) reach(target label) label {
	if a.dist(target) <= 0xff-2 {
		return target
	}
	if c, ok := a.near[target]; ok && a.dist(c) <= 0xff-2 {
		return c
	}
	var c label
	if v, ok := a.ret[target]; ok {
		c = a.retLabel(v)
	} else {
		c = a.emit(bpf.Jump{Skip: uint32(a.dist(target))})
	}
	a.near[target] = c
	return c
}

// jump prepends "if A <cond> k goto t else goto f" for cond one of
// JumpEqual, JumpGreaterThan, JumpGreaterOrEqual, JumpBitsSet.
func (a *asm) jump(cond bpf.JumpTest, k uint32, t, f label) label {
	t = a.reach(t)
	f = a.reach(f)
	// The copy for f may have pushed t out of reach; one more round settles
	// it because each copy costs one instruction and reach keeps a margin.
	dt, df := a.dist(t), a.dist(f)
	if dt > 0xff || df > 0xff {
		panic(fmt.Sprintf("seccomp: internal error: jump offsets %d/%d out of range", dt, df))
	}
	return a.emit(bpf.JumpIf{Cond: cond, Val: k, SkipTrue: uint8(dt), SkipFalse: uint8(df)})
}

// program assembles the instructions in execution order into the kernel's
// struct sock_filter layout (native byte order: little endian on every
// architecture this package has syscall tables for).
func (a *asm) program() ([]byte, error) {
	if len(a.rev) > bpfMaxInsns {
		return nil, fmt.Errorf("seccomp program has %d instructions, the kernel allows %d: %w", len(a.rev), bpfMaxInsns, ErrNotSupported)
	}
	out := make([]byte, 0, 8*len(a.rev))
	for i := len(a.rev) - 1; i >= 0; i-- {
		raw, err := a.rev[i].Assemble()
		if err != nil {
			return nil, fmt.Errorf("assemble %v: %w", a.rev[i], err)
		}
		out = binary.LittleEndian.AppendUint16(out, raw.Op)
		out = append(out, raw.Jt, raw.Jf)
		out = binary.LittleEndian.AppendUint32(out, raw.K)
	}
	return out, nil
}

// bpfMaxInsns is BPF_MAXINSNS from linux/bpf_common.h.
const bpfMaxInsns = 4096
