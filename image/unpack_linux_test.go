//go:build linux

package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func unpackBytes(t testing.TB, b []byte, opts UnpackOptions) (string, string, error) {
	t.Helper()
	d := t.TempDir()
	id, err := Unpack(context.Background(), bytes.NewReader(b), d, opts)
	return d, string(id), err
}

func TestUnpackEntriesOwnershipAndModes(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	setuid := file("bin/su", "su")
	setuid.mode, setuid.uid, setuid.gid = 0o4755, 0, 0
	owned := file("home/u/f", "mine")
	owned.uid, owned.gid, owned.mode = 1234, 567, 0o600
	dev := ent{name: "dev/null", typ: '3', mode: 0o666, major: 1, minor: 3}
	fifo := ent{name: "run/fifo", typ: '6', mode: 0o620}
	ro := dir("ro")
	ro.mode = 0o555
	xf := file("cap", "x")
	xf.xattrs = map[string]string{"user.note": "hello", "trusted.overlay.redirect": "/etc", "trusted.overlay.opaque": "y"}
	layer := tarOf(t,
		dir("./"), dir("bin"), setuid, dir("home/u"), owned, dev, fifo, ro, file("ro/inside", "i"),
		symlink("bin/sh", "/bin/busybox"), hardlink("bin/su2", "bin/su"), xf,
		file("bin/over", "old"), file("bin/over", "new"), // a later entry replaces an earlier one
	)
	d, id, err := unpackBytes(t, layer, UnpackOptions{})
	require.NoError(t, err)
	assert.Equal(t, sha(layer), id)
	got := snapshot(t, d)
	assert.Equal(t, "file 4755 0:0 \"su\" nlink=2", got["bin/su"])
	assert.Equal(t, "file 4755 0:0 \"su\" nlink=2", got["bin/su2"])
	assert.Equal(t, "file 600 1234:567 \"mine\" nlink=1", got["home/u/f"])
	assert.Equal(t, "char 1:3 0:0", got["dev/null"])
	assert.Equal(t, "fifo 620", got["run/fifo"])
	assert.Equal(t, "dir 555 0:0", got["ro"])
	assert.Equal(t, "symlink 0:0 -> /bin/busybox", got["bin/sh"])
	assert.Equal(t, "file 644 0:0 \"new\" nlink=1", got["bin/over"])
	assert.Equal(t, "dir 755 0:0", got["home"], "implicit parent")

	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(d, "cap"), "user.note", buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	_, err = unix.Lgetxattr(filepath.Join(d, "cap"), "trusted.overlay.redirect", buf)
	assert.ErrorIs(t, err, unix.ENODATA, "a layer must not set overlay metadata")
	_, err = unix.Lgetxattr(filepath.Join(d, "cap"), "trusted.overlay.opaque", buf)
	assert.ErrorIs(t, err, unix.ENODATA, "a layer must not set overlay metadata")

	fi, err := os.Lstat(filepath.Join(d, "ro"))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(testTime), "directory times are set after their children: %v", fi.ModTime())
}

func TestUnpackIgnoreOwnership(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	owned := file("f", "x")
	owned.uid, owned.gid = 1234, 567
	dev := ent{name: "null", typ: '3', mode: 0o666, major: 1, minor: 3}
	d, _, err := unpackBytes(t, tarOf(t, owned, dev), UnpackOptions{IgnoreOwnership: true})
	require.NoError(t, err)
	got := snapshot(t, d)
	assert.Equal(t, "file 644 0:0 \"x\" nlink=1", got["f"])
	assert.NotContains(t, got, "null", "device nodes are skipped without ownership")
}

func TestUnpackWhiteoutsToOverlayForm(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	layer := tarOf(t,
		dir("etc"), file("etc/.wh..wh..opq", ""), file("etc/new", "n"),
		file(".wh.removed", ""), dir("usr"), file("usr/.wh.gone", ""), file(".wh..wh.plnk", ""),
	)
	for name, b := range map[string][]byte{"tar": layer, "gzip": gzipOf(t, layer), "zstd": zstdOf(t, layer)} {
		t.Run(name, func(t *testing.T) {
			d, id, err := unpackBytes(t, b, UnpackOptions{})
			require.NoError(t, err)
			assert.Equal(t, sha(layer), id, "the diff ID is the digest of the uncompressed tar")
			assert.Equal(t, map[string]string{
				".":        "dir",
				"etc":      "dir trusted.overlay.opaque=y",
				"etc/new":  `file "n"`,
				"removed":  "char 0:0",
				"usr":      "dir",
				"usr/gone": "char 0:0",
			}, shapeOf(snapshot(t, d)))
		})
	}
	d, _, err := unpackBytes(t, layer, UnpackOptions{UserXattr: true})
	require.NoError(t, err)
	assert.Equal(t, "dir user.overlay.opaque=y", shapeOf(snapshot(t, d))["etc"])
}

