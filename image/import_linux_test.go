//go:build linux

package image

import (
	"archive/tar"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readIn(t *testing.T, img *Image, p string) string {
	t.Helper()
	b, err := ReadFileInLayers(img.LayerDirs(), p)
	require.NoError(t, err)
	return string(b)
}

func TestLoadDockerSaveTarball(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	src := imageOf(t, v1.Config{Cmd: []string{"sh"}}, busyboxLayer(t), layer(t, file("etc/motd", "saved")))
	f := filepath.Join(t.TempDir(), "save.tar")
	a, _ := name.NewTag("example.com/app:1")
	b, _ := name.NewTag("busybox:saved")
	require.NoError(t, tarball.MultiRefWriteToFile(f, map[name.Reference]v1.Image{a: src, b: src}))
	s := openStore(t)
	imgs, err := s.Load(t.Context(), f, "", ImportOptions{})
	require.NoError(t, err)
	require.Len(t, imgs, 2)
	got, err := s.Get("busybox:saved")
	require.NoError(t, err)
	assert.Equal(t, "index.docker.io/library/busybox:saved", got.Ref)
	assert.Equal(t, "saved", readIn(t, got, "/etc/motd"))
	assert.Equal(t, []string{"sh"}, got.Config().Cmd)
	wantID, _ := src.ConfigName()
	assert.Equal(t, wantID.String(), got.ConfigDigest.String(), "the image ID survives")
	assert.Len(t, dirNames(t, filepath.Join(s.Dir(), "layers", "sha256")), 2)
}

// TestLoadClassicDockerSave loads the layout `docker save` wrote before
// Docker 25: plain tar layers in per-layer directories.
func TestLoadClassicDockerSave(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	l1 := tarOf(t, dir("etc"), file("etc/os-release", "ID=classic\n"))
	l2 := tarOf(t, file(".wh.nothing", ""), file("hello", "world"))
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/hello"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha(l1), sha(l2)}},
	})
	require.NoError(t, err)
	man, err := json.Marshal([]map[string]any{{"Config": "cfg.json", "RepoTags": []string{"classic:1"},
		"Layers": []string{"aaa/layer.tar", "bbb/layer.tar"}}})
	require.NoError(t, err)
	f := writeArchive(t, "aaa/layer.tar", l1, "bbb/layer.tar", l2, "cfg.json", cfg, "manifest.json", man)

	s := openStore(t)
	imgs, err := s.Load(t.Context(), f, "", ImportOptions{})
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	img := imgs[0]
	assert.Equal(t, "index.docker.io/library/classic:1", img.Ref)
	assert.Equal(t, "ID=classic\n", readIn(t, img, "/etc/os-release"))
	assert.Equal(t, sha(l1), img.Layers[0].Digest.String(), "an uncompressed layer is stored as is")
	assert.Equal(t, []string{"/hello"}, img.Config().Entrypoint)
	assert.Empty(t, dirNames(t, filepath.Join(s.Dir(), "tmp")))

	// A config that does not match the layers is refused.
	bad := writeArchive(t, "aaa/layer.tar", l2, "bbb/layer.tar", l1, "cfg.json", cfg, "manifest.json", man)
	s2 := openStore(t)
	_, err = s2.Load(t.Context(), bad, "", ImportOptions{})
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.Empty(t, dirNames(t, filepath.Join(s2.Dir(), "layers", "sha256")))
	assert.Empty(t, dirNames(t, filepath.Join(s2.Dir(), "tmp")))
}

// writeArchive writes a tar of name, content pairs and returns its path.
func writeArchive(t *testing.T, pairs ...any) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "archive.tar")
	out, err := os.Create(f)
	require.NoError(t, err)
	defer out.Close()
	tw := tar.NewWriter(out)
	for i := 0; i < len(pairs); i += 2 {
		b := pairs[i+1].([]byte)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: pairs[i].(string), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return f
}

func writeLayout(t *testing.T) (string, v1.Image) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	img := imageOf(t, v1.Config{Cmd: []string{"sh"}}, busyboxLayer(t), layer(t, file("which", "layout")))
	require.NoError(t, p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})))
	other := imageOf(t, v1.Config{Cmd: []string{"sh"}}, layer(t, file("which", "other-arch")))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
	require.NoError(t, p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/multi:2"})))
	return dir, img
}

func TestImportLayoutDirAndArchive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	dir, src := writeLayout(t)
	s := openStore(t)
	imgs, err := s.ImportLayout(t.Context(), dir, "example.com/app:latest", ImportOptions{})
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	want, _ := src.Digest()
	assert.Equal(t, want.String(), imgs[0].Digest.String())
	assert.Equal(t, "layout", readIn(t, imgs[0], "/which"))

	// Without a name, every named entry; the index resolves to the host's platform.
	imgs, err = s.ImportLayout(t.Context(), dir, "", ImportOptions{})
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	assert.Equal(t, "example.com/multi:2", imgs[0].Ref)
	assert.Equal(t, "layout", readIn(t, imgs[0], "/which"))
	imgs, err = s.ImportLayout(t.Context(), dir, "example.com/multi:2", ImportOptions{Platform: "linux/s390x"})
	require.NoError(t, err)
	assert.Equal(t, "other-arch", readIn(t, imgs[0], "/which"))

	// The same layout as an OCI archive (a tar of the directory).
	arc := filepath.Join(t.TempDir(), "oci.tar")
	out, err := os.Create(arc)
	require.NoError(t, err)
	tw := tar.NewWriter(out)
	require.NoError(t, tw.AddFS(os.DirFS(dir)))
	require.NoError(t, tw.Close())
	require.NoError(t, out.Close())
	s2 := openStore(t)
	imgs, err = s2.Load(t.Context(), arc, "example.com/app:latest", ImportOptions{})
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	assert.Equal(t, "layout", readIn(t, imgs[0], "/which"))
	_, err = s2.Load(t.Context(), arc, "example.com/none:1", ImportOptions{})
	assert.ErrorIs(t, err, ErrNotFound)

	// A layout whose blob does not match its digest is refused.
	var blob string
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if fi, _ := d.Info(); err == nil && !d.IsDir() && fi.Size() > 1<<20 {
			blob = p
		}
		return err
	}))
	require.NotEmpty(t, blob)
	b, err := os.ReadFile(blob)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(blob, b, 0o644))
	s3 := openStore(t)
	_, err = s3.ImportLayout(t.Context(), dir, "example.com/app:latest", ImportOptions{})
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.Empty(t, dirNames(t, filepath.Join(s3.Dir(), "tmp")), "nothing half-written stays")
	assert.NoFileExists(t, filepath.Join(s3.Dir(), "blobs", "sha256", filepath.Base(blob)))
	ls, err := src.Layers()
	require.NoError(t, err)
	bbDiff, err := ls[0].DiffID()
	require.NoError(t, err)
	assert.NoDirExists(t, filepath.Join(s3.Dir(), "layers", "sha256", bbDiff.Hex))
	imgs, err = s3.Images()
	require.NoError(t, err)
	assert.Empty(t, imgs)
}
