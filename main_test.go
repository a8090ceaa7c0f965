//go:build linux

package container_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cocoonrt/container"
)

// TestMain makes the test binary usable as a container's init, and as the
// short-lived parent process of TestParentDeathKillsContainers.
func TestMain(m *testing.M) {
	container.Init()
	if os.Getenv("COCOON_TEST_ROLE") == "dying-parent" {
		dyingParent()
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
