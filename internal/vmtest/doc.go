// Package vmtest runs a Go package's tests as root inside a QEMU VM booted
// with a pure cgroup v2 Linux kernel, for privileged tests the host cannot
// run: the development and CI machines have hybrid cgroups and no usable
// KVM, so the guest runs under TCG (software emulation).
//
// The model: Run builds the package's test binary and a small static PID 1
// (guestinit) with CGO_ENABLED=0, packs them with a static busybox (as
// /bin/sh and its applets) and the kernel modules containers need into an
// initramfs, and boots Debian's cloud kernel, pinned (KernelABI,
// KernelVersion) and downloaded once with `apt-get download` into a cache
// dir, never installed. The guest init mounts proc, sys, devtmpfs and
// cgroup2 (every controller enabled for children), loads the modules with
// finit_module, puts a bind mount of / over the initramfs root so
// pivot_root works in containers, runs the test binary with the given
// -test.* flags and environment, and writes its exit status as a marker
// line on the test output port (ttyS1; the kernel log goes to ttyS0). A
// guest-side timeout sends SIGQUIT (a goroutine dump) before giving up.
//
// The command is cmd/vmtest:
//
//	go run ./internal/vmtest/cmd/vmtest -pkg ./cgroup [-run REGEX] [-timeout 10m] [-v] [-- -test.bench=.]
//
// Host requirements: qemu-system-x86 and busybox-static (apt), apt-get and
// dpkg-deb for the first download, the Go toolchain.
//
// Pitfalls: TCG makes syscalls ~9x and fork+exec ~25x slower than the host,
// so timing assertions need the same tolerance as on a loaded host; the
// guest has no network device and no disk, only the initramfs (tmpfs) and
// Memory MiB of RAM. When Debian's mirror drops the pinned kernel build,
// the first download fails with a message saying how to pin the new one.
package vmtest
