//go:build linux

package container_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container/image"
	"github.com/cocoonrt/container/internal/testutil"
)

func TestRunAnImagePulledFromALoopbackRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	ref := testutil.Registry(t) + "/busybox:latest"
	testutil.PushBusybox(t, ref, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "GREETING=from-image"}, WorkingDir: "/etc"})
	store, err := image.Open(t.TempDir())
	require.NoError(t, err)
	img, err := store.Pull(context.Background(), ref, image.PullOptions{})
	require.NoError(t, err)

	b, state := newT(t, "sh", "-c", "ls /; cat /etc/os-release || true; pwd; echo $GREETING; echo $PATH")
	out := output(t, b.WithImage(store.Runnable(img)))
	assert.Contains(t, out, "bin\n")
	assert.Contains(t, out, "NAME=\"cocoon busybox\"\n")
	assert.Contains(t, out, "/etc\nfrom-image\n/bin\n", "the image's WorkingDir, Env and PATH apply")
	assertNoContainersLeft(t, state)

	// The image's Cmd runs when New gets no arguments; the lease is gone
	// after Delete, so prune may now collect the layers.
	b, _ = newT(t)
	b.WithImage(store.Runnable(img)).WithStdin(nil)
	spec, err := b.Spec()
	require.NoError(t, err)
	assert.Equal(t, []string{"sh"}, spec.Process.Args)
	assert.Equal(t, ref, spec.Annotations["cocoon.image"])
	leases, _ := os.ReadDir(filepath.Join(store.Dir(), "leases"))
	assert.Empty(t, leases, "a lease outlived its container")
}
