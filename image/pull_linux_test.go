//go:build linux

package image

import (
	"context"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	require.NoError(t, err)
	return s
}

func dirNames(t *testing.T, p string) []string {
	t.Helper()
	ents, err := os.ReadDir(p)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestPullFromLoopbackRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	src := imageOf(t, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}}, busyboxLayer(t),
		layer(t, file("etc/motd", "hello\n")))
	reg.push(t, "busybox:latest", src)
	s := openStore(t)
	ref := reg.host + "/busybox:latest"

	var mu sync.Mutex
	phases := map[Phase]int{}
	opts := reg.opts()
	opts.Progress = func(e ProgressEvent) {
		mu.Lock()
		phases[e.Phase]++
		mu.Unlock()
	}
	img, err := s.Pull(t.Context(), ref, opts)
	require.NoError(t, err)
	assert.Equal(t, ref, img.Ref)
	wantDigest, _ := src.Digest()
	assert.Equal(t, wantDigest.String(), img.Digest.String())
	assert.Equal(t, []string{"sh"}, img.Config().Cmd)
	require.Len(t, img.LayerDirs(), 2)
	fi, err := os.Stat(filepath.Join(img.LayerDirs()[0], "bin", "busybox"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	motd, err := os.ReadFile(filepath.Join(img.LayerDirs()[1], "etc", "motd"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(motd))
	assert.Len(t, blobGets(reg.reset()), 3, "config and two layers downloaded once")
	assert.Equal(t, 1, phases[PhaseResolved])
	assert.Equal(t, 2, phases[PhaseDone])
	assert.Positive(t, phases[PhaseDownloading])
	assert.Equal(t, 1, phases[PhaseComplete])

	// Pulling again asks the registry what the tag points to, and nothing more.
	phases = map[Phase]int{}
	img2, err := s.Pull(t.Context(), ref, opts)
	require.NoError(t, err)
	assert.Equal(t, img.Digest, img2.Digest)
	reqs := reg.reset()
	assert.Empty(t, blobGets(reqs), "second pull downloaded blobs: %v", reqs)
	assert.Equal(t, 2, phases[PhaseExists])
	assert.Zero(t, phases[PhaseDownloading])
	t.Logf("second pull requests: %v", reqs)

	// With PullIfMissing a stored image needs no request at all.
	opts.Policy = PullIfMissing
	_, err = s.Pull(t.Context(), ref, opts)
	require.NoError(t, err)
	assert.Empty(t, reg.reset())

	got, err := s.Get(ref)
	require.NoError(t, err)
	assert.Equal(t, img.LayerDirs(), got.LayerDirs())
	got, err = s.Get(img.ID())
	require.NoError(t, err)
	assert.Equal(t, ref, got.Ref)
	_, err = s.Get("nope:latest")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, dirNames(t, filepath.Join(s.Dir(), "tmp")))
}

func TestSharedBaseLayerStoredOnce(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	base := busyboxLayer(t)
	reg.push(t, "a:1", imageOf(t, v1.Config{Cmd: []string{"sh"}}, base))
	reg.push(t, "b:1", imageOf(t, v1.Config{Cmd: []string{"ls"}}, base, layer(t, file("b", "b"))))
	s := openStore(t)
	a, err := s.Pull(t.Context(), reg.host+"/a:1", reg.opts())
	require.NoError(t, err)
	assert.Len(t, blobGets(reg.reset()), 2)
	b, err := s.Pull(t.Context(), reg.host+"/b:1", reg.opts())
	require.NoError(t, err)
	assert.Len(t, blobGets(reg.reset()), 2, "b's config and its own layer; the base layer is in the store")
	assert.Equal(t, a.LayerDirs()[0], b.LayerDirs()[0])
	assert.Len(t, dirNames(t, filepath.Join(s.Dir(), "layers", "sha256")), 2, "base + b's layer, unpacked once each")
	assert.Len(t, dirNames(t, filepath.Join(s.Dir(), "blobs", "sha256")), 6, "2 manifests, 2 configs, 2 layer blobs")
	assert.Len(t, dirNames(t, filepath.Join(s.Dir(), "l")), 2)
	for i, short := range b.ShortLayerDirs() {
		real, err := filepath.EvalSymlinks(short)
		require.NoError(t, err)
		assert.Equal(t, b.LayerDirs()[i], real)
		assert.Less(t, len(short), len(b.LayerDirs()[i])-40)
	}

	imgs, err := s.Images()
	require.NoError(t, err)
	require.Len(t, imgs, 2)

	// Removing b and pruning frees only b's own layer; a stays whole.
	require.NoError(t, s.Remove(t.Context(), b.Ref))
	_, err = s.Get(b.Ref)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Lease(t.Context(), "ctr1", b))
	rep, err := s.Prune(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PruneReport{Blobs: 2}, PruneReport{Blobs: rep.Blobs, Layers: rep.Layers}, "the lease keeps b's layers")
	require.NoError(t, s.ReleaseLease("ctr1"))
	rep, err = s.Prune(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Layers)
	assert.Equal(t, 1, rep.Blobs)
	assert.Equal(t, []string{filepath.Base(a.LayerDirs()[0])}, dirNames(t, filepath.Join(s.Dir(), "layers", "sha256")))
	assert.Equal(t, []string{filepath.Base(a.ShortLayerDirs()[0])}, dirNames(t, filepath.Join(s.Dir(), "l")))
	a2, err := s.Get(a.Ref)
	require.NoError(t, err)
	assert.True(t, s.hasAll(a2))
}

