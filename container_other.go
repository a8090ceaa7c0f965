//go:build !linux

package container

import (
	"context"
	"fmt"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Init returns at once: containers exist only on Linux.
func Init() {}

// Container is a started container (Linux only).
type Container struct{}

// Wait reports ErrNotSupported.
func (c *Container) Wait() (*Result, error) { return nil, ErrNotSupported }

// Signal reports ErrNotSupported.
func (c *Container) Signal(os.Signal) error { return ErrNotSupported }

// Kill reports ErrNotSupported.
func (c *Container) Kill() error { return ErrNotSupported }

// Delete reports ErrNotSupported.
func (c *Container) Delete() error { return ErrNotSupported }

// Close reports ErrNotSupported.
func (c *Container) Close() error { return ErrNotSupported }

// Pid reports -1: no container runs on this OS.
func (c *Container) Pid() int { return -1 }

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

// Record describes a running container (Linux only).
type Record struct {
	ID  string
	Pid int
}

// Lookup reports ErrNotSupported: containers exist only on Linux.
func Lookup(stateDir, id string) (*Record, error) { return nil, ErrNotSupported }

// NamespacePath returns "": no namespaces on this OS.
func (c *Container) NamespacePath(t specs.LinuxNamespaceType) string { return "" }
