//go:build linux

package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxLinks bounds symlink resolution as the kernel does (40).
const maxLinks = 40

// ReadFileInLayers reads the file p as the overlay of layerDirs (lowest
// first) would show it, without mounting anything: whiteouts and opaque
// directories hide lower layers, symlinks are followed through the merged
// view (absolute ones from its root), and no lookup leaves a layer dir (each
// is opened with openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS). Files larger
// than 16 MiB are refused. A missing file gives an error wrapping
// os.ErrNotExist.
func ReadFileInLayers(layerDirs []string, p string) ([]byte, error) {
	roots := make([]*os.File, len(layerDirs))
	defer func() {
		for _, r := range roots {
			if r != nil {
				r.Close()
			}
		}
	}()
	for i, d := range layerDirs {
		f, err := os.OpenFile(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open layer: %w", err)
		}
		roots[len(layerDirs)-1-i] = f // top first
	}
	m := merged{roots: roots}
	layer, rp, err := m.resolve(p)
	if err != nil {
		return nil, fmt.Errorf("read %s in image: %w", p, err)
	}
	f, err := m.open(layer, rp, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("read %s in image: %w", p, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("read %s in image: not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in image: %w", p, err)
	}
	if len(b) > 16<<20 {
		return nil, fmt.Errorf("read %s in image: larger than 16 MiB", p)
	}
	return b, nil
}

type merged struct{ roots []*os.File } // top layer first

func (m merged) open(layer int, p string, flags int) (*os.File, error) {
	fd, err := unix.Openat2(int(m.roots[layer].Fd()), p, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// lstat looks at p in one layer; paths are symlink-free by construction.
func (m merged) lstat(layer int, p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	dir, base := path.Split(p)
	if dir == "" {
		dir = "."
	}
	d, err := m.open(layer, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return st, err
	}
	defer d.Close()
	err = unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

func (m merged) opaque(layer int, p string) bool {
	d, err := m.open(layer, p, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return false
	}
	defer d.Close()
	buf := make([]byte, 4)
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Fgetxattr(int(d.Fd()), x, buf); err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// resolve walks p component by component through the merged view and
// returns the layer and symlink-free path of the entry it names.
func (m merged) resolve(p string) (int, string, error) {
	links := 0
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := ""                           // resolved so far, symlink-free
	layers := make([]int, len(m.roots)) // layers where cur is a visible directory
	for i := range layers {
		layers[i] = i
	}
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir("/" + cur)[1:]
			layers = m.dirLayers(cur)
			continue
		}
		next := path.Join(cur, c)
		var hit, below []int
		var top unix.Stat_t
		for _, l := range layers {
			st, err := m.lstat(l, next)
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				continue
			}
			if err != nil {
				return 0, "", err
			}
			if len(hit) == 0 {
				top = st
				hit = append(hit, l)
				if st.Mode&unix.S_IFMT != unix.S_IFDIR || m.opaque(l, next) {
					break
				}
				continue
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				break // a lower non-directory is hidden by the directory above
			}
			below = append(below, l)
			if m.opaque(l, next) {
				break
			}
		}
		if len(hit) == 0 || (top.Mode&unix.S_IFMT == unix.S_IFCHR && top.Rdev == 0) {
			return 0, "", os.ErrNotExist // absent, or a whiteout
		}
		switch top.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			if links > maxLinks {
				return 0, "", unix.ELOOP
			}
			target, err := m.readlink(hit[0], next)
			if err != nil {
				return 0, "", err
			}
			if strings.HasPrefix(target, "/") {
				cur = ""
				layers = m.dirLayers("")
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		case unix.S_IFDIR:
			cur, layers = next, append(hit, below...)
		default:
			if len(rest) > 0 {
				return 0, "", unix.ENOTDIR
			}
			return hit[0], next, nil
		}
	}
	if len(layers) == 0 {
		return 0, "", os.ErrNotExist
	}
	if cur == "" {
		cur = "."
	}
	return layers[0], cur, nil
}

// dirLayers recomputes the layers where dir (symlink-free) is a visible
// directory, for "..": going up leaves the path's own merge behind.
func (m merged) dirLayers(dir string) []int {
	var out []int
	for l := range m.roots {
		if dir != "" {
			st, err := m.lstat(l, dir)
			if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if err == nil {
					break
				}
				continue
			}
		}
		out = append(out, l)
		if dir != "" && m.opaque(l, dir) {
			break
		}
	}
	return out
}

func (m merged) readlink(layer int, p string) (string, error) {
	dir, base := path.Split(p)
	if dir == "" {
		dir = "."
	}
	d, err := m.open(layer, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return "", err
	}
	defer d.Close()
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(d.Fd()), base, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// ApplyProcess fills p from the image config and the user's overrides:
// Args (Entrypoint + Cmd by Docker's rules), Env (image, then p's own, then
// o.Env; PATH and HOME defaulted), Cwd, and User resolved in the image's
// /etc/passwd and /etc/group read from the layer dirs (see
// [ReadFileInLayers]). Call it in the parent before start; it mounts nothing.
func (img *Image) ApplyProcess(p *rspec.Process, o ProcessOverrides) error {
	cfg := img.Config()
	args, err := ProcessArgs(cfg, o)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	userSpec := cfg.User
	if o.User != "" {
		userSpec = o.User
	}
	dirs := img.LayerDirs()
	passwd, err := ReadFileInLayers(dirs, "/etc/passwd")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	group, err := ReadFileInLayers(dirs, "/etc/group")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	u, err := ResolveUser(userSpec, passwd, group)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	env := MergeEnv(cfg.Env, p.Env, o.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH="+DefaultPath)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	cwd := cfg.WorkingDir
	if o.WorkingDir != "" {
		cwd = o.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	p.Args = args
	p.Env = env
	p.Cwd = path.Clean("/" + cwd)
	p.User = rspec.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids, Umask: p.User.Umask}
	return nil
}
