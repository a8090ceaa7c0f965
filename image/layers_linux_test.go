//go:build linux

package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unpackLayers(t *testing.T, layers ...[]ent) []string {
	t.Helper()
	var dirs []string
	for _, ents := range layers {
		d := filepath.Join(t.TempDir(), "layer")
		require.NoError(t, os.Mkdir(d, 0o755))
		_, err := Unpack(t.Context(), strings.NewReader(string(tarOf(t, ents...))), d, UnpackOptions{})
		require.NoError(t, err)
		dirs = append(dirs, d)
	}
	return dirs
}

func TestReadFileInLayersFollowsOverlayRules(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644))
	dirs := unpackLayers(t,
		[]ent{dir("etc"), file("etc/passwd", "lower"), file("etc/group", "g-lower"), file("etc/hosts", "h"),
			dir("usr/lib"), file("usr/lib/os-release", "ID=test"), dir("opq"), file("opq/old", "o"),
			file("gone", "g")},
		[]ent{dir("etc"), file("etc/passwd", "upper"), symlink("etc/os-release", "../usr/lib/os-release"),
			symlink("escape", "/../../../../.."+outside+"/secret"), symlink("rel", "../../../.."+outside+"/secret"),
			dir("opq"), file("opq/.wh..wh..opq", ""), file("opq/new", "n"), file(".wh.gone", ""),
			symlink("loop", "loop"), symlink("etc2", "/etc")},
	)
	read := func(p string) (string, error) {
		b, err := ReadFileInLayers(dirs, p)
		return string(b), err
	}
	for p, want := range map[string]string{
		"/etc/passwd":         "upper",
		"etc/group":           "g-lower",
		"/etc/os-release":     "ID=test",
		"/etc2/hosts":         "h",
		"/etc2/../etc/passwd": "upper",
		"/opq/new":            "n",
	} {
		got, err := read(p)
		require.NoError(t, err, p)
		assert.Equal(t, want, got, p)
	}
	for _, p := range []string{"/gone", "/opq/old", "/escape", "/rel", "/nope", "/etc/passwd/x"} {
		_, err := read(p)
		assert.Error(t, err, p)
	}
	_, err := read("/gone")
	assert.ErrorIs(t, err, os.ErrNotExist, "a whiteout hides the lower file")
	_, err = read("/opq/old")
	assert.ErrorIs(t, err, os.ErrNotExist, "an opaque dir hides the lower dir's entries")
	_, err = read("/loop")
	assert.Error(t, err)
}

func TestApplyProcessFromPulledImage(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	reg.push(t, "app:1", imageOf(t, v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"id"}, Env: []string{"A=image", "B=image"},
		WorkingDir: "/home/app", User: "app",
	}, busyboxLayer(t)))
	s := openStore(t)
	img, err := s.Pull(t.Context(), reg.host+"/app:1", reg.opts())
	require.NoError(t, err)

	p := &rspec.Process{Env: []string{"B=builder", "TERM=xterm"}, User: rspec.User{Umask: new(uint32(0o22))}}
	require.NoError(t, img.ApplyProcess(p, ProcessOverrides{Args: []string{"env"}, Env: []string{"A=user"}}))
	assert.Equal(t, []string{"/bin/sh", "-c", "env"}, p.Args)
	assert.Equal(t, []string{"A=user", "B=builder", "TERM=xterm", "PATH=" + DefaultPath, "HOME=/home/app"}, p.Env)
	assert.Equal(t, "/home/app", p.Cwd)
	assert.Equal(t, uint32(1000), p.User.UID)
	assert.Equal(t, uint32(1000), p.User.GID)
	assert.Equal(t, []uint32{10}, p.User.AdditionalGids)
	require.NotNil(t, p.User.Umask)
	assert.Equal(t, uint32(0o22), *p.User.Umask)

	p = &rspec.Process{}
	require.NoError(t, img.ApplyProcess(p, ProcessOverrides{Entrypoint: []string{"/bin/ls"}, User: "nobody:nogroup", WorkingDir: "tmp"}))
	assert.Equal(t, []string{"/bin/ls"}, p.Args)
	assert.Equal(t, "/tmp", p.Cwd)
	assert.Equal(t, rspec.User{UID: 65534, GID: 65534}, p.User)

	err = img.ApplyProcess(&rspec.Process{}, ProcessOverrides{User: "ghost"})
	assert.ErrorIs(t, err, ErrUnknownUser)
}
