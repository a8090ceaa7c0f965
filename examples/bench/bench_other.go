//go:build !linux

package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/cocoonrt/container"
)

// bench reports that containers, and so this benchmark, exist only on Linux.
func bench(_ *options, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "bench: %v\n", fmt.Errorf("start-time benchmark on %s: %w", runtime.GOOS, container.ErrNotSupported))
	return 2
}

// role: there are no helper processes where there are no containers.
func role([]string) (int, bool) { return 0, false }
