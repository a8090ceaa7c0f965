//go:build linux

package container_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
	"github.com/cocoonrt/container/namespace"
)

// newT returns a builder whose state lives in the test's temp dir, so the test
// can check that nothing stays behind.
func newT(t *testing.T, args ...string) (*container.Builder, string) {
	t.Helper()
	state := t.TempDir()
	// A user namespace's root must be able to reach its writable layer.
	require.NoError(t, os.Chmod(state, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(state), 0o711))
	return container.New(args...).WithStateDir(state), state
}

// output runs b and returns its stdout, failing on start errors or a non-zero exit.
func output(t *testing.T, b *container.Builder) string {
	t.Helper()
	var out, errb bytes.Buffer
	res, err := b.WithStdout(&out).WithStderr(&errb).Run(context.Background())
	require.NoError(t, err, "stderr: %s", errb.String())
	require.True(t, res.Success(), "result %v, stderr: %s", res, errb.String())
	return out.String()
}

// startLine starts b and returns the container once it printed a line.
func startLine(t *testing.T, b *container.Builder) (*container.Container, string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	c, err := b.WithStdout(w).Start(context.Background())
	w.Close()
	require.NoError(t, err)
	t.Cleanup(func() { c.Delete(); r.Close() })
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	return c, strings.TrimSpace(line)
}

func assertNoContainersLeft(t *testing.T, state string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(state, "containers"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "writable layers left in the state directory")
}

func TestEachNamespaceIsNew(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "for n in pid mnt uts ipc net cgroup; do readlink /proc/self/ns/$n; done")
	out := strings.Fields(output(t, b))
	names := []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"}
	require.Len(t, out, len(names))
	for i, n := range names {
		host, err := os.Readlink("/proc/self/ns/" + n)
		require.NoError(t, err)
		assert.NotEqual(t, host, out[i], "%s namespace is the host's", n)
		assert.True(t, strings.HasPrefix(out[i], n+":["), out[i])
	}
}

func TestWorkloadIsPID1WithHostnameAndOnlyLoopback(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "echo $$; hostname; cat /etc/hostname; ls /sys/class/net; cat /sys/class/net/lo/flags")
	out := strings.Fields(output(t, b.WithHostname("box")))
	assert.Equal(t, []string{"1", "box", "box", "lo", "0x9"}, out) // 0x9: IFF_UP|IFF_LOOPBACK
}

func TestNetworkNoneLeavesLoopbackDown(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "cat", "/sys/class/net/lo/flags")
	assert.Equal(t, "0x8\n", output(t, b.WithNetwork(container.NetworkNone)))
}

func TestExitCodeAndSignalPropagate(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "exit 7")
	res, err := b.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, container.Exited, res.Reason)
	assert.Equal(t, 7, res.ExitCode)

	// Outside a pid namespace the shell is not PID 1, so SIGTERM kills it.
	b, _ = newT(t, "sh", "-c", "kill -TERM $$; sleep 5")
	res, err = b.WithNamespaces(namespace.Mount, namespace.UTS, namespace.IPC, namespace.Network).Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, container.Signaled, res.Reason)
	assert.Equal(t, syscall.SIGTERM, res.Signal)
	assert.Equal(t, 128+15, res.ExitCode)
}

func TestSignalReachesWorkloadThroughInit(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "trap 'exit 42' USR1; echo ready; while :; do sleep 0.05; done")
	c, line := startLine(t, b.WithInit())
	require.Equal(t, "ready", line)
	require.NoError(t, c.Signal(syscall.SIGUSR1))
	res, err := c.Wait()
	require.NoError(t, err)
	assert.Equal(t, container.Exited, res.Reason)
	assert.Equal(t, 42, res.ExitCode)
}

func TestInitReapsOrphans(t *testing.T) {
	testutil.RequireRoot(t)
	// The shell's background children are re-parented to PID 1 when it exits;
	// with WithInit they are reaped, so no zombie is visible afterwards.
	b, _ := newT(t, "sh", "-c", "(sleep 0.1 &) ; (sleep 0.1 &); sleep 0.5; ps -o stat= | grep -c Z || true")
	out := output(t, b.WithInit())
	assert.Equal(t, "0", strings.TrimSpace(out))
}

func TestContextTimeoutKillsWorkloadIgnoringSIGTERM(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	b, state := newT(t, "sh", "-c", "trap '' TERM; while :; do sleep 1; done")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := b.WithInit().WithStopTimeout(100 * time.Millisecond).Run(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, res)
	assert.Equal(t, container.DeadlineExceeded, res.Reason)
	assert.Less(t, time.Since(start), 5*time.Second)
	assertNoContainersLeft(t, state)
}

