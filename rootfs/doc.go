// Package rootfs builds a container's root filesystem inside the container's
// own mount namespace: an overlay of read-only layers under a private writable
// layer (or a plain directory), the standard kernel filesystems mounted the way
// runc mounts them, bind and tmpfs mounts, masked and read-only paths, and
// pivot_root into the result with the old root detached.
//
// The model has two halves. The parent prepares the per-container writable
// layer on disk (NewWritable) and removes it (Writable.Remove): that is the only
// thing that outlives the container. Everything else happens in Setup, which
// runs in the container's init, inside a fresh mount namespace whose
// propagation is set to slave first, so no mount made here is ever visible on
// the host, and the kernel releases all of them when the namespace dies.
//
// Path safety: every mount target is resolved inside the new root with
// openat2(RESOLVE_IN_ROOT) (through github.com/cyphar/filepath-securejoin), the
// target is opened as an O_PATH fd and the mount is made on /proc/self/fd/N, so
// a symlink planted in a layer or a volume (proc -> /, etc -> /host/etc, a
// directory swapped for a symlink mid-setup) can never make a mount land outside
// the container. A mount target that is itself a symlink is refused.
//
// The default root filesystem (HostRoot) is the host's own "/" used as the
// lowest read-only layer: a container sees the host's root filesystem (only that
// filesystem, none of the mounts below it), writes go to its private upper
// layer, and the host's /tmp, /var/tmp, /run, /root, /home and cocoon's state
// directory are covered with fresh empty tmpfs mounts.
//
// When not to use it: pivot_root needs the new root to be a mount point in a
// mount namespace other than the initramfs; where "/" is an initramfs, Setup
// fails with a clear error unless NoPivot asks for the weaker chroot.
//
// Man pages: mount(2), pivot_root(2), openat2(2), mount_namespaces(7), the
// kernel's Documentation/filesystems/overlayfs.rst.
package rootfs
