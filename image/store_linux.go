//go:build linux

package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Store is a content-addressed image store in one directory:
//
//	blobs/sha256/HEX    manifests, configs and layer blobs, verified, read-only
//	layers/sha256/HEX   one unpacked directory per layer, named by diff ID
//	l/ID                short symlinks to the layer dirs, for overlay options
//	images/index.json   reference -> manifest, config and layers
//	leases/ID.json      layers a container uses, kept by Prune
//	locks/, lock        flock(2) files; tmp/ staging for atomic renames
//
// A Store is safe for concurrent use by goroutines and by processes sharing
// the directory: every entry appears by one rename(2) after it is complete and
// verified, and per-digest locks make concurrent pulls of the same blob or
// layer do the work once.
type Store struct {
	dir  string
	log  *slog.Logger
	opts storeOptions
}

// Open opens (creating if needed) the store at dir. See [DirFromEnv] for the
// default directory.
func Open(dir string, opts ...StoreOption) (*Store, error) {
	o := storeOptions{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store dir %q: %w", dir, err)
	}
	if strings.ContainsAny(abs, ":,") {
		// Overlay's lowerdir option separates layers with ':' and options with ','.
		return nil, fmt.Errorf("store dir %q: must not contain ':' or ','", abs)
	}
	for _, d := range []string{"blobs/sha256", "layers/sha256", "l", "images", "leases", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("create store: %w", err)
		}
	}
	// Overlay looks up lower layers with the mounter's credentials: a mount
	// made by root in a user namespace (host uid not 0) must be able to
	// traverse to the layer dirs. Search permission only; nothing is listed.
	for _, d := range []string{"layers", "layers/sha256", "l"} {
		if err := os.Chmod(filepath.Join(abs, d), 0o711); err != nil {
			return nil, fmt.Errorf("create store: %w", err)
		}
	}
	return &Store{dir: abs, log: o.log, opts: o}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// lockFile holds one flock(2). flock locks belong to the open file
// description, so two goroutines of one process exclude each other as two
// processes do.
type lockFile struct{ f *os.File }

func (s *Store) lock(ctx context.Context, name string, how int) (*lockFile, error) {
	p := filepath.Join(s.dir, "locks", name+".lock")
	if name == "" {
		p = filepath.Join(s.dir, "lock")
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &lockFile{f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// unlock releases the lock; closing the fd drops it.
func (l *lockFile) unlock() { l.f.Close() }

// exists reports whether p is there; entries only appear complete.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// index is images/index.json.
type index struct {
	Images map[string]*Image `json:"images"`
}

func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "images", "index.json"))
	ix := &index{Images: map[string]*Image{}}
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	if err := json.Unmarshal(b, ix); err != nil {
		return nil, fmt.Errorf("image index %s is corrupt: %w", filepath.Join(s.dir, "images", "index.json"), err)
	}
	if ix.Images == nil {
		ix.Images = map[string]*Image{}
	}
	return ix, nil
}

// updateIndex runs fn on the index under its lock and replaces the file
// atomically, so readers never need the lock.
func (s *Store) updateIndex(ctx context.Context, fn func(*index) error) error {
	l, err := s.lock(ctx, "index", unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFileAtomic(filepath.Join(s.dir, "images", "index.json"), b, 0o600)
}

func (s *Store) writeFileAtomic(p string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "write-")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// NormalizeRef turns a user's reference ("busybox", "localhost:5000/a:b",
// "x@sha256:...") into the form the store records.
func NormalizeRef(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("%w: reference %q: %w", ErrInvalidImage, ref, err)
	}
	return r.Name(), nil
}

// Get returns the stored image for ref: a reference (normalized as by
// [NormalizeRef]), a manifest digest, or an image ID (config digest, or a
// prefix of at least 12 hex digits of it).
func (s *Store) Get(ref string) (*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	img := lookup(ix, ref)
	if img == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return s.load(img)
}

