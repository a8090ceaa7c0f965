// Package image pulls, imports and stores OCI and Docker images for
// containers: a content-addressed local store, registry pulls, `docker save`
// and OCI layout imports, one safely unpacked directory per layer, garbage
// collection, and the image config turned into a runtime-spec process.
//
// # Model
//
// A [Store] is one directory (default /var/lib/cocoon; [DirFromEnv] honours
// COCOON_STORE). Blobs (manifests, configs, layer archives) live by digest
// and are verified before they are kept. Each layer is unpacked once, into a
// directory named by its diff ID, shared by every image and container that
// has it; whiteouts are converted to the overlayfs form, so the layer dirs of
// an image ([Image.LayerDirs], lowest first) are overlay lowerdirs as they
// are. An index maps references to manifests. Every entry appears by a
// single rename(2) once complete, and flock(2) locks per digest make
// concurrent pulls (goroutines or processes) do each piece of work once; an
// interrupted pull leaves at most files in tmp/, which [Store.Prune] clears.
//
//	store, err := image.Open(image.DirFromEnv())
//	img, err := store.Pull(ctx, "localhost:5000/busybox:latest", image.PullOptions{Progress: draw})
//	lower := img.LayerDirs()                         // reverse for overlay's lowerdir=
//	err = img.ApplyProcess(&spec.Process, image.ProcessOverrides{Args: userArgs})
//	err = store.Lease(ctx, containerID, img)          // keep layers while the container lives
//
// The registry protocol, authentication (Docker config file, credential
// helpers, anonymous, bearer tokens), retries and platform resolution come
// from github.com/google/go-containerregistry; the store, locking and unpack
// are this package's.
//
// # Unpack safety
//
// [Unpack] resolves every path of an archive inside the layer directory with
// openat2(2) RESOLVE_IN_ROOT (github.com/cyphar/filepath-securejoin's
// pathrs-lite where it must create parents or the kernel lacks openat2),
// never follows the final component, unlinks existing entries instead of
// writing through them, and resolves hardlink targets inside the layer too.
// So "../" names, absolute or chained symlinks and hardlinks to elsewhere
// cannot create or change anything outside it; FuzzUnpack checks exactly that.
// trusted.* extended attributes from archives are dropped (a layer must not
// forge overlay metadata); user.* and security.capability are kept.
//
// Ownership: as root, files get the archive's uid/gid and device nodes are
// made. As root of a user namespace, IDs go through its mapping and device
// nodes are skipped (mknod needs CAP_MKNOD in the initial namespace); use
// [UnpackOptions].UserXattr there, since trusted.* xattrs are out of reach,
// and mount the overlay with userxattr. Not root (or IgnoreOwnership): no
// chown, no device nodes. Whiteouts are made in every case. A store's layers
// should be unpacked one way only; a container in a user namespace is best
// served by real-root layers and an idmapped mount of the layer dirs.
//
// # When not to use it
//
// It is not a registry client library (use go-containerregistry directly to
// copy or push images), and it does not build images. Layer dirs are
// read-only shared state: never use one as an overlay upperdir or write into
// it. The store's directory must be on a filesystem that supports overlayfs
// lower layers, xattrs in the trusted namespace (for opaque directories) and
// character devices (for whiteouts): not tmpfs mounted nodev, not NFS.
//
// # Pitfalls
//
//   - Prune removes layers no image references: a running container's layers
//     must be leased ([Store.Lease]) or Prune may delete them under it.
//   - Overlay's lowerdir lists the top layer first; LayerDirs is lowest first.
//   - Overlay's options must fit in one page: full layer paths allow about 40
//     layers, [Image.ShortLayerDirs] (symlinks under STORE/l) about 85.
//   - A store directory containing ':' or ',' cannot be used in overlay
//     options; Open refuses it.
//   - Pull by default asks the registry each time (tags move); use
//     [PullIfMissing] to start from the store without any request.
//
// Man pages: openat2(2), overlayfs (Documentation/filesystems/overlayfs.rst),
// flock(2), mknod(2), xattr(7).
package image
