package image

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultDir is the store directory used when none is given.
const DefaultDir = "/var/lib/cocoon"

// StoreDirEnv names the environment variable that overrides [DefaultDir].
const StoreDirEnv = "COCOON_STORE"

// DirFromEnv returns $COCOON_STORE when set, else [DefaultDir]. A --store
// flag given by the user should win over both.
func DirFromEnv() string {
	if d := os.Getenv(StoreDirEnv); d != "" {
		return d
	}
	return DefaultDir
}

// Image is one image reference in the store: its manifest, config and layers.
// It is what the store's index records (JSON), plus the parsed config.
type Image struct {
	// Ref is the normalized reference, e.g. "index.docker.io/library/busybox:latest"
	// or "localhost:5000/busybox:latest".
	Ref string `json:"ref"`
	// Digest is the manifest's digest: what Ref pointed to when it was stored.
	Digest digest.Digest `json:"digest"`
	// ConfigDigest is the config blob's digest, the image ID in Docker's terms.
	ConfigDigest digest.Digest `json:"config"`
	// Layers are the layers, lowest first.
	Layers []Layer `json:"layers"`
	// Created is when the store recorded this reference.
	Created time.Time `json:"created"`

	dir    string
	config ocispec.Image
}

// Layer is one layer of an image.
type Layer struct {
	Digest    digest.Digest `json:"digest"`    // the blob as stored (compressed or not)
	DiffID    digest.Digest `json:"diffID"`    // the uncompressed tar, names the unpacked dir
	MediaType string        `json:"mediaType"` // as the manifest says
	Size      int64         `json:"size"`      // blob size in bytes
}

// ID is the short image ID shown to users (12 hex digits of the config digest).
func (img *Image) ID() string {
	h := img.ConfigDigest.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// Size is the sum of the stored layer blob sizes.
func (img *Image) Size() int64 {
	var n int64
	for _, l := range img.Layers {
		n += l.Size
	}
	return n
}

// LayerDirs returns the unpacked layer directories, lowest first. Each is a
// valid overlayfs lowerdir (whiteouts in overlay form). Overlay's lowerdir
// option lists the top layer first: reverse this slice for it. Do not write
// into them: they are shared by every image and container that has the layer.
func (img *Image) LayerDirs() []string {
	dirs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		dirs[i] = layerDir(img.dir, l.DiffID)
	}
	return dirs
}

// ShortLayerDirs returns the same layers as [Image.LayerDirs] through short
// symlinks (STORE/l/ and 26 characters from the diff ID). Overlay's mount
// options must fit in one page (4 KiB): with the full paths (~95 bytes each)
// an image of more than about 40 layers does not fit, with these (~45 bytes)
// about 85 do. Overlay follows the links when it mounts; the layers are the same.
func (img *Image) ShortLayerDirs() []string {
	dirs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		dirs[i] = shortLayerDir(img.dir, l.DiffID)
	}
	return dirs
}

// shortLayerDir names the link by 128 bits of the diff ID in base32 (26
// characters): short, and still out of reach of a crafted collision (2^64
// work), which matters because a layer's link must never name another's.
func shortLayerDir(storeDir string, diffID digest.Digest) string {
	b, err := hex.DecodeString(diffID.Encoded())
	if err != nil || len(b) < 16 {
		return filepath.Join(storeDir, "l", "invalid-"+diffID.Encoded())
	}
	return filepath.Join(storeDir, "l", strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:16])))
}

// ConfigFile is the image's whole config (platform, history, rootfs).
func (img *Image) ConfigFile() ocispec.Image { return img.config }

// Config is the image's runtime defaults: Entrypoint, Cmd, Env, WorkingDir,
// User, ExposedPorts, Volumes, Labels, StopSignal.
func (img *Image) Config() ocispec.ImageConfig { return img.config.Config }

// Platform is the platform the image's config declares.
func (img *Image) Platform() ocispec.Platform { return img.config.Platform }

func layerDir(storeDir string, diffID digest.Digest) string {
	return filepath.Join(storeDir, "layers", diffID.Algorithm().String(), diffID.Encoded())
}

// PullPolicy says when Pull contacts the registry.
type PullPolicy int

const (
	// PullAlways resolves the reference at the registry every time (blobs
	// already in the store are not downloaded again).
	PullAlways PullPolicy = iota
	// PullIfMissing uses the stored image when the reference is in the store
	// and makes no request at all; it pulls otherwise.
	PullIfMissing
)

