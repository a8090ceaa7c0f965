// Package testutil holds helpers for cocoon's own tests: the root switch
// (privileged tests run by default as root, skip with a reason otherwise, and
// fail instead of skipping under CI=true) and leak checks for the resources a
// container owns (fds, mounts, child processes, goroutines).
package testutil
