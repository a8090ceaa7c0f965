//go:build linux

package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BusyboxPath is where Debian's busybox-static puts its binary.
const BusyboxPath = "/bin/busybox"

// BusyboxRootfs fills dir with a minimal root filesystem: a static busybox,
// a symlink per applet in /bin, and empty /proc, /sys, /dev, /tmp, /etc. The
// test fails (not skips) when busybox-static is missing: the test command
// installs it.
func BusyboxRootfs(tb testing.TB, dir string) string {
	tb.Helper()
	_, err := os.Stat(BusyboxPath)
	require.NoError(tb, err, "busybox-static is needed (apt-get install busybox-static; the README's test command does it)")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root"} {
		require.NoError(tb, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	data, err := os.ReadFile(BusyboxPath)
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755))
	out, err := exec.Command(BusyboxPath, "--list").Output()
	require.NoError(tb, err)
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			require.NoError(tb, err)
		}
	}
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("root:x:0:\n"), 0o644))
	return dir
}
