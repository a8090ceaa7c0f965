//go:build linux

package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container/internal/testutil"
)

// Both protections of the caller's binary refuse writes and still execute.
func TestProtectedBinaryRefusesWrites(t *testing.T) {
	testutil.RequireRoot(t)
	for name, open := range map[string]func() (int, error){"detached read-only mount": detachedReadonlyExe, "sealed memfd": sealedCopyExe} {
		t.Run(name, func(t *testing.T) {
			fd, err := open()
			require.NoError(t, err)
			defer unix.Close(fd)
			path := fmt.Sprintf("/proc/self/fd/%d", fd)
			// The read-only mount refuses the open; the sealed memfd the write.
			if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				_, werr := f.Write([]byte("pwned"))
				f.Close()
				assert.ErrorIs(t, werr, unix.EPERM, "wrote to the protected binary")
			} else {
				// EROFS, or ETXTBSY first when the file is a running binary.
				assert.True(t, errors.Is(err, unix.EROFS) || errors.Is(err, unix.ETXTBSY), "%v", err)
			}
			out, err := exec.Command(path, "-test.run=^$").CombinedOutput()
			require.NoError(t, err, "%s", out)
		})
	}
}