func lookup(ix *index, ref string) *Image {
	if n, err := NormalizeRef(ref); err == nil {
		if img, ok := ix.Images[n]; ok {
			return img
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) < 12 {
		return nil
	}
	for _, k := range sortedKeys(ix) {
		img := ix.Images[k]
		if string(img.Digest) == ref || strings.HasPrefix(img.ConfigDigest.Encoded(), id) {
			return img
		}
	}
	return nil
}

func sortedKeys(ix *index) []string {
	k := make([]string, 0, len(ix.Images))
	for n := range ix.Images {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// load fills in the parsed config from its blob.
func (s *Store) load(rec *Image) (*Image, error) {
	img := *rec
	img.dir = s.dir
	b, err := os.ReadFile(s.blobPath(img.ConfigDigest))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.Ref, err)
	}
	if err := json.Unmarshal(b, &img.config); err != nil {
		return nil, fmt.Errorf("%w: image %s: config: %w", ErrInvalidImage, img.Ref, err)
	}
	return &img, nil
}

// Images lists the stored images, sorted by reference.
func (s *Store) Images() ([]*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(ix.Images))
	for _, k := range sortedKeys(ix) {
		img, err := s.load(ix.Images[k])
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// Remove forgets the reference (as accepted by Get). Blobs and layers stay
// until [Store.Prune] finds nothing references them.
func (s *Store) Remove(ctx context.Context, ref string) error {
	return s.updateIndex(ctx, func(ix *index) error {
		img := lookup(ix, ref)
		if img == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		delete(ix.Images, img.Ref)
		return nil
	})
}

// Lease records that a container (id) uses img's layers, so Prune keeps them
// even after the image is removed. Leases are files: they outlive the process
// and end only with [Store.ReleaseLease].
func (s *Store) Lease(ctx context.Context, id string, img *Image) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("lease id %q: must be a plain file name", id)
	}
	b, err := json.Marshal(img.Layers)
	if err != nil {
		return err
	}
	l, err := s.lock(ctx, "", unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer l.unlock()
	return s.writeFileAtomic(filepath.Join(s.dir, "leases", id+".json"), b, 0o600)
}

// ReleaseLease ends a lease; releasing one that does not exist is not an error.
func (s *Store) ReleaseLease(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("lease id %q: must be a plain file name", id)
	}
	err := os.Remove(filepath.Join(s.dir, "leases", id+".json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// Prune removes every blob and layer directory that no image and no lease
// references, and whatever an interrupted pull left in tmp/. It takes the
// store's lock exclusively: pulls and imports (which hold it shared) finish
// first and new ones wait.
func (s *Store) Prune(ctx context.Context) (PruneReport, error) {
	var rep PruneReport
	l, err := s.lock(ctx, "", unix.LOCK_EX)
	if err != nil {
		return rep, err
	}
	defer l.unlock()
	ix, err := s.readIndex()
	if err != nil {
		return rep, err
	}
	keepBlobs, keepLayers := map[string]bool{}, map[string]bool{}
	keep := func(ls []Layer) {
		for _, ly := range ls {
			keepBlobs[ly.Digest.Encoded()] = true
			keepLayers[ly.DiffID.Encoded()] = true
		}
	}
	for _, img := range ix.Images {
		keepBlobs[img.Digest.Encoded()] = true
		keepBlobs[img.ConfigDigest.Encoded()] = true
		keep(img.Layers)
	}
	leases, err := os.ReadDir(filepath.Join(s.dir, "leases"))
	if err != nil {
		return rep, fmt.Errorf("read leases: %w", err)
	}
	for _, e := range leases {
		var ls []Layer
		b, err := os.ReadFile(filepath.Join(s.dir, "leases", e.Name()))
		if err == nil {
			err = json.Unmarshal(b, &ls)
		}
		if err != nil {
			return rep, fmt.Errorf("lease %s: %w", e.Name(), err)
		}
		keep(ls)
	}
	if err := s.clearTmp(); err != nil {
		return rep, err
	}
	blobs, err := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil {
		return rep, fmt.Errorf("read blobs: %w", err)
	}
	for _, e := range blobs {
		if keepBlobs[e.Name()] {
			continue
		}
		p := filepath.Join(s.dir, "blobs", "sha256", e.Name())
		if fi, err := os.Lstat(p); err == nil {
			rep.Bytes += fi.Size()
		}
		if err := os.Remove(p); err != nil {
			return rep, fmt.Errorf("prune blob: %w", err)
		}
		os.Remove(filepath.Join(s.dir, "locks", "blob-"+e.Name()+".lock"))
		rep.Blobs++
	}
	layers, err := os.ReadDir(filepath.Join(s.dir, "layers", "sha256"))
	if err != nil {
		return rep, fmt.Errorf("read layers: %w", err)
	}
	for _, e := range layers {
		if keepLayers[e.Name()] {
			continue
		}
		// Out of layers/ first with one rename, so no half-deleted layer is
		// ever visible there; then the slow removal.
		tmp := filepath.Join(s.dir, "tmp", "prune-"+e.Name())
		if err := os.Rename(filepath.Join(s.dir, "layers", "sha256", e.Name()), tmp); err != nil {
			return rep, fmt.Errorf("prune layer: %w", err)
		}
		if err := os.RemoveAll(tmp); err != nil {
			return rep, fmt.Errorf("prune layer: %w", err)
		}
		os.Remove(filepath.Join(s.dir, "locks", "layer-"+e.Name()+".lock"))
		link := shortLayerDir(s.dir, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
		if t, err := os.Readlink(link); err == nil && filepath.Base(t) == e.Name() {
			if err := os.Remove(link); err != nil {
				return rep, fmt.Errorf("prune layer link: %w", err)
			}
		}
		rep.Layers++
	}
	s.log.Info("pruned image store", "blobs", rep.Blobs, "layers", rep.Layers, "bytes", rep.Bytes)
	return rep, nil
}

// clearTmp removes staging leftovers; only called under the exclusive lock,
// when no pull can be using them.
func (s *Store) clearTmp() error {
	ents, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return fmt.Errorf("read tmp: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.dir, "tmp", e.Name())); err != nil {
			return fmt.Errorf("clear tmp: %w", err)
		}
	}
	return nil
}

// validDigest refuses digests that are not well-formed sha256/sha512 before
// they become file names.
func validDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: digest %q: %w", ErrInvalidImage, d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%w: digest %q: only sha256 is supported", ErrInvalidImage, d)
	}
	return nil
}