func TestCancelKillsEveryProcessOfTheContainer(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "sleep 1000 & sleep 1000 & echo started; wait")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := b.WithStdout(w).Start(ctx)
	w.Close()
	require.NoError(t, err)
	_, err = bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	pids := descendants(c.Pid())
	require.GreaterOrEqual(t, len(pids), 3, "the shell and its two sleeps")
	cancel()
	res, err := c.Wait()
	require.NoError(t, err)
	assert.Equal(t, container.Canceled, res.Reason)
	require.NoError(t, c.Delete())
	for _, p := range pids {
		assert.Eventually(t, func() bool { return !alive(p) }, 2*time.Second, 10*time.Millisecond, "pid %d still alive", p)
	}
}

func TestStdioRoundTrips10MiB(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	in := make([]byte, 10<<20)
	_, err := rand.Read(in)
	require.NoError(t, err)
	b, _ := newT(t, "cat")
	var out bytes.Buffer
	res, err := b.WithStdin(bytes.NewReader(in)).WithStdout(&out).Run(context.Background())
	require.NoError(t, err)
	require.True(t, res.Success())
	require.Equal(t, len(in), out.Len())
	assert.True(t, bytes.Equal(in, out.Bytes()), "stdout differs from stdin")
}

func TestSequentialStartsLeaveNothing(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	state := t.TempDir()
	for i := range 100 {
		res, err := container.New("true").WithStateDir(state).Run(context.Background())
		require.NoError(t, err, "run %d", i)
		require.True(t, res.Success(), "run %d: %v", i, res)
	}
	assertNoContainersLeft(t, state)
}

func TestConcurrentStartsLeaveNothing(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	state := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			res, err := container.New("sh", "-c", "echo $$").WithStateDir(state).WithStdout(&out).Run(context.Background())
			if err == nil && (!res.Success() || out.String() != "1\n") {
				err = fmt.Errorf("container %d: %v, output %q", i, res, out.String())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assertNoContainersLeft(t, state)
}

func TestUserNamespaceMapsRootToUnprivilegedHostUser(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "id -u; cat /proc/self/uid_map; echo ready; sleep 10")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	c, err := b.WithUserNamespace(nil, nil).WithStdout(w).Start(context.Background())
	w.Close()
	require.NoError(t, err)
	defer c.Delete()
	br := bufio.NewReader(r)
	var lines []string
	for {
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		if l == "ready\n" {
			break
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	assert.Equal(t, []string{"0", "0 100000 65536"}, lines)
	// Seen from the host, the container's root is uid 100000.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
	require.NoError(t, err)
	assert.Contains(t, string(status), "Uid:\t100000\t100000\t100000\t100000")
}

func TestMultiRangeIDMappings(t *testing.T) {
	testutil.RequireRoot(t)
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 1000}}
	b, _ := newT(t, "cat", "/proc/self/uid_map", "/proc/self/gid_map")
	out := output(t, b.WithUserNamespace(maps, maps).WithUser(1500, 1500))
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	assert.Equal(t, []string{"0 200000 1000", "1000 300000 1000", "0 200000 1000", "1000 300000 1000"}, got)
}

func TestTimeNamespaceOffsets(t *testing.T) {
	testutil.RequireRoot(t)
	if !namespace.Supported(namespace.Time) {
		t.Skip("kernel has no time namespaces (CONFIG_TIME_NS)")
	}
	b, _ := newT(t, "cat", "/proc/uptime")
	b.WithTimeOffsets(0, 240*time.Hour)
	var u unix.Utsname
	require.NoError(t, unix.Uname(&u))
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	if major < 6 || (major == 6 && minor < 2) {
		// Refused, not run with unshifted clocks.
		_, err := b.Run(context.Background())
		require.ErrorIs(t, err, container.ErrNotSupported)
		return
	}
	out := output(t, b)
	up, err := strconv.ParseFloat(strings.Fields(out)[0], 64)
	require.NoError(t, err)
	assert.Greater(t, up, float64(240*3600), "uptime inside should include the 10-day boottime offset")
}

func TestJoinAnotherContainersNetworkNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	// A serves on its loopback; B, joined to A's network namespace, reaches it.
	a, _ := newT(t, "python3", "-c", `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080)); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); c.sendall(b"hello from A\n"); c.close()`)
	ca, line := startLine(t, a)
	require.Equal(t, "listening", line)

	aNet, err := os.Readlink(ca.NamespacePath(namespace.Network))
	require.NoError(t, err)
	b, _ := newT(t, "python3", "-c", `
import socket, os
print(os.readlink("/proc/self/ns/net"))
s = socket.create_connection(("127.0.0.1", 8080)); print(s.recv(100).decode().strip())`)
	out := output(t, b.WithJoinNamespace(namespace.Network, ca.NamespacePath(namespace.Network)))
	assert.Equal(t, aNet+"\nhello from A\n", out)
	res, err := ca.Wait()
	require.NoError(t, err)
	assert.True(t, res.Success())
}

func TestJoiningMountNamespaceIsNotSupported(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "true")
	_, err := b.WithJoinNamespace(namespace.Mount, "/proc/self/ns/mnt").Run(context.Background())
	require.ErrorIs(t, err, namespace.ErrNotSupported)
}

func TestContainerCannotWriteCallersBinary(t *testing.T) {
	testutil.RequireRoot(t)
	self, err := os.Executable()
	require.NoError(t, err)
	before := fileHash(t, self)
	// With WithInit the container's PID 1 runs the caller's binary. Try every
	// way a root process in the container has to write to it.
	script := `
for how in 'echo pwned > /proc/1/exe' 'echo pwned >> /proc/1/exe' 'exec 3<>/proc/1/exe; echo pwned >&3' 'cp /bin/sh /proc/1/exe'; do
  if sh -c "$how" 2>/dev/null; then echo "WROTE: $how"; else echo "refused: $how"; fi
done`
	b, _ := newT(t, "sh", "-c", script)
	out := output(t, b.WithInit())
	assert.NotContains(t, out, "WROTE", out)
	assert.Equal(t, 4, strings.Count(out, "refused"), out)
	assert.Equal(t, before, fileHash(t, self), "the caller's binary changed")
}

func TestStepErrorNamesStepAndKeepsErrno(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	b, state := newT(t, "true")
	_, err := b.WithBind("/nonexistent-cocoon-source", "/mnt/x", false).Run(context.Background())
	require.Error(t, err)
	var se *container.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "rootfs", se.Step)
	assert.ErrorIs(t, err, unix.ENOENT)
	assert.Contains(t, err.Error(), "/nonexistent-cocoon-source does not exist")
	assertNoContainersLeft(t, state)

	b, _ = newT(t, "/no/such/program")
	_, err = b.Run(context.Background())
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "exec /no/such/program", se.Step)
	assert.ErrorIs(t, err, unix.ENOENT)
}

func TestInvalidSettingsAreCollected(t *testing.T) {
	_, err := container.New().WithDir("relative").WithHostname(strings.Repeat("h", 65)).WithEnv("NOEQUALS").Spec()
	require.Error(t, err)
	for _, want := range []string{"no command", "relative", "hostname", "NOEQUALS"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = container.New("true").WithHostname("x").WithNamespaces(namespace.PID).Spec()
	assert.ErrorContains(t, err, "uts namespace")
	_, err = container.New("true").WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: namespace.PID})
	}).Spec()
	assert.ErrorContains(t, err, "listed twice")
	_, err = container.New("true").WithUserNamespace([]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 5, HostID: 2000, Size: 10}},
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}).Spec()
	assert.ErrorContains(t, err, "overlap")
}

func TestFromSpecRunsWhatSpecReturned(t *testing.T) {
	testutil.RequireRoot(t)
	spec, err := container.New("sh", "-c", "echo $GREETING from $(hostname)").WithHostname("fromspec").WithEnv("GREETING=hi").Spec()
	require.NoError(t, err)
	assert.Equal(t, "host", spec.Annotations[container.AnnotationRootfs])
	var out bytes.Buffer
	res, err := container.FromSpec(spec).WithStateDir(t.TempDir()).WithStdout(&out).Run(context.Background())
	require.NoError(t, err)
	require.True(t, res.Success())
	assert.Equal(t, "hi from fromspec\n", out.String())
}

func TestParentDeathKillsContainers(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COCOON_TEST_ROLE=dying-parent", "COCOON_TEST_STATE="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "helper output")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err, "helper said %q", line)
	require.True(t, alive(pid))
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	assert.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 10*time.Millisecond, "container outlived its parent")
}

func fileHash(t *testing.T, path string) [32]byte {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, testutil.Children(out[i])...)
	}
	return out
}

