//go:build !linux

package container

import (
	"context"
	"fmt"
	"os"
	"runtime"
)

// Init returns at once: containers exist only on Linux.
func Init() {}

// Container is a started container (Linux only).
type Container struct{}

// Start reports ErrNotSupported: containers exist only on Linux.
func (b *Builder) Start(ctx context.Context) (*Container, error) {
	return nil, fmt.Errorf("containers on %s: %w", runtime.GOOS, ErrNotSupported)
}

// Run reports ErrNotSupported: containers exist only on Linux.
func (b *Builder) Run(ctx context.Context) (*Result, error) {
	_, err := b.Start(ctx)
	return nil, err
}

// DefaultStateDir is where containers would keep their state.
func DefaultStateDir() string { return os.TempDir() }
