package rootfs

import "errors"

// ErrUnsafePath is wrapped by errors for mount targets that are symlinks or
// otherwise try to leave the container's root.
var ErrUnsafePath = errors.New("unsafe path")

// ErrPivotRoot is wrapped when pivot_root is refused (where "/" is an
// initramfs it is impossible); Config.NoPivot is then the explicit, weaker way out.
var ErrPivotRoot = errors.New("pivot_root refused (where / is an initramfs it is impossible, and NoPivot uses chroot instead)")
