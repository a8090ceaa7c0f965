//go:build linux

package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// resolveFlags confine every lookup to the layer directory: ".." stops at
// the root, absolute symlinks are taken relative to it, /proc magic links and
// mount crossings are refused. The kernel does this atomically, so no entry of
// the archive can redirect a later one outside (openat2(2)).
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// Unpack extracts one layer archive (plain tar, gzip or zstd, detected from
// the first bytes) into dir, which must exist and should be empty, and
// returns the layer's diff ID: the sha256 of the uncompressed tar stream.
//
// Whiteouts are converted to the overlayfs form so that dir is usable as an
// overlay lowerdir as is: ".wh.NAME" becomes a 0:0 character device NAME and
// ".wh..wh..opq" sets trusted.overlay.opaque=y (user.overlay.opaque with
// [UnpackOptions.UserXattr]) on its directory.
//
// Nothing in the archive can create or change anything outside dir: every
// path is resolved by the kernel inside dir (openat2 RESOLVE_IN_ROOT), the
// final component is never followed, existing entries are unlinked before
// they are replaced (never written through), and hardlink targets are
// resolved inside dir too. Extended attributes in the trusted.* namespace are
// dropped: a layer must not forge overlayfs metadata.
func Unpack(ctx context.Context, r io.Reader, dir string, opts UnpackOptions) (digest.Digest, error) {
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open layer dir: %w", err)
	}
	defer root.Close()
	u := &unpacker{root: root, opts: opts, buf: make([]byte, 1<<20)}
	if !opts.IgnoreOwnership && os.Geteuid() != 0 {
		// Without CAP_CHOWN and CAP_MKNOD neither ownership nor device nodes can be
		// reproduced; say so by the rule rather than failing on the first chown.
		u.opts.IgnoreOwnership = true
	}
	defer u.closeParent()

	br := bufio.NewReaderSize(r, 1<<20)
	dec, err := decompress(br)
	if err != nil {
		return "", err
	}
	// Decompression and hashing run in their own goroutine, the tar writer in
	// this one: on two cores this overlaps the two halves like gzip | tar does.
	pr, pw := io.Pipe()
	h := sha256.New()
	done := make(chan error, 1)
	var src io.Reader = dec
	if opts.MaxBytes > 0 {
		src = &maxReader{r: dec, left: opts.MaxBytes}
	}
	go func() {
		err := pump(pw, src, h)
		dec.Close()
		pw.CloseWithError(err)
		done <- err
	}()
	err = u.run(ctx, pr)
	if err == nil {
		// The diff ID covers the whole stream, padding after the end-of-archive
		// blocks included.
		if _, cerr := io.Copy(io.Discard, pr); cerr != nil {
			err = fmt.Errorf("read layer: %w", cerr)
		}
	}
	pr.CloseWithError(errUnpackStopped)
	perr := <-done
	if err != nil {
		return "", err
	}
	if perr != nil {
		return "", fmt.Errorf("decompress layer: %w", perr)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

var errUnpackStopped = errors.New("unpack stopped")

func decompress(br *bufio.Reader) (io.ReadCloser, error) {
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read layer: %w", err)
	}
	switch compression(magic) {
	case "gzip":
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrInvalidLayer, err)
		}
		return z, nil
	case "zstd":
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrInvalidLayer, err)
		}
		return z.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// compression names the compression of a stream from its first bytes:
