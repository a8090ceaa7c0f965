//go:build linux

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cocoonrt/container"
	"github.com/cocoonrt/container/internal/testutil"
)

func TestMain(m *testing.M) {
	container.Init()
	os.Exit(m.Run())
}

// cli runs the command line and returns its exit status, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	testutil.RequireRoot(t)
	code, out, _ := cli(t, "run", "--hostname", "h1", "--", "sh", "-c", "hostname; exit 3")
	assert.Equal(t, 3, code)
	assert.Equal(t, "h1\n", out)

	code, _, _ = cli(t, "run", "--init", "--", "sh", "-c", "kill -KILL $$")
	assert.Equal(t, 128+9, code, "killed by signal 9")

	code, _, errs := cli(t, "run", "--", "no-such-command")
	assert.Equal(t, 127, code)
	assert.Contains(t, errs, "not found")

	code, _, errs = cli(t, "run", "--memory", "lots", "--", "true")
	assert.Equal(t, 125, code)
	assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	assert.True(t, strings.HasPrefix(errs, "cocoon: "), errs)

	code, _, errs = cli(t, "run", "--memory", "32m", "--", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=200M count=1")
	assert.Equal(t, 137, code)
	assert.Contains(t, errs, "memory limit")

	code, out, _ = cli(t, "run", "--env", "A=1", "--env", "B=2", "--workdir", "/tmp", "--user", "1000:1000", "--", "sh", "-c", "echo $A$B $(pwd) $(id -u):$(id -g)")
	assert.Equal(t, 0, code)
	assert.Equal(t, "12 /tmp 1000:1000\n", out)
}

func TestRunImageFromLoopbackRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	ref := testutil.Registry(t) + "/busybox:latest"
	testutil.PushBusybox(t, ref, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}})
	store := "--store=" + t.TempDir()
	code, out, errs := cli(t, "pull", store, ref)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "1 layers")
	code, out, errs = cli(t, "run", store, "--image", ref, "--", "sh", "-c", "ls /; cat /etc/os-release || true")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "bin\n")
	assert.Contains(t, out, "cocoon busybox")
	code, out, _ = cli(t, "images", store)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, ref)
	code, _, _ = cli(t, "rmi", store, ref)
	assert.Equal(t, 0, code)
	code, out, _ = cli(t, "prune", store)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "1 layers")
}
