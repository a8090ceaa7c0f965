//go:build linux

package image

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Load imports every image of a `docker save` tarball or an OCI image
// layout archive (a tar of a layout directory, e.g. `skopeo copy ...
// oci-archive:FILE:NAME`) and returns them. Images are recorded under the
// names the archive gives (RepoTags; the image.ref.name or
// io.containerd.image.name annotations); ref, when set, names an image the
// archive does not name, or picks the one image of that name.
func (s *Store) Load(ctx context.Context, file, ref string, opts ImportOptions) ([]*Image, error) {
	t, err := openTarFS(file)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if _, err := fs.Stat(t, "manifest.json"); err == nil {
		return s.loadDockerSave(ctx, t, ref, opts)
	}
	if _, err := fs.Stat(t, "index.json"); err == nil {
		return s.importLayout(ctx, t, ref, opts)
	}
	return nil, fmt.Errorf("%w: %s is neither a docker save tarball (manifest.json) nor an OCI layout archive (index.json)", ErrInvalidImage, file)
}

// ImportLayout imports from an OCI image layout directory. With ref empty,
// every image the layout's index names is imported under its name; with ref
// set, the image of that name (the ref.name annotation may hold the whole
// reference or only its tag), or the layout's only image, is imported as ref.
func (s *Store) ImportLayout(ctx context.Context, dir, ref string, opts ImportOptions) ([]*Image, error) {
	root, err := os.OpenRoot(dir) // the layout's own symlinks stay inside it
	if err != nil {
		return nil, fmt.Errorf("open layout: %w", err)
	}
	defer root.Close()
	return s.importLayout(ctx, root.FS(), ref, opts)
}

// fsSource opens blobs of an OCI layout by digest.
type fsSource struct{ fsys fs.FS }

func (f fsSource) open(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if err := validDigest(d.Digest); err != nil {
		return nil, err
	}
	return f.fsys.Open(path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
}

func (s *Store) importLayout(ctx context.Context, fsys fs.FS, ref string, opts ImportOptions) ([]*Image, error) {
	plat, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(fsys, "index.json")
	if err != nil {
		return nil, fmt.Errorf("%w: layout index: %w", ErrInvalidImage, err)
	}
	var ix ocispec.Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("%w: layout index.json: %w", ErrInvalidImage, err)
	}
	want := ""
	if ref != "" {
		if want, err = NormalizeRef(ref); err != nil {
			return nil, err
		}
	}
	type pick struct {
		name string
		desc ocispec.Descriptor
	}
	var picks []pick
	for _, d := range ix.Manifests {
		n := layoutName(d)
		switch {
		case want != "" && (n == want || d.Annotations[ocispec.AnnotationRefName] == tagOf(want)):
			picks = append(picks, pick{want, d})
		case want == "" && n != "":
			picks = append(picks, pick{n, d})
		}
	}
	if len(picks) == 0 && want != "" && len(ix.Manifests) == 1 {
		picks = append(picks, pick{want, ix.Manifests[0]})
	}
	if len(picks) == 0 {
		return nil, fmt.Errorf("%w: the layout names no image %q; give a reference to name its only image", ErrNotFound, ref)
	}
	l, err := s.lock(ctx, "", unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	src := fsSource{fsys}
	var out []*Image
	for _, p := range picks {
		raw, err := resolveManifest(ctx, src, p.desc, plat)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p.name, err)
		}
		img, err := s.add(ctx, p.name, raw, src, 0, newProgress(p.name, opts.Progress))
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p.name, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// layoutName is the full reference an index entry carries, if any.
func layoutName(d ocispec.Descriptor) string {
	for _, k := range []string{"io.containerd.image.name", ocispec.AnnotationRefName} {
		if v := d.Annotations[k]; v != "" && (strings.Contains(v, "/") || strings.Contains(v, ":")) {
			if n, err := NormalizeRef(v); err == nil {
				return n
			}
		}
	}
	return ""
}

func tagOf(ref string) string {
	if i := strings.LastIndexAny(ref, ":@"); i >= 0 && !strings.Contains(ref[i:], "/") {
		return ref[i+1:]
	}
	return ""
}

// resolveManifest reads (and verifies) the manifest d names, walking an
// index down to the entry for plat.
func resolveManifest(ctx context.Context, src blobSource, d ocispec.Descriptor, plat v1.Platform) ([]byte, error) {
	for depth := 0; depth < 4; depth++ {
		raw, err := readVerified(ctx, src, d)
		if err != nil {
			return nil, err
		}
		switch d.MediaType {
		case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
		default:
			return raw, nil
		}
		var ix ocispec.Index
		if err := json.Unmarshal(raw, &ix); err != nil {
			return nil, fmt.Errorf("%w: index %s: %w", ErrInvalidImage, d.Digest, err)
		}
		found := false
		for _, m := range ix.Manifests {
			if m.Platform != nil && (v1.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant}).Satisfies(plat) {
				d, found = m, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: index %s has no manifest for %s", ErrInvalidImage, d.Digest, plat.String())
		}
	}
	return nil, fmt.Errorf("%w: indexes nested too deep", ErrInvalidImage)
}

func readVerified(ctx context.Context, src blobSource, d ocispec.Descriptor) ([]byte, error) {
	rc, err := src.open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(b); got != d.Digest {
		return nil, fmt.Errorf("%w: %s has digest %s", ErrDigestMismatch, d.Digest, got)
	}
	return b, nil
}

// loadDockerSave imports the images of manifest.json. Their layers may be
// plain tars (classic docker save), so the stored blobs are named by the
// digest of what the archive holds, and an OCI manifest is written for them.
func (s *Store) loadDockerSave(ctx context.Context, t *tarFS, ref string, opts ImportOptions) ([]*Image, error) {
	var m tarball.Manifest
	b, err := fs.ReadFile(t, "manifest.json")
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %w", ErrInvalidImage, err)
	}
	want := ""
	if ref != "" {
		if want, err = NormalizeRef(ref); err != nil {
			return nil, err
		}
	}
	l, err := s.lock(ctx, "", unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	var out []*Image
	for _, d := range m {
		var names []string
		for _, tag := range d.RepoTags {
			n, err := NormalizeRef(tag)
			if err != nil {
				return nil, err
			}
			if want == "" || n == want {
				names = append(names, n)
			}
		}
		if want != "" && len(names) == 0 && len(m) == 1 {
			names = []string{want}
		}
		if len(names) == 0 {
			continue
		}
		raw, err := s.dockerSaveManifest(ctx, t, d, opts.Progress)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			img, err := s.add(ctx, n, raw, storeSource{s}, 0, newProgress(n, opts.Progress))
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", n, err)
			}
			out = append(out, img)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the archive names no image %q; give a reference to name its only image", ErrNotFound, ref)
	}
	return out, nil
}

