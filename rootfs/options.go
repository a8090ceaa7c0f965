package rootfs

import (
	"fmt"
	"strings"
)

// Mount flag values (the Linux ABI); kept here so option parsing is plain,
// testable Go on every OS.
const (
	flagRdonly      = 0x1
	flagNosuid      = 0x2
	flagNodev       = 0x4
	flagNoexec      = 0x8
	flagSynchronous = 0x10
	flagRemount     = 0x20
	flagMandlock    = 0x40
	flagDirsync     = 0x80
	flagNosymfollow = 0x100
	flagNoatime     = 0x400
	flagNodiratime  = 0x800
	flagBind        = 0x1000
	flagRec         = 0x4000
	flagSilent      = 0x8000
	flagUnbindable  = 0x20000
	flagPrivate     = 0x40000
	flagSlave       = 0x80000
	flagShared      = 0x100000
	flagRelatime    = 0x200000
	flagStrictatime = 0x1000000
	flagLazytime    = 0x2000000
)

// ParsedOptions is a mount's option list split the way mount(2) takes it.
type ParsedOptions struct {
	Flags       uintptr // flags for the mount itself
	Clear       uintptr // flags an option explicitly turned off (rw, suid, ...)
	Propagation uintptr // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, maybe | MS_REC
	Data        string  // filesystem-specific options, comma-separated
	Bind        bool
	Recursive   bool
}

type flagOpt struct {
	clear bool
	flag  uintptr
}

var flagOptions = map[string]flagOpt{
	"ro": {false, flagRdonly}, "rw": {true, flagRdonly},
	"nosuid": {false, flagNosuid}, "suid": {true, flagNosuid},
	"nodev": {false, flagNodev}, "dev": {true, flagNodev},
	"noexec": {false, flagNoexec}, "exec": {true, flagNoexec},
	"sync": {false, flagSynchronous}, "async": {true, flagSynchronous},
	"dirsync": {false, flagDirsync},
	"mand":    {false, flagMandlock}, "nomand": {true, flagMandlock},
	"noatime": {false, flagNoatime}, "atime": {true, flagNoatime},
	"nodiratime": {false, flagNodiratime}, "diratime": {true, flagNodiratime},
	"relatime": {false, flagRelatime}, "norelatime": {true, flagRelatime},
	"strictatime": {false, flagStrictatime}, "nostrictatime": {true, flagStrictatime},
	"lazytime": {false, flagLazytime}, "nolazytime": {true, flagLazytime},
	"nosymfollow": {false, flagNosymfollow}, "symfollow": {true, flagNosymfollow},
	"silent": {false, flagSilent}, "loud": {true, flagSilent},
	"remount": {false, flagRemount},
}

var propagationOptions = map[string]uintptr{
	"private": flagPrivate, "rprivate": flagPrivate | flagRec,
	"shared": flagShared, "rshared": flagShared | flagRec,
	"slave": flagSlave, "rslave": flagSlave | flagRec,
	"unbindable": flagUnbindable, "runbindable": flagUnbindable | flagRec,
}

// ParseOptions splits runtime-spec mount options into flags, propagation and
// filesystem data. Options it does not know are passed to the filesystem as
// data, as runc does: the kernel then names the one it rejects.
func ParseOptions(opts []string) (ParsedOptions, error) {
	var p ParsedOptions
	var data []string
	for _, o := range opts {
		switch {
		case o == "bind":
			p.Bind = true
		case o == "rbind":
			p.Bind, p.Recursive = true, true
		case o == "":
			return p, fmt.Errorf("empty mount option")
		default:
			if f, ok := flagOptions[o]; ok {
				if f.clear {
					p.Flags &^= f.flag
					p.Clear |= f.flag
				} else {
					p.Flags |= f.flag
					p.Clear &^= f.flag
				}
				continue
			}
			if f, ok := propagationOptions[o]; ok {
				p.Propagation = f
				continue
			}
			if strings.ContainsAny(o, "\x00") {
				return p, fmt.Errorf("mount option %q contains a NUL byte", o)
			}
			data = append(data, o)
		}
	}
	p.Data = strings.Join(data, ",")
	return p, nil
}