func TestLookupAndReclaim(t *testing.T) {
	testutil.RequireRoot(t)
	b, state := newT(t, "sleep", "100")
	c, err := b.WithID("findme").Start(context.Background())
	require.NoError(t, err)
	rec, err := container.Lookup(state, "findme")
	require.NoError(t, err)
	assert.Equal(t, c.Pid(), rec.Pid)
	removed, err := container.Reclaim(state)
	require.NoError(t, err)
	assert.Empty(t, removed, "a running container was reclaimed")

	// A crashed owner leaves the directory behind with a dead init in it.
	require.NoError(t, c.Kill())
	crashed := filepath.Join(state, "containers", "crashed")
	require.NoError(t, os.MkdirAll(filepath.Join(crashed, "upper"), 0o700))
	data, err := os.ReadFile(filepath.Join(state, "containers", "findme", "state.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(crashed, "state.json"), data, 0o600))
	_, err = container.Lookup(state, "crashed")
	assert.ErrorIs(t, err, container.ErrNotRunning)
	removed, err = container.Reclaim(state)
	require.NoError(t, err)
	assert.Contains(t, removed, "crashed")
	require.NoError(t, c.Delete())
	assertNoContainersLeft(t, state)
}

func TestRootlessUserNamespace(t *testing.T) {
	testutil.RequireRoot(t) // to become the unprivileged user
	// A copy of this test binary that the unprivileged user can execute.
	dir, err := os.MkdirTemp("", "cocoon-rootless-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.ReadFile("/proc/self/exe")
	require.NoError(t, err)
	bin := filepath.Join(dir, "cocoon.test")
	require.NoError(t, os.WriteFile(bin, self, 0o755))
	home := filepath.Join(dir, "home")
	require.NoError(t, os.Mkdir(home, 0o700))
	require.NoError(t, os.Chown(home, 65534, 65534))

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"COCOON_TEST_ROLE=rootless", "HOME=" + home, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Wait()
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err, "rootless start: %s", line)
	// Seen from the host, the container runs as the unprivileged user.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	assert.Contains(t, string(status), "Uid:\t65534\t65534\t65534\t65534")
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	out := string(rest)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 4, out)
	assert.Equal(t, "0", lines[0], "root inside")
	assert.Equal(t, "0 65534 1", strings.Join(strings.Fields(lines[1]), " "))
	assert.Contains(t, out, "etc=read-only\nok\n")
	assert.Contains(t, out, "result: exited with status 0 <nil>")
	assert.Contains(t, out, "wide map: true")
}

func TestWorkloadInheritsNoFileDescriptors(t *testing.T) {
	testutil.RequireRoot(t)
	// A directory fd the caller leaked without close-on-exec must not reach
	// the workload (it could openat(fd, "..") out of its root).
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	b, _ := newT(t, "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '")
	out := output(t, b)
	// 0-2, and the fd ls itself uses to read the directory.
	assert.Equal(t, "0 1 2 3 ", out)
}

func TestSysctlsOnlyWhenNamespaced(t *testing.T) {
	testutil.RequireRoot(t)
	host, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	require.NoError(t, err)
	b, _ := newT(t, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni")
	out := output(t, b.WithSysctl("net.ipv4.ip_unprivileged_port_start", "80").WithSysctl("kernel.shmmni", "1234"))
	assert.Equal(t, "80\n1234\n", out)
	after, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	require.NoError(t, err)
	assert.Equal(t, string(host), string(after), "the host's value changed")

	_, err = container.New("true").WithSysctl("kernel.core_pattern", "|/evil").Spec()
	assert.ErrorContains(t, err, "would change the host")
	_, err = container.New("true").WithNetwork(container.NetworkHost).WithSysctl("net.ipv4.ip_forward", "1").Spec()
	assert.ErrorContains(t, err, "needs a new network namespace")
}

func TestContainersSurviveThreadsThatEnd(t *testing.T) {
	testutil.RequireRoot(t)
	// The init's parent-death signal follows the OS thread that forked it,
	// and a goroutine that exits while locked to its thread ends that thread
	// (go.dev/issue/27505). Each goroutine here starts a container, then locks
	// its thread and exits: had the init been forked from that thread, the
	// container would die with it.
	state := t.TempDir()
	cs := make(chan *container.Container, 5)
	for range 5 {
		go func() {
			c, err := container.New("sleep", "100").WithStateDir(state).Start(context.Background())
			if err != nil {
				t.Error(err)
				cs <- nil
				return
			}
			cs <- c
			runtime.LockOSThread() // and exit locked: the thread ends
		}()
	}
	var all []*container.Container
	for range 5 {
		if c := <-cs; c != nil {
			all = append(all, c)
			defer c.Delete()
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range all {
		assert.Equal(t, container.Running, c.State(), "container %s died with the thread that started it", c.ID())
	}
}
