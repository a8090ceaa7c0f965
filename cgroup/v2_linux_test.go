//go:build linux

package cgroup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container/cgroup"
	"github.com/cocoonrt/container/internal/testutil"
)

// TestCloneIntoCgroup starts a process with SysProcAttr.UseCgroupFD: it is
// born in the container's cgroup, with no Attach call.
func TestCloneIntoCgroup(t *testing.T) {
	requireUnified(t)
	testutil.CheckLeaks(t)
	cg := newCgroup(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}})
	require.GreaterOrEqual(t, cg.PlacementFD(), 0)
	p := start(t, cg, nil, "/bin/cat", "/proc/self/cgroup")
	require.NoError(t, p.wait(t, 30*time.Second), p.out.String())
	assert.Equal(t, "0::"+cg.Path(), strings.TrimSpace(p.out.String()))
}

// TestDefaultParentVacatesCaller runs New with the default parent in a
// process that sits in a non-root cgroup holding processes, as a program in
// a systemd unit does: New must move it into a leaf first (v2's
// no-internal-processes rule) and create the container's cgroup in
// "<own>/cocoon".
func TestDefaultParentVacatesCaller(t *testing.T) {
	own, out := runInDelegatedCgroup(t, "delegated", 0, "vacate")
	assert.Contains(t, out, "before 0::"+own+"\n")
	assert.Contains(t, out, "container "+own+"/cocoon/vacate-test\n")
	assert.Contains(t, out, "after 0::"+own+"/leaf\n")
}

// TestDefaultParentInsideAContainer does the same in a process that sees
// its own cgroup as "/" (a cgroup namespace with cgroup2 mounted inside, as
// in a container): "/" there is not the real root, so the
// no-internal-processes rule applies and New must vacate it too.
func TestDefaultParentInsideAContainer(t *testing.T) {
	_, out := runInDelegatedCgroup(t, "container", syscall.CLONE_NEWCGROUP|syscall.CLONE_NEWNS, "vacate-in-container")
	assert.Contains(t, out, "before 0::/\n")
	assert.Contains(t, out, "container /cocoon/vacate-test\n")
	assert.Contains(t, out, "after 0::/leaf\n")
}

// runInDelegatedCgroup re-executes the test binary as helper role, born in
// a fresh cgroup below the root (as a delegated unit), and returns that
// cgroup's path and the helper's output once it succeeded.
func runInDelegatedCgroup(t *testing.T, suffix string, cloneflags uintptr, role string) (string, string) {
	requireUnified(t)
	h := host(t)
	testutil.CheckLeaks(t)
	own := fmt.Sprintf("/cocoon-test-%d-%s", os.Getpid(), suffix)
	dir := filepath.Join(h.UnifiedMount, own)
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		assert.NoError(t, os.Remove(filepath.Join(dir, "leaf")))
		assert.NoError(t, os.Remove(dir))
	})
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	exe, err := os.Executable()
	require.NoError(t, err)
	p := &proc{waited: make(chan error, 1)}
	p.cmd = cmdInCgroup(fd, exe)
	p.cmd.SysProcAttr.Cloneflags = cloneflags
	p.cmd.Env = append(os.Environ(), helperEnv+"="+role)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.waited <- p.cmd.Wait() }()
	require.NoError(t, p.wait(t, 60*time.Second), p.out.String())
	assert.NoDirExists(t, filepath.Join(dir, "cocoon"), "the default parent goes with its last container")
	return own, p.out.String()
}

func vacateInContainerHelper() int {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fmt.Println("make / private:", err)
		return 1
	}
	// The same superblock cannot be mounted twice on one place: drop the
	// host's view first, as a container runtime's fresh mount table would.
	if err := syscall.Unmount("/sys/fs/cgroup", syscall.MNT_DETACH); err != nil {
		fmt.Println("unmount the host's cgroup2:", err)
		return 1
	}
	if err := syscall.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil {
		fmt.Println("mount cgroup2:", err)
		return 1
	}
	return vacateHelper()
}

func vacateHelper() int {
	b, _ := os.ReadFile("/proc/self/cgroup")
	fmt.Printf("before %s", b)
	cg, err := cgroup.New(cgroup.Config{Name: "vacate-test", Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}}})
	if err != nil {
		fmt.Println("New:", err)
		return 1
	}
	defer cg.Destroy()
	fmt.Printf("container %s\n", cg.Path())
	b, _ = os.ReadFile("/proc/self/cgroup")
	fmt.Printf("after %s", b)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg.Path(), "memory.max")); err != nil {
		fmt.Println("memory controller not delegated:", err)
		return 1
	}
	if err := cg.Destroy(); err != nil {
		fmt.Println("Destroy:", err)
		return 1
	}
	return 0
}
