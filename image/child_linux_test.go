//go:build linux

package image

import (
	"fmt"
	"os"
)

// childEnv names the role of a re-executed test binary: tests that change
// process state (here: the mount table) run in such a child.
const childEnv = "COCOON_IMAGE_TEST_CHILD"

func runChild(role string) int {
	switch role {
	case "overlay":
		return overlayChild()
	case "run":
		return runInImageChild()
	case "mutate":
		return mutateChild()
	case "userns":
		return usernsChild()
	case "pull":
		return pullChild()
	}
	fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
	return 2
}
