//go:build linux

package image

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// HostPlatform is the platform images are pulled for by default.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return HostPlatform(), nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("%w: platform %q: %w", ErrInvalidImage, s, err)
	}
	return *p, nil
}

// Pull fetches ref from its registry into the store and returns it. A tag
// or digest resolves to a manifest (a multi-platform index to the manifest
// for opts.Platform, the host's by default); blobs already in the store are
// not downloaded again, and every blob is verified against its digest before
// it is kept. Layers download in parallel (opts.Jobs) and unpack as each
// arrives. On error nothing half-written stays: entries appear by rename only
// when complete.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: reference %q: %w", ErrInvalidImage, ref, err)
	}
	if opts.Policy == PullIfMissing {
		if img, err := s.Get(r.Name()); err == nil && s.hasAll(img) {
			return img, nil
		}
	}
	plat, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(plat)}
	switch {
	case opts.Auth != nil:
		ropts = append(ropts, remote.WithAuth(opts.Auth))
	case opts.Keychain != nil:
		ropts = append(ropts, remote.WithAuthFromKeychain(opts.Keychain))
	default:
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if opts.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opts.Transport))
	}

	l, err := s.lock(ctx, "", unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer l.unlock()

	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r.Name(), err)
	}
	var img v1.Image
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		if img, err = desc.Image(); err != nil { // picks plat out of the index
			return nil, fmt.Errorf("%w: pull %s for %s: %w", ErrInvalidImage, r.Name(), plat.String(), err)
		}
	case types.OCIManifestSchema1, types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return nil, fmt.Errorf("%w: pull %s: Docker schema 1 manifests are not supported", ErrInvalidImage, r.Name())
	default:
		if img, err = desc.Image(); err != nil {
			return nil, fmt.Errorf("pull %s: %w", r.Name(), err)
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("pull %s: manifest: %w", r.Name(), err)
	}
	return s.add(ctx, r.Name(), raw, remoteSource{img: img}, opts.Jobs, newProgress(r.Name(), opts.Progress))
}

// remoteSource fetches blobs of one resolved image from its registry; the
// client verifies each against its digest as it streams, and writeBlob again.
// The config is fetched as a blob too: the image's own config accessors
// would download and hash it again on every call.
type remoteSource struct{ img v1.Image }

func (r remoteSource) open(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	h, err := v1.NewHash(d.Digest.String())
	if err != nil {
		return nil, err
	}
	layer, err := r.img.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return layer.Compressed()
}
