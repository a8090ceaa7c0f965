package image

import (
	"context"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Runnable is an image bound to its store, in the shape the container
// builder takes (container.Image): the layers to stack, the process
// defaults, and a lease that keeps Prune away from the layers while a
// container uses them. The container package does not import this one, so
// programs that do not run images do not carry a registry client.
type Runnable struct {
	store *Store
	img   *Image
}

// Runnable binds img to its store for container.Builder.WithImage.
func (s *Store) Runnable(img *Image) *Runnable { return &Runnable{store: s, img: img} }

// Name is the image's reference and digest, for annotations and messages.
func (r *Runnable) Name() (ref, digest string) { return r.img.Ref, r.img.Digest.String() }

// LowerDirs are the image's layer directories, lowest first, through the
// store's short links (more layers fit overlay's one-page option string).
func (r *Runnable) LowerDirs() []string { return r.img.ShortLayerDirs() }

// ApplyProcess sets p's defaults from the image; args replace its Cmd.
func (r *Runnable) ApplyProcess(p *rspec.Process, args []string) error {
	return r.img.ApplyProcess(p, ProcessOverrides{Args: args})
}

// Lease keeps the image's layers while the container id lives.
func (r *Runnable) Lease(ctx context.Context, id string) error { return r.store.Lease(ctx, id, r.img) }

// ReleaseLease ends the lease of container id.
func (r *Runnable) ReleaseLease(id string) error { return r.store.ReleaseLease(id) }
