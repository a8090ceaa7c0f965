//go:build !linux

package image

import (
	"context"
	"fmt"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var errOS = fmt.Errorf("%w: the image store needs Linux (openat2, overlayfs), not %s", ErrNotSupported, runtime.GOOS)

// Store is the image store; on this system every operation fails with
// ErrNotSupported.
type Store struct{}

// Open fails with ErrNotSupported outside Linux.
func Open(dir string, opts ...StoreOption) (*Store, error) { return nil, errOS }

// HostPlatform is the platform images are pulled for by default.
func HostPlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// Unpack fails with ErrNotSupported outside Linux.
func Unpack(ctx context.Context, r io.Reader, dir string, opts UnpackOptions) (digest.Digest, error) {
	return "", errOS
}

func (s *Store) Dir() string { return "" }
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	return nil, errOS
}
func (s *Store) Load(ctx context.Context, file, ref string, opts ImportOptions) ([]*Image, error) {
	return nil, errOS
}
func (s *Store) ImportLayout(ctx context.Context, dir, ref string, opts ImportOptions) ([]*Image, error) {
	return nil, errOS
}
func (s *Store) Get(ref string) (*Image, error)                            { return nil, errOS }
func (s *Store) Images() ([]*Image, error)                                 { return nil, errOS }
func (s *Store) Remove(ctx context.Context, ref string) error              { return errOS }
func (s *Store) Lease(ctx context.Context, id string, img *Image) error    { return errOS }
func (s *Store) ReleaseLease(id string) error                              { return errOS }
func (s *Store) Prune(ctx context.Context) (PruneReport, error)            { return PruneReport{}, errOS }
func NormalizeRef(ref string) (string, error)                              { return "", errOS }
func (img *Image) ApplyProcess(p *rspec.Process, o ProcessOverrides) error { return errOS }

// ExportLayer fails with ErrNotSupported outside Linux.
func ExportLayer(ctx context.Context, upper string, w io.Writer) (digest.Digest, error) {
	return "", errOS
}

// ReadFileInLayers fails with ErrNotSupported outside Linux.
func ReadFileInLayers(layerDirs []string, p string) ([]byte, error) { return nil, errOS }
