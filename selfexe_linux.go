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
var protectedExe = sync.OnceValues(func() (string, error) {
	if fd, err := detachedReadonlyExe(); err == nil {
		return fmt.Sprintf("/proc/self/fd/%d", fd), nil
	}
	fd, err := sealedCopyExe()
	if err != nil {
		return "", fmt.Errorf("protect own binary: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), nil
})

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
	dst := os.NewFile(uintptr(fd), "cocoon-init")
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return -1, fmt.Errorf("copy binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return -1, fmt.Errorf("seal copy: %w", err)
	}
	// The *os.File must stay alive: its finalizer would close the fd.
	sealedCopy = dst
	return fd, nil
}

var sealedCopy *os.File
