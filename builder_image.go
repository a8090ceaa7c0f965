package container

import (
	"context"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotations recording the image a container runs.
const (
	AnnotationImage       = "cocoon.image"
	AnnotationImageDigest = "cocoon.image.digest"
)

// Image is an image a container can run. Package image provides one:
// store.Runnable(img). It is an interface so that this package does not
// carry a registry client into programs (and container inits) that never
// run images.
type Image interface {
	// Name returns the image's reference and digest.
	Name() (ref, digest string)
	// LowerDirs are its layer directories, lowest first.
	LowerDirs() []string
	// ApplyProcess sets p's defaults from the image config, args replacing its Cmd.
	ApplyProcess(p *specs.Process, args []string) error
	// Lease and ReleaseLease keep its layers while container id lives.
	Lease(ctx context.Context, id string) error
	ReleaseLease(id string) error
}

// WithImage runs img: its layers, shared read-only, under a private
// writable layer, and its config as the process defaults with docker run's
// rules: the arguments given to New replace the image's Cmd (after its
// Entrypoint), its Env comes first (WithEnv after WithImage wins), its
// WorkingDir and User apply (names resolved in the image's /etc/passwd).
// Call it right after New. The container leases the image's layers while it
// lives, so the store's Prune leaves them alone.
func (b *Builder) WithImage(img Image) *Builder {
	if img == nil {
		return b.fail("image: nil")
	}
	p := b.process()
	override := p.Args
	// The builder's default PATH must not hide the image's.
	p.Env = slices.DeleteFunc(p.Env, func(e string) bool { return e == DefaultPath })
	p.Args = nil
	ref, digest := img.Name()
	if err := img.ApplyProcess(p, override); err != nil {
		return b.fail("image %s: %w", ref, err)
	}
	b.WithLayers(img.LowerDirs()...)
	b.spec.Annotations[AnnotationImage] = ref
	b.spec.Annotations[AnnotationImageDigest] = digest
	b.image = img
	return b
}
