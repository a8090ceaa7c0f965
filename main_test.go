//go:build linux

package container_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container"
)

// TestMain makes the test binary usable as a container's init, and as the
// short-lived parent process of TestParentDeathKillsContainers.
func TestMain(m *testing.M) {
	container.Init()
	switch os.Getenv("COCOON_TEST_ROLE") {
	case "dying-parent":
		dyingParent()
	case "forks":
		forks()
	case "rootless":
		rootless()
	case "sleep":
		time.Sleep(5 * time.Second)
		os.Exit(0)
	}
	if os.Geteuid() == 0 {
		// The protected copy of the binary is made once per process and kept
		// for its life: make it before any test's leak snapshot.
		if state, err := os.MkdirTemp("", "cocoon-warmup-"); err == nil {
			container.New("true").WithStateDir(state).Run(context.Background())
			os.RemoveAll(state)
		}
	}
	os.Exit(m.Run())
}

// dyingParent starts a container, prints its init's PID and waits to be killed.
func dyingParent() {
	c, err := container.New("sleep", "1000").WithStateDir(os.Getenv("COCOON_TEST_STATE")).Start(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	time.Sleep(time.Hour)
	os.Exit(0)
}

// forks runs inside a container: it forks up to 60 children that sleep,
// prints how many forks succeeded, and exits (its children die with it).
func forks() {
	n := 0
	for range 60 {
		cmd := exec.Command("/proc/self/exe", "-test.run=^$")
		cmd.Env = []string{"COCOON_TEST_ROLE=sleep"}
		if err := cmd.Start(); err != nil {
			continue
		}
		n++
	}
	fmt.Println(n)
	os.Exit(0)
}

// rootless runs as an unprivileged user: it starts a container in a user
// namespace mapping its own uid to 0, prints the container's PID and the
// workload's output, and waits for the container to end.
func rootless() {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	c, err := container.New("sh", "-c", "id -u; cat /proc/self/uid_map; touch /etc/x 2>/dev/null || echo etc=read-only; echo ok > /tmp/x && cat /tmp/x; sleep 2").
		WithUserNamespace(nil, nil).WithStdout(w).WithStderr(w).Start(context.Background())
	w.Close()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	io.Copy(os.Stdout, r)
	res, err := c.Wait()
	c.Delete()
	fmt.Println("result:", res, err)
	// A map wider than its own uid is refused with a clear error.
	wide := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	_, err = container.New("true").WithUserNamespace(wide, wide).Run(context.Background())
	fmt.Println("wide map:", errors.Is(err, container.ErrNotSupported))
	os.Exit(0)
}
