//go:build linux

package testutil

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// Registry starts an in-process OCI registry on 127.0.0.1 for the test and
// returns its address as localhost:PORT.
func Registry(tb testing.TB) string {
	tb.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	tb.Cleanup(srv.Close)
	// "localhost" is what registry clients talk plain HTTP to.
	return strings.Replace(strings.TrimPrefix(srv.URL, "http://"), "127.0.0.1", "localhost", 1)
}

// PushBusybox pushes a one-layer image of BusyboxRootfs (plus
// /etc/os-release) to ref ("HOST:PORT/busybox:latest"), with cfg as its config.
func PushBusybox(tb testing.TB, ref string, cfg v1.Config) {
	tb.Helper()
	dir := BusyboxRootfs(tb, tb.TempDir())
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "etc", "os-release"), []byte("NAME=\"cocoon busybox\"\nID=busybox\n"), 0o644))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(tb, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = strings.TrimPrefix(p, dir+"/"), 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	}))
	require.NoError(tb, tw.Close())
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(tb, err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	require.NoError(tb, err)
	cf, err := img.ConfigFile()
	require.NoError(tb, err)
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(tb, err)
	n, err := name.ParseReference(ref)
	require.NoError(tb, err)
	require.NoError(tb, remote.Write(n, img, remote.WithTransport(http.DefaultTransport)))
}