// "gzip", "zstd", or "" (a plain tar).
func compression(magic []byte) string {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// maxReader fails once more than its budget was read (overshooting by at
// most one read).
type maxReader struct {
	r    io.Reader
	left int64
}

func (m *maxReader) Read(b []byte) (int, error) {
	n, err := m.r.Read(b)
	m.left -= int64(n)
	if m.left < 0 {
		return n, fmt.Errorf("%w: uncompressed layer larger than the limit", ErrInvalidLayer)
	}
	return n, err
}

func pump(w io.Writer, r io.Reader, h hash.Hash) error {
	bw := bufio.NewWriterSize(w, 512<<10)
	if _, err := io.CopyBuffer(io.MultiWriter(bw, h), r, make([]byte, 256<<10)); err != nil {
		return err
	}
	return bw.Flush()
}

type unpacker struct {
	root *os.File
	opts UnpackOptions
	buf  []byte

	// One cached parent directory: tar archives list a directory's entries
	// together. An entry that names the cached directory or one of its
	// ancestors (replacing it, say, by a symlink) drops the cache first.
	parentPath string
	parent     *os.File

	dirs []dirMeta
}

type dirMeta struct {
	name string
	hdr  *tar.Header
}

func (u *unpacker) run(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: read tar: %w", ErrInvalidLayer, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	// Directory modes and times last: writing their children changed the
	// times, and a read-only mode would have stopped a rootless unpack.
	for i := len(u.dirs) - 1; i >= 0; i-- {
		if err := u.finishDir(u.dirs[i]); err != nil {
			return fmt.Errorf("layer entry %q: %w", u.dirs[i].hdr.Name, err)
		}
	}
	return nil
}

// clean maps an archive name to a path relative to the layer root; ".." can
// not climb above it. "." is the root itself.
func clean(name string) string {
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	if p == "" {
		return "."
	}
	return p
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name := clean(hdr.Name)
	dir, base := path.Split(name)
	if name == "." {
		dir, base = "", "."
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		u.invalidate(dir + strings.TrimPrefix(base, whiteoutPrefix))
		return u.whiteout(dir, base, hdr)
	}
	u.invalidate(name)
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return nil // pax/GNU metadata already folded into headers by archive/tar
	}
	if base == "." && hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: the layer root must be a directory", ErrInvalidLayer)
	}
	pfd, err := u.openParent(dir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.mkdir(pfd, base, name, hdr)
	case tar.TypeReg, tar.TypeGNUSparse:
		return u.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := u.replace(pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return u.meta(pfd, base, hdr, false)
	case tar.TypeLink:
		return u.hardlink(pfd, base, name, hdr)
	default: // char, block, fifo
		mode := uint32(hdr.Mode & 07777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if hdr.Typeflag != tar.TypeFifo && (u.opts.IgnoreOwnership || inUserNamespace()) {
			// The documented rule: device nodes need CAP_MKNOD in the initial
			// user namespace; without it they are left out (a container gets
			// its devices from the runtime's /dev, not from image layers).
			return nil
		}
		if err := u.replace(pfd, base); err != nil {
			return err
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, mode, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		return u.meta(pfd, base, hdr, true)
	}
}

func (u *unpacker) openParent(dir string) (int, error) {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return int(u.root.Fd()), nil
	}
	if u.parent != nil && u.parentPath == dir {
		return int(u.parent.Fd()), nil
	}
	u.closeParent()
	f, err := openInRoot(u.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		// Implicit parents, as every tar does; created inside the root too.
		f, err = pathrs.MkdirAllHandle(u.root, dir, 0o755)
	}
	if err != nil {
		return -1, fmt.Errorf("open parent %q: %w", dir, err)
	}
	u.parent, u.parentPath = f, dir
	return int(f.Fd()), nil
}

// invalidate drops the cached parent if changing name could change what
// its path resolves to.
func (u *unpacker) invalidate(name string) {
	if u.parent != nil && (name == u.parentPath || strings.HasPrefix(u.parentPath, name+"/")) {
		u.closeParent()
	}
}

func (u *unpacker) closeParent() {
	if u.parent != nil {
		u.parent.Close()
		u.parent, u.parentPath = nil, ""
	}
}

// openInRoot opens p below root with the kernel confining the walk; on
// kernels without openat2 (before 5.6) securejoin's emulation does the same.
func openInRoot(root *os.File, p string, flags int) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), p, &unix.OpenHow{
		Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags,
	})
	if errors.Is(err, unix.ENOSYS) {
		h, err := pathrs.OpenatInRoot(root, p)
		if err != nil || flags&unix.O_PATH != 0 {
			return h, err
		}
		defer h.Close()
		return pathrs.Reopen(h, flags)
	}
	for errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		fd, err = unix.Openat2(int(root.Fd()), p, &unix.OpenHow{
			Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags,
		})
	}
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// replace removes whatever is at base so the new entry is created fresh:
// writing through an existing entry could follow a symlink or change an inode
// hardlinked elsewhere.
func (u *unpacker) replace(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EISDIR):
		return removeAllAt(pfd, base)
	}
	return fmt.Errorf("remove existing: %w", err)
}

func removeAllAt(pfd int, name string) error {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q for removal: %w", name, err)
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = unix.Unlinkat(fd, n, 0); errors.Is(err, unix.EISDIR) {
				err = removeAllAt(fd, n)
			}
			if err != nil {
				break
			}
		}
	}
	d.Close()
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	if err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	return nil
}

