//go:build linux

package security

import (
	"encoding/binary"
	"fmt"
)

// seccompData mirrors struct seccomp_data for the interpreter below.
type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets the subset of classic BPF the compiler emits, with the
// kernel's semantics (loads are native-endian words of seccomp_data). It lets
// tests check decisions for arches and arguments this host cannot produce.
func runBPF(prog []byte, d seccompData) (uint32, error) {
	data := d.bytes()
	var acc uint32
	n := len(prog) / 8
	for pc := 0; pc < n; pc++ {
		ins := prog[8*pc:]
		code := binary.LittleEndian.Uint16(ins)
		jt, jf := int(ins[2]), int(ins[3])
		k := binary.LittleEndian.Uint32(ins[4:])
		switch code {
		case 0x20: // ld w abs
			if k%4 != 0 || k+4 > 64 {
				return 0, fmt.Errorf("pc %d: bad load offset %d", pc, k)
			}
			acc = binary.LittleEndian.Uint32(data[k:])
		case 0x54: // and k
			acc &= k
		case 0x05: // ja
			pc += int(k)
		case 0x15, 0x25, 0x35, 0x45:
			var ok bool
			switch code {
			case 0x15:
				ok = acc == k
			case 0x25:
				ok = acc > k
			case 0x35:
				ok = acc >= k
			case 0x45:
				ok = acc&k != 0
			}
			if ok {
				pc += jt
			} else {
				pc += jf
			}
		case 0x06:
			return k, nil
		default:
			return 0, fmt.Errorf("pc %d: unexpected opcode %#x", pc, code)
		}
	}
	return 0, fmt.Errorf("fell off the end of the program")
}
