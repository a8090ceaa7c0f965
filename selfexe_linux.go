//go:build linux

package container

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// protectedExe returns a path that executes the caller's own binary without
// exposing it to writes from inside a container (CVE-2019-5736): a container
// process that reaches the init's /proc/<pid>/exe (for example by making the
// init execute "#!/proc/self/exe") finds a read-only mount that exists in no
// mount namespace, so it can neither write the file nor remount it.
//
// It is made once per process and reused by every start: a detached bind mount
// of the binary (open_tree OPEN_TREE_CLONE) made read-only with mount_setattr,
// or, where that is not permitted (no CAP_SYS_ADMIN, old kernels), a sealed
// memfd copy of the binary.
var protectedExe = sync.OnceValues(func() (*os.File, error) {
	fd, err := detachedReadonlyExe()
	if err != nil {
		if fd, err = sealedCopyExe(); err != nil {
			return nil, fmt.Errorf("protect own binary: %w", err)
		}
	}
	// Held for the life of the process: every start executes through it.
	return os.NewFile(uintptr(fd), "cocoon-init"), nil
})

// exePath is the path the init is executed by: the fd's magic link.
func exePath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

func detachedReadonlyExe() (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("open_tree /proc/self/exe: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mount_setattr read-only: %w", err)
	}
	return fd, nil
}

func sealedCopyExe() (int, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return -1, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("cocoon-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if _, err := io.Copy(fdWriter(fd), src); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("copy binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seal copy: %w", err)
	}
	// execve refuses a file open for writing (ETXTBSY): keep a read-only
	// reopening and drop the writable fd.
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	if err != nil {
		return -1, fmt.Errorf("reopen sealed copy: %w", err)
	}
	return ro, nil
}

// fdWriter writes to a raw fd without giving it to an *os.File (whose
// finalizer would close it).
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) { return unix.Write(int(w), p) }
