//go:build linux

package image

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// testRegistry is an in-process registry on loopback that counts requests
// and can corrupt one blob on the way out.
type testRegistry struct {
	host      string
	transport *http.Transport

	mu       sync.Mutex
	requests []string // "METHOD PATH"
	corrupt  string   // a digest whose blob or manifest is served with one byte flipped
	failOnce string   // a digest whose first GET answers 503
	// With user set, /v2/ needs a bearer token that /token hands out for
	// these basic credentials (the Docker Hub flow).
	user, pass string
}

const testToken = "tok-123"

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	r := &testRegistry{transport: &http.Transport{}}
	h := registry.New(registry.Logger(nopLogger()))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		bad := r.corrupt != "" && req.Method == http.MethodGet &&
			(strings.HasSuffix(req.URL.Path, "/blobs/"+r.corrupt) || strings.HasSuffix(req.URL.Path, "/manifests/"+r.corrupt))
		fail := r.failOnce != "" && req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+r.failOnce)
		if fail {
			r.failOnce = ""
		}
		user, pass := r.user, r.pass
		r.mu.Unlock()
		if user != "" && req.URL.Path == "/token" {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
				http.Error(w, "bad credentials", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token":"`+testToken+`"}`)
			return
		}
		if user != "" && req.Header.Get("Authorization") != "Bearer "+testToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+req.Host+`/token",service="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		if fail {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if bad {
			h.ServeHTTP(&flipWriter{ResponseWriter: w}, req)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		r.transport.CloseIdleConnections()
		srv.Close()
	})
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// flipWriter flips the first byte of the body: same size, wrong digest.
type flipWriter struct {
	http.ResponseWriter
	done bool
}

func (f *flipWriter) Write(b []byte) (int, error) {
	if !f.done && len(b) > 0 {
		f.done = true
		c := append([]byte(nil), b...)
		c[0] ^= 0xff
		return f.ResponseWriter.Write(c)
	}
	return f.ResponseWriter.Write(b)
}

func (r *testRegistry) reset() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

func blobGets(reqs []string) []string {
	var out []string
	for _, q := range reqs {
		if strings.HasPrefix(q, "GET ") && strings.Contains(q, "/blobs/") {
			out = append(out, q)
		}
	}
	return out
}

func (r *testRegistry) opts() PullOptions { return PullOptions{Transport: r.transport} }

func (r *testRegistry) push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	n, err := name.ParseReference(r.host + "/" + ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(n, img, remote.WithTransport(r.transport)))
	r.reset()
}

func (r *testRegistry) pushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	n, err := name.ParseReference(r.host + "/" + ref)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(n, idx, remote.WithTransport(r.transport)))
	r.reset()
}

// layer makes a gzip layer of ents.
func layer(t testing.TB, ents ...ent) v1.Layer {
	t.Helper()
	b := tarOf(t, ents...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	return l
}

// busyboxLayer is Debian's static busybox with a few applet links and
// identity files: a base layer that runs. Only tests that execute it need
// the real binary (see requireBusybox); elsewhere, without busybox-static
// installed, 1.5 MB of fixed pseudo-random bytes stand in for it, so those
// tests never skip.
func busyboxLayer(t testing.TB) v1.Layer {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		bb = make([]byte, 3<<19)
		_, _ = rand.NewChaCha8([32]byte{1}).Read(bb)
	}
	bin := file("bin/busybox", string(bb))
	bin.mode = 0o755
	ents := []ent{dir("bin"), bin, dir("etc"), dir("tmp"), dir("root"), dir("home"),
		file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n"),
		file("etc/group", "root:x:0:\nwheel:x:10:app\nnogroup:x:65534:\napp:x:1000:\n"),
		file("etc/os-release", "NAME=\"cocoon busybox\"\nID=busybox\n")}
	for _, a := range []string{"sh", "ls", "cat", "echo", "id", "env", "true"} {
		ents = append(ents, symlink("bin/"+a, "busybox"))
	}
	return layer(t, ents...)
}

// requireBusybox is for tests that run the image: they need the real
// static binary. CI must have it (apt-get install -y busybox-static).
func requireBusybox(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		if testutil.InCI() {
			t.Fatalf("CI needs /bin/busybox (apt-get install -y busybox-static): %v", err)
		}
		t.Skipf("needs /bin/busybox (apt-get install -y busybox-static): %v", err)
	}
}

func imageOf(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", HostPlatform().Architecture
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}
