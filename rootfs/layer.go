package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Layers describes an overlay root: read-only lower directories under a
// per-container writable layer, mounted on Target.
type Layers struct {
	// Lower are the read-only layer directories, lowest first (image order).
	Lower []string `json:"lower"`
	// Upper and Work are the per-container writable layer (same filesystem).
	Upper string `json:"upper"`
	Work  string `json:"work"`
	// Target is an empty directory the overlay is mounted on, inside the
	// container's private mount namespace only.
	Target string `json:"target"`
	// HostRoot marks the default root filesystem: the lowest layer is the
	// host's "/", and host paths that must not leak in are covered.
	HostRoot bool `json:"hostRoot,omitempty"`
	// Volatile mounts the overlay with "volatile" (Linux 5.10+): no sync of
	// the upper layer, not even when the overlay is unmounted, for a writable
	// layer that is deleted with the container anyway.
	Volatile bool `json:"volatile,omitempty"`
	// Premounted says the overlay is already mounted on Target in the mount
	// namespace the container's was copied from (see MountOverlay).
	Premounted bool `json:"premounted,omitempty"`
	// Hide are directories (e.g. cocoon's state directory) covered with an
	// empty read-only tmpfs in a HostRoot container.
	Hide []string `json:"hide,omitempty"`
}

// Validate checks the layers before anything is created: every lower must be
// an existing absolute directory.
func (l *Layers) Validate() error {
	if len(l.Lower) == 0 {
		return errors.New("rootfs: no lower layer")
	}
	for _, d := range l.Lower {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("rootfs: layer %q: not an absolute path", d)
		}
		if strings.ContainsAny(d, ":,") {
			// overlayfs separates lowerdirs with ':' and options with ','.
			return fmt.Errorf("rootfs: layer %q: ':' and ',' cannot appear in an overlay layer path", d)
		}
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("rootfs: layer %s: %w", d, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("rootfs: layer %s: not a directory", d)
		}
	}
	return nil
}

// OverlayData returns the overlay mount options for the layers.
func (l *Layers) OverlayData() (string, error) {
	// overlayfs lists lowerdirs top first.
	lower := make([]string, len(l.Lower))
	for i, d := range l.Lower {
		lower[len(l.Lower)-1-i] = d
	}
	data := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + l.Upper + ",workdir=" + l.Work
	if l.Volatile {
		data += ",volatile"
	}
	if len(data) >= os.Getpagesize() {
		return "", fmt.Errorf("overlay: %d layers make an option string of %d bytes, over the kernel's limit of one page", len(l.Lower), len(data))
	}
	return data, nil
}

// Writable is a container's writable layer on disk: the one thing of the root
// filesystem that lives outside the container's mount namespace. Its owner is
// the container handle; Remove is its release point.
type Writable struct {
	Dir    string // <state>/<id>
	Upper  string
	Work   string
	Target string
}

// NewWritable creates <stateDir>/<id>/{upper,work,root}. It fails if the
// directory exists: two containers never share a writable layer.
func NewWritable(stateDir, id string) (*Writable, error) {
	if id == "" || strings.ContainsAny(id, "/:,") || id == "." || id == ".." {
		return nil, fmt.Errorf("rootfs: invalid container id %q", id)
	}
	if err := os.MkdirAll(stateDir, 0o711); err != nil {
		return nil, fmt.Errorf("rootfs: state directory: %w", err)
	}
	dir := filepath.Join(stateDir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rootfs: writable layer: %w", err)
	}
	w := &Writable{Dir: dir, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), Target: filepath.Join(dir, "root")}
	for _, d := range []string{w.Upper, w.Work, w.Target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("rootfs: writable layer: %w", err)
		}
	}
	return w, nil
}

// Remove deletes the writable layer. Safe to call twice.
func (w *Writable) Remove() error {
	if w == nil || w.Dir == "" {
		return nil
	}
	if err := os.RemoveAll(w.Dir); err != nil {
		return fmt.Errorf("rootfs: remove writable layer %s: %w", w.Dir, err)
	}
	return nil
}

// Hierarchy is one cgroup hierarchy of the process, as the host mounts it.
type Hierarchy struct {
	Controllers string `json:"controllers"` // "cpu,cpuacct", "name=systemd", "" for v2
	Dir         string `json:"dir"`         // directory name under /sys/fs/cgroup
	Path        string `json:"path"`        // the process's cgroup in it
}
