//go:build linux

package container_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"

	"github.com/cocoonrt/container/internal/testutil"
)

// statusFields returns the named fields of the workload's /proc/self/status.
func statusFields(t *testing.T, out string, names ...string) map[string]string {
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if k == n {
				got[n] = strings.TrimSpace(v)
			}
		}
	}
	return got
}

func TestDefaultsAreDockersLockdown(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", `cat /proc/self/status
for probe in 'unshare -U true' 'mount -t tmpfs none /mnt' 'hostname other' 'mknod /tmp/disk b 8 0'; do
  if sh -c "$probe" 2>/dev/null; then echo "ALLOWED: $probe"; else echo "denied: $probe"; fi
done
echo a b c | tr ' ' '\n' | sort -r | head -1`)
	out := output(t, b)
	f := statusFields(t, out, "Seccomp", "NoNewPrivs", "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")
	assert.Equal(t, "2", f["Seccomp"])
	assert.Equal(t, "1", f["NoNewPrivs"])
	// Docker's 14 capabilities less CAP_MKNOD (bit 27): without a device
	// policy it would let the container's root open the host's disks.
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		assert.Equal(t, "00000000a00425fb", f[k], k)
	}
	assert.Equal(t, "0000000000000000", f["CapInh"])
	assert.NotContains(t, out, "ALLOWED")
	assert.True(t, strings.HasSuffix(out, "c\n"), "an ordinary pipeline still works: %q", out)
}

func TestUserSwitchLeavesNoCapabilities(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "id -u; id -g; grep CapEff /proc/self/status")
	out := output(t, b.WithUser(1000, 1000))
	assert.Equal(t, "1000\n1000\nCapEff:\t0000000000000000\n", out)
}

func TestRlimitIsExactlyWhatWasAsked(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", "ulimit -Sn; ulimit -Hn")
	assert.Equal(t, "1024\n1024\n", output(t, b.WithRlimit("nofile", 1024, 1024)))
}

func TestCustomSeccompProfileErrno(t *testing.T) {
	testutil.RequireRoot(t)
	errno := uint(123) // ENOMEDIUM
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno},
		},
	}
	b, _ := newT(t, "sh", "-c", "mkdir /tmp/x 2>&1; true")
	out := output(t, b.WithSeccomp(profile))
	assert.Contains(t, out, "No medium found")
}

func TestCapDropAndPrivileged(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "grep", "CapEff", "/proc/self/status")
	assert.Equal(t, "CapEff:\t0000000000000400\n", output(t, b.WithCapDrop("ALL").WithCapAdd("NET_BIND_SERVICE")))

	b, _ = newT(t, "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mount -t tmpfs none /mnt && echo mounted")
	out := output(t, b.WithPrivileged())
	assert.Equal(t, "NoNewPrivs:\t0\nSeccomp:\t0\nmounted\n", out)
}

func TestLandlockConfinesWrites(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := newT(t, "sh", "-c", `
echo ok > /tmp/allowed && echo tmp=written
if echo no > /etc/denied 2>/dev/null; then echo etc=WRITTEN; else echo etc=denied; fi
cat /etc/hostname >/dev/null && echo read=ok`)
	out := output(t, b.WithHostname("ll").WithLandlock([]string{"/"}, []string{"/tmp", "/dev"}, true))
	assert.Equal(t, "tmp=written\netc=denied\nread=ok\n", out)
}

func TestSecurityErrorsBeforeStart(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckLeaks(t)
	b, state := newT(t, "true")
	_, err := b.WithCapAdd("CAP_NOT_A_THING").Run(context.Background())
	assert.ErrorContains(t, err, "CAP_NOT_A_THING")
	b, _ = newT(t, "true")
	_, err = b.WithSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActNotify}).Run(context.Background())
	assert.Error(t, err)
	ents, _ := os.ReadDir(filepath.Join(state, "containers"))
	assert.Empty(t, ents)
}
