//go:build linux

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if child := os.Getenv(childEnv); child != "" {
		os.Exit(runChild(child))
	}
	warmUp()
	os.Exit(m.Run())
}

// warmUp lets securejoin open its process-wide procfs handle (it keeps one fd
// for the life of the process) before any test takes a leak snapshot.
func warmUp() {
	if os.Geteuid() != 0 {
		return
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "a/b/c", Typeflag: tar.TypeReg, Mode: 0o644})
	_ = tw.Close()
	d, err := os.MkdirTemp("", "cocoon-image-warmup")
	if err != nil {
		return
	}
	defer os.RemoveAll(d)
	_, _ = Unpack(context.Background(), &buf, d, UnpackOptions{})
}
