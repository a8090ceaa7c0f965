//go:build !linux

package security

import (
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var errOS = fmt.Errorf("security on %s: %w", runtime.GOOS, ErrNotSupported)

// Prepare is only implemented on Linux.
func Prepare(p *specs.Process, l *specs.Linux, opts ...Option) (*Plan, error) { return nil, errOS }

// Apply is only implemented on Linux.
func (p *Plan) Apply() error { return errOS }

// DefaultSeccompProfile is only implemented on Linux.
func DefaultSeccompProfile(bounding []string) (*specs.LinuxSeccomp, error) { return nil, errOS }

// LoadSeccompProfile is only implemented on Linux.
func LoadSeccompProfile(body []byte, bounding []string) (*specs.LinuxSeccomp, error) {
	return nil, errOS
}

// CompileSeccomp is only implemented on Linux.
func CompileSeccomp(s *specs.LinuxSeccomp) (*Filter, error) { return nil, errOS }

// AdjustCapabilities is only implemented on Linux.
func AdjustCapabilities(base, add, drop []string) ([]string, error) { return nil, errOS }

// AllCapabilities is only implemented on Linux; it returns nil elsewhere.
func AllCapabilities() []string { return nil }

// LandlockABI is 0 outside Linux.
func LandlockABI() int { return 0 }

// HostCapabilities is only implemented on Linux.
func HostCapabilities() ([]string, error) { return nil, errOS }
