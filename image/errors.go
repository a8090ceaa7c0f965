package image

import "errors"

// Sentinel errors callers branch on. Errors returned by this package wrap one
// of these where the class applies, next to the underlying errno or library
// error, so both errors.Is(err, ErrDigestMismatch) and errors.Is(err,
// unix.EACCES) work.
var (
	// ErrNotSupported: the operation needs Linux (openat2, overlay xattrs,
	// mknod); other systems get this from every store operation.
	ErrNotSupported = errors.New("image: not supported on this system")
	// ErrNotFound: no image by that reference in the store.
	ErrNotFound = errors.New("image: not found")
	// ErrDigestMismatch: content did not hash to the digest that named it
	// (a blob, a manifest, or a layer's diff ID). Nothing of it was kept.
	ErrDigestMismatch = errors.New("image: digest mismatch")
	// ErrInvalidLayer: a layer archive that cannot be unpacked safely (a
	// hardlink to a missing or out-of-layer target, a malformed entry).
	ErrInvalidLayer = errors.New("image: invalid layer")
	// ErrInvalidImage: a manifest, config, index or archive that is malformed
	// or does not hold the platform that was asked for.
	ErrInvalidImage = errors.New("image: invalid image")
	// ErrNoCommand: neither the image nor the caller gives a command to run.
	ErrNoCommand = errors.New("image: no command: the image has no Entrypoint or Cmd and none was given")
	// ErrUnknownUser: a user or group name the image's /etc/passwd or
	// /etc/group does not define.
	ErrUnknownUser = errors.New("image: unknown user or group")
)