func (u *unpacker) mkdir(pfd int, base, name string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err = u.replace(pfd, base); err == nil {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := u.chown(pfd, base, hdr); err != nil {
		return err
	}
	if err := u.xattrs(pfd, base, hdr); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirMeta{name: name, hdr: hdr})
	return nil
}

func (u *unpacker) finishDir(d dirMeta) error {
	dir, base := path.Split(d.name)
	if d.name == "." {
		dir, base = "", "."
	}
	pfd, err := u.openParent(dir)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil // replaced by a later entry of the archive
	}
	if err := unix.Fchmodat(pfd, base, uint32(d.hdr.Mode&07777), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return u.times(pfd, base, d.hdr)
}

func (u *unpacker) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	if err := u.replace(pfd, base); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = io.CopyBuffer(f, r, u.buf)
	if err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return u.meta(pfd, base, hdr, true)
}

func (u *unpacker) hardlink(pfd int, base, name string, hdr *tar.Header) error {
	target := clean(hdr.Linkname)
	if target == name {
		return nil
	}
	src, err := openInRoot(u.root, target, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("%w: hardlink target %q: %w", ErrInvalidLayer, hdr.Linkname, err)
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%w: hardlink to directory %q", ErrInvalidLayer, hdr.Linkname)
	}
	if err := u.replace(pfd, base); err != nil {
		return err
	}
	err = unix.Linkat(int(src.Fd()), "", pfd, base, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link of our own fd
		// names the same inode without it.
		err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", src.Fd()), pfd, base, unix.AT_SYMLINK_FOLLOW)
	}
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

func (u *unpacker) whiteout(dir, base string, hdr *tar.Header) error {
	pfd, err := u.openParent(dir)
	if err != nil {
		return err
	}
	switch {
	case base == whiteoutOpaque:
		fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open opaque dir: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Fsetxattr(fd, u.overlayXattr("opaque"), []byte("y"), 0); err != nil {
			if errors.Is(err, unix.EPERM) && !u.opts.UserXattr {
				return fmt.Errorf("set %s: %w (trusted.* needs CAP_SYS_ADMIN in the initial user namespace: unpack with UserXattr and mount the overlay with userxattr)", u.overlayXattr("opaque"), err)
			}
			return fmt.Errorf("set %s: %w", u.overlayXattr("opaque"), err)
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // aufs bookkeeping (.wh..wh.plnk etc.): meaningless for overlay
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrInvalidLayer, victim)
	}
	if err := u.replace(pfd, victim); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, victim, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout %q: mknod: %w", victim, err)
	}
	return u.chown(pfd, victim, hdr)
}

// inUserNamespace reports whether the process runs in a user namespace
// other than the initial one, whose uid_map is the identity of all IDs.
var inUserNamespace = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

func (u *unpacker) overlayXattr(name string) string {
	if u.opts.UserXattr {
		return "user.overlay." + name
	}
	return "trusted.overlay." + name
}

// meta applies owner, mode, xattrs and times, in that order: chown clears
// setuid bits and security.capability, so those come after it.
func (u *unpacker) meta(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if err := u.chown(pfd, base, hdr); err != nil {
		return err
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&07777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
		if err := u.xattrs(pfd, base, hdr); err != nil {
			return err
		}
	}
	return u.times(pfd, base, hdr)
}

func (u *unpacker) chown(pfd int, base string, hdr *tar.Header) error {
	if u.opts.IgnoreOwnership {
		return nil
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	return nil
}

func (u *unpacker) times(pfd int, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// xattrs applies the archive's extended attributes that are safe to take
// from an image: user.* and file capabilities. trusted.* would let a layer
// set overlayfs metadata (redirect, metacopy, opaque) of its own.
func (u *unpacker) xattrs(pfd int, base string, hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse && hdr.Typeflag != tar.TypeDir {
		return nil // opening a device node to set an xattr could act on the device
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !(strings.HasPrefix(name, "user.") || name == "security.capability") {
			continue
		}
		if u.opts.IgnoreOwnership && name == "security.capability" {
			continue // capabilities of a file we could not chown would be wrong
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open for xattr %s: %w", name, err)
		}
		err = unix.Fsetxattr(fd, name, []byte(v), 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}
