//go:build !linux

// Command guestinit is PID 1 of a vmtest guest; it exists only on Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "guestinit: Linux only")
	os.Exit(2)
}