func TestUnpackRejectsCorruptStreams(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	layer := gzipOf(t, tarOf(t, file("a", "aaaa"), file("b", "bbbb")))
	_, _, err := unpackBytes(t, layer[:len(layer)-12], UnpackOptions{})
	require.Error(t, err)
	_, _, err = unpackBytes(t, tarOf(t, hardlink("x", "missing")), UnpackOptions{})
	require.ErrorIs(t, err, ErrInvalidLayer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Unpack(ctx, bytes.NewReader(tarOf(t, file("a", "a"))), t.TempDir(), UnpackOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

// hostileLayers are archives that try to write outside the layer directory.
// outside is the absolute path of a sentinel directory beside the layer.
func hostileLayers(outside string) map[string][]ent {
	return map[string][]ent{
		"dotdot":           {file("../outside/evil", "x"), file("../../../../../../../"+outside+"/evil2", "x")},
		"absolute name":    {file(outside+"/evil", "x"), file("/"+outside+"/victim", "overwritten")},
		"absolute symlink": {symlink("l", outside), file("l/evil", "x"), file("l/victim", "overwritten")},
		"relative symlink": {symlink("l", "../outside"), file("l/evil", "x"), dir("l/newdir")},
		"symlink as dir":   {symlink("d", outside), dir("d"), file("d/evil", "x")},
		"symlink chain": {symlink("a", "b/../../.."), dir("b"), symlink("c", "a/"+outside), symlink("e", "c"),
			file("e/evil", "x"), file("e/victim", "overwritten")},
		"hardlink outside": {hardlink("h", "../outside/victim"), file("h", "overwritten")},
		"hardlink abs":     {hardlink("h", outside+"/victim"), file("h", "overwritten")},
		"hardlink via symlink": {symlink("l", outside), hardlink("h", "l/victim"),
			file("h", "overwritten")},
		"write through symlink file": {symlink("v", outside+"/victim"), file("v", "overwritten")},
		"whiteout through symlink":   {symlink("l", outside), file("l/.wh.victim", ""), file("l/.wh.sub", "")},
		"opaque through symlink":     {symlink("l", outside), file("l/.wh..wh..opq", "")},
		"whiteout dotdot":            {file(".wh...", ""), file("../.wh.outside", "")},
		"device through symlink":     {symlink("l", outside), {name: "l/null", typ: '3', mode: 0o666, major: 1, minor: 3}},
		"fifo through symlink":       {symlink("l", outside), {name: "l/fifo", typ: '6', mode: 0o666}},
		"chmod through symlink":      {symlink("l", outside), {name: "l", typ: '5', mode: 0o777}},
		"xattr through symlink": {symlink("l", outside+"/victim"),
			{name: "l", typ: '0', mode: 0o644, xattrs: map[string]string{"user.x": "y"}}},
		"deep dotdot symlink": {symlink("x", "../../../../../../../../../../.."), file("x/"+outside+"/evil", "x")},
		"dir replaced by symlink then written": {dir("d"), file("d/f", "x"), symlink("d", outside),
			file("d/evil", "x")},
	}
}

// sentinel builds base/outside (a directory with a victim file and a
// subdirectory) beside base/layer and returns both paths.
func sentinel(tb testing.TB, base string) (outside, layer string) {
	tb.Helper()
	outside = filepath.Join(base, "outside")
	layer = filepath.Join(base, "layer")
	require.NoError(tb, os.MkdirAll(filepath.Join(outside, "sub"), 0o755))
	require.NoError(tb, os.WriteFile(filepath.Join(outside, "victim"), []byte("original"), 0o644))
	require.NoError(tb, os.WriteFile(filepath.Join(outside, "sub", "victim"), []byte("original"), 0o644))
	require.NoError(tb, os.Mkdir(layer, 0o755))
	return outside, layer
}

func TestUnpackHostileLayersStayInside(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	for name, ents := range hostileLayers("/OUTSIDE") {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			outside, layer := sentinel(t, base)
			for i := range ents {
				ents[i].name = replaceOutside(ents[i].name, outside)
				ents[i].link = replaceOutside(ents[i].link, outside)
			}
			before := snapshot(t, base)
			delete(before, "layer")
			_, err := Unpack(context.Background(), bytes.NewReader(tarOf(t, ents...)), layer, UnpackOptions{})
			after := snapshot(t, base)
			for k := range after {
				if k == "layer" || filepath.Dir(k) == "layer" || len(k) > 6 && k[:6] == "layer/" {
					delete(after, k)
				}
			}
			assert.Equal(t, before, after, "unpack (err=%v) changed something outside the layer dir", err)
			_, statErr := os.Lstat("/OUTSIDE")
			assert.ErrorIs(t, statErr, os.ErrNotExist)
		})
	}
}

func replaceOutside(s, outside string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("/OUTSIDE"), []byte(outside)))
}

// TestUnpackReplacedAncestor: a directory replaced by a symlink after its
// subdirectories were written; later entries below it follow the symlink
// (inside the layer), as a fresh lookup would.
func TestUnpackReplacedAncestor(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	d, _, err := unpackBytes(t, tarOf(t, dir("t"), dir("t/b"), dir("a"), dir("a/b"), file("a/b/c", "1"),
		symlink("a", "t"), file("a/b/d", "2")), UnpackOptions{})
	require.NoError(t, err)
	got := shapeOf(snapshot(t, d))
	assert.Equal(t, "symlink 0:0 -> t", got["a"])
	assert.Equal(t, `file "2"`, got["t/b/d"])
	assert.NotContains(t, got, "a/b/c")
}

func TestUnpackMaxBytesStopsBombs(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	bomb := gzipOf(t, tarOf(t, file("zeros", string(make([]byte, 8<<20)))))
	require.Less(t, len(bomb), 64<<10, "8 MiB of zeros compress to a few KiB")
	_, _, err := unpackBytes(t, bomb, UnpackOptions{MaxBytes: 1 << 20})
	require.ErrorIs(t, err, ErrInvalidLayer)
	_, _, err = unpackBytes(t, bomb, UnpackOptions{MaxBytes: 16 << 20})
	require.NoError(t, err)
}
