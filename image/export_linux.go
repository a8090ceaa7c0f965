//go:build linux

package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// ExportLayer writes the overlayfs upper directory of a container (its
// writable layer, after the overlay is unmounted or the container stopped)
// as an uncompressed OCI layer tar to w and returns its diff ID. Overlay
// whiteouts (0:0 character devices) become ".wh.NAME" entries and opaque
// directories get ".wh..wh..opq", the inverse of [Unpack]. Hardlinked files
// are written once and linked. Upper dirs that use overlay's redirect_dir or
// metacopy features are refused (ErrNotSupported): their content is not in
// the upper dir alone.
//
// The walk is confined to upper (os.Root), and files are opened without
// following symlinks, so a container that still runs cannot make the export
// read host files; the result is only consistent if it does not run.
func ExportLayer(ctx context.Context, upper string, w io.Writer) (digest.Digest, error) {
	root, err := os.OpenRoot(upper)
	if err != nil {
		return "", fmt.Errorf("export layer: %w", err)
	}
	defer root.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(w, h))
	links := map[[2]uint64]string{}
	buf := make([]byte, 1<<20)
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", p)
		}
		hdr := &tar.Header{Name: p, Mode: int64(st.Mode & 07777), Uid: int(st.Uid), Gid: int(st.Gid),
			ModTime: time.Unix(st.Mtim.Unix()).UTC(), Format: tar.FormatPAX}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			if st.Rdev == 0 { // an overlay whiteout
				dir, base := path.Split(p)
				return tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg,
					Mode: 0o644, ModTime: hdr.ModTime, Format: tar.FormatPAX})
			}
			hdr.Typeflag = tar.TypeChar
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFBLK:
			hdr.Typeflag = tar.TypeBlock
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		case unix.S_IFLNK:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = root.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
			opaque, err := overlayDirXattrs(root, p)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if opaque {
				return tw.WriteHeader(&tar.Header{Name: p + "/" + whiteoutOpaque, Typeflag: tar.TypeReg,
					Mode: 0o644, ModTime: hdr.ModTime, Format: tar.FormatPAX})
			}
			return nil
		case unix.S_IFREG:
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok && st.Nlink > 1 {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				break
			}
			if st.Nlink > 1 {
				links[key] = p
			}
			return exportFile(root, p, hdr, st, tw, buf)
		default:
			return nil // sockets are not content
		}
		return tw.WriteHeader(hdr)
	})
	if err != nil {
		return "", fmt.Errorf("export layer %s: %w", upper, err)
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("export layer %s: %w", upper, err)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

func exportFile(root *os.Root, p string, hdr *tar.Header, st *syscall.Stat_t, tw *tar.Writer, buf []byte) error {
	f, err := root.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &now); err != nil {
		return err
	}
	if now.Ino != st.Ino || now.Dev != st.Dev {
		return fmt.Errorf("%s changed during the export", p)
	}
	if err := rejectOverlayFeatures(int(f.Fd()), p); err != nil {
		return err
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, now.Size
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyBuffer(tw, io.LimitReader(f, now.Size), buf)
	return err
}

// overlayDirXattrs reports whether the directory is opaque, and refuses
// redirected ones.
func overlayDirXattrs(root *os.Root, p string) (bool, error) {
	f, err := root.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := rejectOverlayFeatures(int(f.Fd()), p); err != nil {
		return false, err
	}
	buf := make([]byte, 8)
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		n, err := unix.Fgetxattr(int(f.Fd()), x, buf)
		if err == nil && string(buf[:n]) == "y" {
			return true, nil
		}
		if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
			return false, fmt.Errorf("%s: get %s: %w", p, x, err)
		}
	}
	return false, nil
}

func rejectOverlayFeatures(fd int, p string) error {
	for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect", "user.overlay.metacopy"} {
		if _, err := unix.Fgetxattr(fd, x, nil); err == nil {
			return fmt.Errorf("%w: %s carries %s (overlay redirect_dir/metacopy): mount without them to export", ErrNotSupported, p, x)
		}
	}
	return nil
}