func TestMultiArchIndexPicksPlatform(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	mk := func(arch string) v1.Image {
		img := imageOf(t, v1.Config{Cmd: []string{"sh"}}, layer(t, file("arch", arch)))
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		cf = cf.DeepCopy()
		cf.Architecture = arch
		img, err = mutate.ConfigFile(img, cf)
		require.NoError(t, err)
		return img
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: mk(other), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: mk(runtime.GOARCH), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	reg.pushIndex(t, "multi:1", idx)
	s := openStore(t)
	img, err := s.Pull(t.Context(), reg.host+"/multi:1", reg.opts())
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(img.LayerDirs()[0], "arch"))
	require.NoError(t, err)
	assert.Equal(t, runtime.GOARCH, string(b))
	assert.Equal(t, runtime.GOARCH, img.Platform().Architecture)

	opts := reg.opts()
	opts.Platform = "linux/" + other
	img, err = s.Pull(t.Context(), reg.host+"/multi:1", opts)
	require.NoError(t, err)
	b, err = os.ReadFile(filepath.Join(img.LayerDirs()[0], "arch"))
	require.NoError(t, err)
	assert.Equal(t, other, string(b))

	opts.Platform = "linux/s390x"
	_, err = s.Pull(t.Context(), reg.host+"/multi:1", opts)
	assert.ErrorIs(t, err, ErrInvalidImage)
}

func TestPullRejectsDigestMismatch(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	good, bad := layer(t, file("good", "g")), layer(t, file("bad", strings.Repeat("b", 100000)))
	reg.push(t, "evil:1", imageOf(t, v1.Config{Cmd: []string{"sh"}}, good, bad))
	badDigest, err := bad.Digest()
	require.NoError(t, err)
	reg.corrupt = badDigest.String()
	s := openStore(t)
	_, err = s.Pull(t.Context(), reg.host+"/evil:1", reg.opts())
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.Contains(t, err.Error(), badDigest.String())

	assert.NoFileExists(t, s.blobPath(digest.Digest(badDigest.String())))
	badDiff, err := bad.DiffID()
	require.NoError(t, err)
	assert.NoDirExists(t, layerDir(s.Dir(), digest.Digest(badDiff.String())))
	assert.Empty(t, dirNames(t, filepath.Join(s.Dir(), "tmp")), "nothing half-written stays")
	_, err = s.Get(reg.host + "/evil:1")
	assert.ErrorIs(t, err, ErrNotFound)
	imgs, err := s.Images()
	require.NoError(t, err)
	assert.Empty(t, imgs)

	// Pulled by digest, a manifest that does not hash to it is refused.
	byDigest := imageOf(t, v1.Config{Cmd: []string{"d"}}, good)
	reg.push(t, "bydigest:1", byDigest)
	md, err := byDigest.Digest()
	require.NoError(t, err)
	img, err := s.Pull(t.Context(), reg.host+"/bydigest@"+md.String(), reg.opts())
	require.NoError(t, err, "by digest, intact")
	assert.Equal(t, reg.host+"/bydigest@"+md.String(), img.Ref)
	require.NoError(t, s.Remove(t.Context(), img.Ref))
	_, err = s.Prune(t.Context())
	require.NoError(t, err)
	reg.corrupt = md.String()
	_, err = s.Pull(t.Context(), reg.host+"/bydigest@"+md.String(), reg.opts())
	require.ErrorContains(t, err, "does not match")
	assert.NoFileExists(t, s.blobPath(digest.Digest(md.String())))
	imgs, err = s.Images()
	require.NoError(t, err)
	assert.Empty(t, imgs)

	// A corrupt config is refused the same way.
	src := imageOf(t, v1.Config{Cmd: []string{"cfg"}}, good)
	reg.push(t, "evilcfg:1", src)
	cfg, err := src.ConfigName()
	require.NoError(t, err)
	reg.corrupt = cfg.String()
	_, err = s.Pull(t.Context(), reg.host+"/evilcfg:1", reg.opts())
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.NoFileExists(t, s.blobPath(digest.Digest(cfg.String())))
	assert.Empty(t, dirNames(t, filepath.Join(s.Dir(), "tmp")))
}

// TestConcurrentPullsDoTheWorkOnce pulls one image from several goroutines
// and several processes at once: each blob crosses the wire once.
func TestConcurrentPullsDoTheWorkOnce(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	reg.push(t, "busybox:latest", imageOf(t, v1.Config{Cmd: []string{"sh"}}, busyboxLayer(t),
		layer(t, file("x", strings.Repeat("x", 1<<20)))))
	s := openStore(t)
	ref := reg.host + "/busybox:latest"

	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=pull", "COCOON_IMAGE_STORE="+s.Dir(), "COCOON_IMAGE_REF="+ref)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Pull(context.Background(), ref, reg.opts())
		}()
	}
	wg.Wait()
	for _, c := range cmds {
		assert.NoError(t, c.Wait())
	}
	for _, err := range errs {
		assert.NoError(t, err)
	}
	gets := blobGets(reg.reset())
	assert.Len(t, gets, 3, "each of config and 2 layers downloaded once by 6 pullers: %v", gets)
	assert.Len(t, dirNames(t, filepath.Join(s.Dir(), "layers", "sha256")), 2)
	assert.Empty(t, dirNames(t, filepath.Join(s.Dir(), "tmp")))
}

func pullChild() int {
	s, err := Open(os.Getenv("COCOON_IMAGE_STORE"))
	if err == nil {
		_, err = s.Pull(context.Background(), os.Getenv("COCOON_IMAGE_REF"), PullOptions{})
	}
	if err != nil {
		log.Print(err)
		return 1
	}
	return 0
}