// dockerSaveManifest stores the config and layer files of d as blobs and
// returns an OCI manifest for them.
func (s *Store) dockerSaveManifest(ctx context.Context, t *tarFS, d tarball.Descriptor, progress func(ProgressEvent)) ([]byte, error) {
	store := func(p string) (ocispec.Descriptor, error) {
		f, err := t.Open(path.Clean(p))
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%w: %s: %w", ErrInvalidImage, p, err)
		}
		defer f.Close()
		br := bufio.NewReader(f)
		magic, _ := br.Peek(4)
		mt := map[string]string{"": ocispec.MediaTypeImageLayer, "gzip": ocispec.MediaTypeImageLayerGzip,
			"zstd": ocispec.MediaTypeImageLayerZstd}[compression(magic)]
		dg, err := s.writeBlob(ctx, "", -1, br, nil)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		fi, err := os.Stat(s.blobPath(dg))
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		return ocispec.Descriptor{MediaType: mt, Digest: dg, Size: fi.Size()}, nil
	}
	cfg, err := store(d.Config)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg.MediaType = ocispec.MediaTypeImageConfig
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg}
	for _, lp := range d.Layers {
		ld, err := store(lp)
		if err != nil {
			return nil, fmt.Errorf("load layer %s: %w", lp, err)
		}
		man.Layers = append(man.Layers, ld)
	}
	return json.Marshal(man)
}

// storeSource serves blobs already in the store (written by the caller).
type storeSource struct{ s *Store }

func (ss storeSource) open(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	return os.Open(ss.s.blobPath(d.Digest))
}

// tarFS reads the regular files of an uncompressed tar archive in place: one
// scan records where each file's bytes are, opens are then section reads.
type tarFS struct {
	f     *os.File
	files map[string]tarEntry
}

type tarEntry struct {
	off int64
	hdr *tar.Header
}

func openTarFS(file string) (*tarFS, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	t := &tarFS{f: f, files: map[string]tarEntry{}}
	cr := &countingReader{r: f}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: archive %s: %w", ErrInvalidImage, file, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			t.files[strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")] = tarEntry{off: cr.n, hdr: hdr}
		}
	}
	return t, nil
}

func (t *tarFS) Close() error { return t.f.Close() }

// Open implements fs.FS.
func (t *tarFS) Open(name string) (fs.File, error) {
	e, ok := t.files[strings.TrimPrefix(path.Clean("/"+name), "/")]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &tarFile{SectionReader: io.NewSectionReader(t.f, e.off, e.hdr.Size), fi: e.hdr.FileInfo()}, nil
}

type tarFile struct {
	*io.SectionReader
	fi fs.FileInfo
}

func (f *tarFile) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *tarFile) Close() error               { return nil }
