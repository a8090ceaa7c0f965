//go:build linux

package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// ent is one entry of a test layer.
type ent struct {
	name, link, body string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

func file(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) ent {
	return ent{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) ent { return ent{name: name, link: to, typ: tar.TypeLink, mode: 0o644} }

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func tarOf(tb testing.TB, ents ...ent) []byte {
	tb.Helper()
	return buildTar(tb, false, ents...)
}

// buildTar writes ents as a tar; lenient drops entries tar cannot encode
// (the fuzzer invents those), otherwise they fail the test.
func buildTar(tb testing.TB, lenient bool, ents ...ent) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Devmajor: e.major, Devminor: e.minor, ModTime: testTime, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			if lenient {
				continue
			}
			require.NoError(tb, err)
		}
		if e.typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			require.NoError(tb, err)
		}
	}
	require.NoError(tb, tw.Close())
	return buf.Bytes()
}

func gzipOf(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, w.Close())
	return buf.Bytes()
}

func zstdOf(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	require.NoError(tb, err)
	_, err = w.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, w.Close())
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// snapshot describes every entry below dir (type, mode, owner, size, content
// hash, link target, device, overlay xattrs), so a test can state an exact
// tree or check that a tree did not change at all.
func snapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := describe(p, &st)
		out[rel] = desc
		return nil
	})
	require.NoError(tb, err)
	return out
}

func describe(p string, st *unix.Stat_t) string {
	mode := st.Mode & 07777
	own := fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		s := fmt.Sprintf("dir %o %s", mode, own)
		for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
			buf := make([]byte, 16)
			if n, err := unix.Lgetxattr(p, x, buf); err == nil {
				s += fmt.Sprintf(" %s=%s", x, buf[:n])
			}
		}
		return s
	case unix.S_IFREG:
		b, _ := os.ReadFile(p)
		return fmt.Sprintf("file %o %s %q nlink=%d", mode, own, truncate(string(b)), st.Nlink)
	case unix.S_IFLNK:
		t, _ := os.Readlink(p)
		return fmt.Sprintf("symlink %s -> %s", own, t)
	case unix.S_IFCHR:
		return fmt.Sprintf("char %d:%d %s", unix.Major(st.Rdev), unix.Minor(st.Rdev), own)
	case unix.S_IFBLK:
		return fmt.Sprintf("block %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		return fmt.Sprintf("fifo %o", mode)
	}
	return "other"
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// shapeOf drops owner and mode from a snapshot for compact expectations.
func shapeOf(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		f := strings.Fields(v)
		switch f[0] {
		case "file":
			out[k] = "file " + strings.Join(f[3:len(f)-1], " ")
		case "dir":
			out[k] = strings.Join(append([]string{"dir"}, f[3:]...), " ")
		case "char":
			out[k] = "char " + f[1]
		default:
			out[k] = v
		}
	}
	return out
}
