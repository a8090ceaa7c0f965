//go:build !linux

package namespace

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckJoinable reports ErrNotSupported: namespaces exist only on Linux.
func CheckJoinable(nss []specs.LinuxNamespace) error {
	if len(nss) == 0 {
		return nil
	}
	return fmt.Errorf("namespaces: %w on this OS", ErrNotSupported)
}

// Supported reports false: namespaces exist only on Linux.
func Supported(t specs.LinuxNamespaceType) bool { return false }
