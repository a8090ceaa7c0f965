//go:build linux

package cgroup_test

import (
	"fmt"
	"log"
	"os/exec"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container/cgroup"
)

// Start a process under a 64 MiB memory limit and half a CPU, and tell an
// OOM kill from any other death.
func Example() {
	limit, quota := int64(64<<20), int64(50000)
	cg, err := cgroup.New(cgroup.Config{
		Name: "example",
		Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &limit},
			CPU:    &specs.LinuxCPU{Quota: &quota},
		},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, cgroup.ErrNotSupported): the host cannot enforce it
	}
	defer cg.Destroy()

	cmd := exec.Command("/bin/sh", "-c", "exec my-workload")
	if fd := cg.PlacementFD(); fd >= 0 {
		// cgroup v2: born inside the cgroup, never unlimited.
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	if cg.PlacementFD() < 0 {
		// cgroup v1: a real runtime attaches before letting the child run
		// (its init waits for the go-ahead); see the package doc.
		if err := cg.Attach(cmd.Process.Pid); err != nil {
			log.Fatal(err)
		}
	}
	err = cmd.Wait()
	if oom, _ := cg.OOMKilled(); oom {
		fmt.Println("the memory limit was hit")
		return
	}
	fmt.Println("exited:", err)
}
