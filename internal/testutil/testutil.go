package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips a privileged test when not running as root, and fails it
// when CI=true: CI runs as root, so a skip there would hide a missing check.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("this test needs root and CI=true: CI must run as root")
	}
	tb.Skip("needs root (privileged kernel features); run the tests as root")
}

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }
