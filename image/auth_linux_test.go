//go:build linux

package image

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/cocoonrt/container/internal/testutil"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPullTokenAuthFromDockerConfig: the registry wants a bearer token, the
// token service wants the credentials of ~/.docker/config.json.
func TestPullTokenAuthFromDockerConfig(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	reg.push(t, "private:1", imageOf(t, v1.Config{Cmd: []string{"sh"}}, layer(t, file("secret", "s"))))
	reg.mu.Lock()
	reg.user, reg.pass = "alice", "s3cret"
	reg.mu.Unlock()
	ref := reg.host + "/private:1"

	// The keychain reads $HOME/.docker/config.json, else $DOCKER_CONFIG; the
	// Docker CLI code behind it caches the home lookup for the process, so the
	// test points DOCKER_CONFIG at its file and HOME at an empty directory.
	t.Setenv("HOME", t.TempDir())
	dockerConfig := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	s := openStore(t)
	_, err := s.Pull(t.Context(), ref, reg.opts())
	require.Error(t, err, "anonymous pull of a private image")

	cfg := `{"auths":{"` + reg.host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + `"}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(cfg), 0o600))
	img, err := s.Pull(t.Context(), ref, reg.opts())
	require.NoError(t, err)
	b, err := ReadFileInLayers(img.LayerDirs(), "/secret")
	require.NoError(t, err)
	assert.Equal(t, "s", string(b))
	assert.Contains(t, reg.reset(), "GET /token")

	// Explicit credentials win over the keychain.
	opts := reg.opts()
	opts.Auth = &authn.Basic{Username: "alice", Password: "wrong"}
	_, err = s.Pull(t.Context(), ref, opts)
	require.Error(t, err)
}

// TestPullRetriesTransientErrors: a 503 on a blob is retried by the client.
func TestPullRetriesTransientErrors(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	reg := newRegistry(t)
	l := layer(t, file("f", "x"))
	reg.push(t, "flaky:1", imageOf(t, v1.Config{Cmd: []string{"sh"}}, l))
	d, err := l.Digest()
	require.NoError(t, err)
	reg.mu.Lock()
	reg.failOnce = d.String()
	reg.mu.Unlock()
	s := openStore(t)
	_, err = s.Pull(t.Context(), reg.host+"/flaky:1", reg.opts())
	require.NoError(t, err)
	n := 0
	for _, q := range reg.reset() {
		if q == "GET /v2/flaky/blobs/"+d.String() {
			n++
		}
	}
	assert.Equal(t, 2, n, "the failed GET was retried once")
}
