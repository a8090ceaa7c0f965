package testutil

import "runtime"

func hostArch() string { return runtime.GOARCH }
