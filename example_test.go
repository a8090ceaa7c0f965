package container_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/namespace"
)

// The README's tour: a container with the default isolation on the embedded
// default root filesystem, its output on our stdout, killed after 10 seconds.
func Example() {
	// In main, first: container.Init()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := container.New("sh", "-c", "echo hello from $(hostname), PID $$").
		WithNamespaces(). // pid, mount, uts, ipc, net, cgroup
		WithHostname("box").
		WithStdout(os.Stdout).
		Run(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res)
}

// A long-running container, a second one in its network namespace, and
// explicit cleanup.
func ExampleBuilder_Start() {
	ctx := context.Background()
	server, err := container.New("sleep", "60").WithInit().Start(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer server.Delete()

	res, err := container.New("cat", "/proc/net/dev").
		WithJoinNamespace(namespace.Network, server.NamespacePath(namespace.Network)).
		Run(ctx)
	fmt.Println(res, err)
}

// Inspecting the spec a builder would run, without running it.
func ExampleBuilder_Spec() {
	spec, err := container.New("true").WithHostname("box").WithMount(
		// any runtime-spec mount; targets resolve inside the container's root
		specMount("/data"),
	).Spec()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(spec.Hostname, spec.Annotations[container.AnnotationRootfs], spec.Mounts[len(spec.Mounts)-1].Destination)
	// Output: box host /data
}
