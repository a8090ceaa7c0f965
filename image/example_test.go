//go:build linux

package image_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cocoonrt/container/image"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// A container start path: pull (or find) the image, take its layer dirs for
// the overlay and its config for the process, and lease the layers for the
// container's lifetime.
func Example() {
	ctx := context.Background()
	store, err := image.Open(image.DirFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	img, err := store.Pull(ctx, "localhost:5000/busybox:latest", image.PullOptions{
		Policy: image.PullIfMissing,
		Progress: func(e image.ProgressEvent) {
			if e.Layer != "" {
				fmt.Printf("%s %s %d/%d\n", e.Layer.Encoded()[:12], e.Phase, e.Done, e.Total)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Lease(ctx, "container-1", img); err != nil {
		log.Fatal(err)
	}
	defer store.ReleaseLease("container-1")

	var proc rspec.Process
	if err := img.ApplyProcess(&proc, image.ProcessOverrides{Args: []string{"sh", "-c", "ls /"}}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(img.LayerDirs(), proc.Args, proc.User.UID)
}