// PullOptions tune [Store.Pull].
type PullOptions struct {
	// Platform is "os/arch[/variant]" (e.g. "linux/arm64"); empty means the
	// host's. It picks the manifest out of a multi-platform index.
	Platform string
	// Policy says whether a stored reference is used without asking the registry.
	Policy PullPolicy
	// Progress receives events; calls are serialized (never concurrent), so
	// it may draw directly. Keep it fast: downloads wait for it.
	Progress func(ProgressEvent)
	// Auth, when set, is used for the registry; otherwise Keychain is asked.
	Auth authn.Authenticator
	// Keychain finds credentials per registry; nil means the Docker config
	// file ($DOCKER_CONFIG/config.json, ~/.docker/config.json) and its
	// credential helpers, anonymous when it has none. Token auth (the
	// registry's WWW-Authenticate challenge) is handled by the client.
	Keychain authn.Keychain
	// Transport replaces the HTTP transport (proxies, custom CAs, tests).
	Transport http.RoundTripper
	// Insecure lets the client fall back to plain HTTP for this registry.
	// Loopback and RFC 1918 registries ("localhost:5000", "127.0.0.1:5000")
	// are spoken to over HTTP without it. For a self-signed certificate, pass
	// a Transport with the CA instead.
	Insecure bool
	// Jobs is how many layers download at once (default 3).
	Jobs int
}

// ImportOptions tune [Store.Load] and [Store.ImportLayout].
type ImportOptions struct {
	// Platform picks the manifest out of a multi-platform index, as for Pull.
	Platform string
	// Progress receives events as for Pull.
	Progress func(ProgressEvent)
}

// Phase is the state a [ProgressEvent] reports.
type Phase int

const (
	PhaseResolved    Phase = iota // the manifest is known; Total is the number of layers
	PhaseWaiting                  // a layer waits for a download slot or another puller
	PhaseDownloading              // Done of Total bytes of a layer blob are stored
	PhaseUnpacking                // the blob is verified and being unpacked
	PhaseExists                   // the layer was already in the store: nothing to do
	PhaseDone                     // the layer is stored and unpacked
	PhaseComplete                 // the whole image is stored and its reference recorded
)

func (p Phase) String() string {
	switch p {
	case PhaseResolved:
		return "resolved"
	case PhaseWaiting:
		return "waiting"
	case PhaseDownloading:
		return "downloading"
	case PhaseUnpacking:
		return "unpacking"
	case PhaseExists:
		return "already exists"
	case PhaseDone:
		return "done"
	case PhaseComplete:
		return "complete"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// ProgressEvent reports the progress of one layer (Layer set) or of the
// whole image (Layer empty: PhaseResolved, PhaseComplete).
type ProgressEvent struct {
	Ref   string
	Layer digest.Digest
	Phase Phase
	// Done and Total are bytes for a layer; for PhaseResolved Total is the
	// number of layers. Total is 0 when unknown.
	Done, Total int64
}

// PruneReport says what [Store.Prune] removed.
type PruneReport struct {
	Blobs  int   // blob files removed
	Layers int   // unpacked layer directories removed
	Bytes  int64 // bytes of blob files removed (layer dirs not counted)
}

// UnpackOptions tune [Unpack].
type UnpackOptions struct {
	// IgnoreOwnership leaves every file owned by the unpacking user. It is
	// forced on when the process is not root (euid 0 in its user namespace).
	//
	// The rule for ownership and devices: as root in the initial user
	// namespace, files get the archive's uid/gid and device nodes are made. As
	// root in a user namespace, files get the archive's IDs through the
	// namespace's mapping (an ID the mapping lacks fails with EINVAL naming
	// the entry: map 65536 IDs, or set this) and device nodes are skipped,
	// since mknod needs CAP_MKNOD in the initial namespace. Not root: no
	// chown, no device nodes. Whiteouts (0:0 devices) are made in every case;
	// the kernel allows them without CAP_MKNOD.
	IgnoreOwnership bool
	// UserXattr writes user.overlay.opaque instead of trusted.overlay.opaque,
	// for overlay mounts with the userxattr option (unprivileged overlay).
	UserXattr bool
	// MaxBytes, when positive, bounds the uncompressed size of the layer: a
	// few MB of gzip can expand to terabytes of zeros. Over it, Unpack fails
	// with ErrInvalidLayer.
	MaxBytes int64
}

// StoreOption configures [Open].
type StoreOption func(*storeOptions)

type storeOptions struct {
	log    *slog.Logger
	unpack UnpackOptions
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) StoreOption { return func(o *storeOptions) { o.log = l } }

// WithUnpackOptions sets how layers are unpacked (ownership, xattr namespace).
func WithUnpackOptions(u UnpackOptions) StoreOption {
	return func(o *storeOptions) { o.unpack = u }
}