// progress serializes the caller's callback.
type progress struct {
	ref string
	fn  func(ProgressEvent)
	mu  sync.Mutex
}

func newProgress(ref string, fn func(ProgressEvent)) *progress {
	return &progress{ref: ref, fn: fn}
}

func (p *progress) send(layer digest.Digest, ph Phase, done, total int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn(ProgressEvent{Ref: p.ref, Layer: layer, Phase: ph, Done: done, Total: total})
}

// countingReader counts bytes read and, with report set, reports them at
// most every 256 KiB.
type countingReader struct {
	r            io.Reader
	n, last, tot int64
	report       func(done, total int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.report != nil && (c.n-c.last >= 256<<10 || (err != nil && c.n != c.last)) {
		c.last = c.n
		c.report(c.n, c.tot)
	}
	return n, err
}

// writeBlob stores the content of r under its digest. With want set, the
// content must hash to it (else ErrDigestMismatch, and nothing is kept);
// without, the computed digest names it. size < 0 is unknown.
func (s *Store) writeBlob(ctx context.Context, want digest.Digest, size int64, r io.Reader, pr *progress) (digest.Digest, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-")
	if err != nil {
		return "", fmt.Errorf("store blob: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	alg := digest.SHA256
	dg := alg.Digester()
	if pr != nil && want != "" {
		r = &countingReader{r: r, tot: max(size, 0), report: func(d, t int64) { pr.send(want, PhaseDownloading, d, t) }}
	}
	n, err := io.Copy(io.MultiWriter(f, dg.Hash()), readerWithContext(ctx, r))
	got := dg.Digest()
	if err != nil {
		if want != "" && n == size && got != want {
			// The registry client checks digests too and fails at the end of the
			// stream with its own error; all declared bytes arrived and they hash
			// wrong: that is a digest mismatch whoever noticed first.
			return "", fmt.Errorf("%w: blob %s has digest %s: %w", ErrDigestMismatch, want, got, err)
		}
		return "", fmt.Errorf("store blob %s: %w", want, err)
	}
	if want != "" && got != want {
		return "", fmt.Errorf("%w: blob %s has digest %s", ErrDigestMismatch, want, got)
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("%w: blob %s is %d bytes, the manifest says %d", ErrDigestMismatch, got, n, size)
	}
	if err := f.Chmod(0o400); err != nil {
		return "", fmt.Errorf("store blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("store blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store blob: %w", err)
	}
	if err := os.Rename(f.Name(), s.blobPath(got)); err != nil {
		os.Remove(f.Name())
		committed = true
		return "", fmt.Errorf("store blob: %w", err)
	}
	committed = true
	return got, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

func readerWithContext(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

// ensureBlob makes sure the blob d is stored, fetching it with open at most
// once across goroutines and processes.
func (s *Store) ensureBlob(ctx context.Context, d digest.Digest, size int64, open func() (io.ReadCloser, error), pr *progress) error {
	if err := validDigest(d); err != nil {
		return err
	}
	if exists(s.blobPath(d)) {
		return nil
	}
	l, err := s.lock(ctx, "blob-"+d.Encoded(), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.unlock()
	if exists(s.blobPath(d)) {
		return nil // another puller stored it while we waited
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("fetch blob %s: %w", d, err)
	}
	defer rc.Close()
	_, err = s.writeBlob(ctx, d, size, rc, pr)
	return err
}

// ensureLayer unpacks the stored blob into layers/sha256/DIFFID once; the
// unpacked stream must hash to diffID.
func (s *Store) ensureLayer(ctx context.Context, blob, diffID digest.Digest, pr *progress) error {
	if err := validDigest(diffID); err != nil {
		return err
	}
	final := layerDir(s.dir, diffID)
	if exists(final) {
		return nil
	}
	l, err := s.lock(ctx, "layer-"+diffID.Encoded(), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.unlock()
	if exists(final) {
		return nil
	}
	pr.send(blob, PhaseUnpacking, 0, 0)
	f, err := os.Open(s.blobPath(blob))
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-")
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	got, err := Unpack(ctx, f, tmp, s.opts.unpack)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	if got != diffID {
		return fmt.Errorf("%w: layer %s unpacks to diff ID %s, the config says %s", ErrDigestMismatch, blob, got, diffID)
	}
	// The layer is never verified again once in place: its data must be on
	// disk before the rename makes it count, or a crash could leave a complete
	// looking layer with empty files.
	if err := syncfs(tmp); err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	ok = true
	return nil
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}

// ensureShortLink makes l/ID point at the layer dir (see
// [Image.ShortLayerDirs]). It is idempotent and atomic: a symlink made under
// a temporary name replaces whatever is there.
func (s *Store) ensureShortLink(diffID digest.Digest) error {
	link := shortLayerDir(s.dir, diffID)
	target := filepath.Join("..", "layers", diffID.Algorithm().String(), diffID.Encoded())
	if t, err := os.Readlink(link); err == nil {
		if t == target {
			return nil
		}
		if exists(filepath.Join(filepath.Dir(link), t)) {
			// Another live layer owns this name: never point it elsewhere.
			return fmt.Errorf("layer link %s: already names %s, not %s", link, t, target)
		}
	}
	tmp := filepath.Join(s.dir, "tmp", fmt.Sprintf("link-%s-%d", diffID.Encoded(), rand.Int64()))
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("layer link: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("layer link: %w", err)
	}
	return nil
}

// hasAll reports whether every blob and layer dir of img is in the store.
func (s *Store) hasAll(img *Image) bool {
	for _, d := range []digest.Digest{img.Digest, img.ConfigDigest} {
		if !exists(s.blobPath(d)) {
			return false
		}
	}
	for _, l := range img.Layers {
		if !exists(s.blobPath(l.Digest)) || !exists(layerDir(s.dir, l.DiffID)) {
			return false
		}
	}
	return true
}

// blobSource opens the blobs of one image being added.
type blobSource interface {
	open(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
}

// add stores one image: config, layers (in parallel, each blob downloaded and
// unpacked once), manifest, then the reference. The caller holds the store
// lock shared.
func (s *Store) add(ctx context.Context, ref string, manifestRaw []byte, src blobSource, jobs int, pr *progress) (*Image, error) {
	mdg := digest.FromBytes(manifestRaw)
	var m ocispec.Manifest
	if err := json.Unmarshal(manifestRaw, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrInvalidImage, mdg, err)
	}
	switch m.MediaType {
	case ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json", "":
	default:
		return nil, fmt.Errorf("%w: manifest %s has media type %q, not an image manifest", ErrInvalidImage, mdg, m.MediaType)
	}
	if err := s.ensureBlob(ctx, m.Config.Digest, m.Config.Size, func() (io.ReadCloser, error) { return src.open(ctx, m.Config) }, nil); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cb, err := os.ReadFile(s.blobPath(m.Config.Digest))
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", ErrInvalidImage, m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%w: manifest %s has %d layers, its config %d diff IDs", ErrInvalidImage, mdg, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{Ref: ref, Digest: mdg, ConfigDigest: m.Config.Digest, Created: time.Now().UTC()}
	for i, l := range m.Layers {
		img.Layers = append(img.Layers, Layer{Digest: l.Digest, DiffID: cfg.RootFS.DiffIDs[i], MediaType: l.MediaType, Size: l.Size})
	}
	pr.send("", PhaseResolved, 0, int64(len(m.Layers)))

	if jobs <= 0 {
		jobs = 3
	}
	if err := s.fetchLayers(ctx, m.Layers, img.Layers, src, jobs, pr); err != nil {
		return nil, err
	}
	for _, l := range img.Layers {
		if err := s.ensureShortLink(l.DiffID); err != nil {
			return nil, err
		}
	}
	if err := s.ensureBlob(ctx, mdg, int64(len(manifestRaw)), func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(manifestRaw))), nil
	}, nil); err != nil {
		return nil, fmt.Errorf("store manifest: %w", err)
	}
	if err := s.updateIndex(ctx, func(ix *index) error { ix.Images[ref] = img; return nil }); err != nil {
		return nil, err
	}
	pr.send("", PhaseComplete, 0, 0)
	s.log.Info("stored image", "ref", ref, "digest", mdg, "layers", len(img.Layers))
	img.config = cfg
	img.dir = s.dir
	return img, nil
}

func (s *Store) fetchLayers(ctx context.Context, descs []ocispec.Descriptor, layers []Layer, src blobSource, jobs int, pr *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, jobs)
	errs := make(chan error, len(layers))
	for i := range layers {
		l, d := layers[i], descs[i]
		if exists(s.blobPath(l.Digest)) && exists(layerDir(s.dir, l.DiffID)) {
			pr.send(l.Digest, PhaseExists, l.Size, l.Size)
			errs <- nil
			continue
		}
		pr.send(l.Digest, PhaseWaiting, 0, l.Size)
		go func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
			defer func() { <-sem }()
			err := s.ensureBlob(ctx, l.Digest, l.Size, func() (io.ReadCloser, error) { return src.open(ctx, d) }, pr)
			if err == nil {
				err = s.ensureLayer(ctx, l.Digest, l.DiffID, pr)
			}
			if err != nil {
				err = fmt.Errorf("layer %s: %w", l.Digest, err)
				cancel()
			} else {
				pr.send(l.Digest, PhaseDone, l.Size, l.Size)
			}
			errs <- err
		}()
	}
	var first error
	for range layers {
		if err := <-errs; err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	return first
}
