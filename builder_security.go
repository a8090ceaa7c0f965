package container

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cocoonrt/container/security"
)

// Annotations for security settings the runtime spec has no field for.
const (
	// AnnotationSeccomp "default" stands for Docker's default seccomp
	// profile, resolved at start for the host and the bounding set (Spec
	// writes it out into linux.seccomp so it can be read).
	AnnotationSeccomp = "cocoon.seccomp"
	// AnnotationLandlock is a JSON security.Landlock policy.
	AnnotationLandlock = "cocoon.landlock"
)

// SeccompDefault is the value of AnnotationSeccomp for Docker's default profile.
const SeccompDefault = "default"

// WithCapabilities sets the workload's capabilities (bounding, effective,
// permitted; names like "CAP_NET_ADMIN" or "NET_ADMIN"). The default is
// Docker's 14.
func (b *Builder) WithCapabilities(names ...string) *Builder {
	caps, err := security.AdjustCapabilities(nil, names, nil)
	if err != nil {
		return b.fail("capabilities: %w", err)
	}
	b.process().Capabilities = security.LinuxCapabilities(caps)
	return b
}

// WithCapAdd and WithCapDrop adjust the capability set as docker run's
// --cap-add/--cap-drop do ("ALL" allowed).
func (b *Builder) WithCapAdd(names ...string) *Builder { return b.adjustCaps(names, nil) }

// WithCapDrop removes capabilities (see WithCapAdd).
func (b *Builder) WithCapDrop(names ...string) *Builder { return b.adjustCaps(nil, names) }

func (b *Builder) adjustCaps(add, drop []string) *Builder {
	p := b.process()
	var base []string
	if p.Capabilities != nil {
		base = p.Capabilities.Bounding
	}
	caps, err := security.AdjustCapabilities(base, add, drop)
	if err != nil {
		return b.fail("capabilities: %w", err)
	}
	p.Capabilities = security.LinuxCapabilities(caps)
	return b
}

// WithSeccomp sets the seccomp profile; nil runs unconfined.
func (b *Builder) WithSeccomp(profile *specs.LinuxSeccomp) *Builder {
	delete(b.spec.Annotations, AnnotationSeccomp)
	b.linux().Seccomp = profile
	return b
}

// WithDefaultSeccomp uses Docker's default seccomp profile (the default).
func (b *Builder) WithDefaultSeccomp() *Builder {
	b.linux().Seccomp = nil
	b.spec.Annotations[AnnotationSeccomp] = SeccompDefault
	return b
}

// WithNoNewPrivileges sets no_new_privs (on by default): setuid binaries and
// file capabilities then grant nothing.
func (b *Builder) WithNoNewPrivileges(on bool) *Builder {
	b.process().NoNewPrivileges = on
	return b
}

// WithRlimit sets a resource limit ("RLIMIT_NOFILE" or "nofile"); the
// workload sees exactly these values.
func (b *Builder) WithRlimit(name string, soft, hard uint64) *Builder {
	r, err := security.ParseUlimit(fmt.Sprintf("%s=%d:%d", trimRlimit(name), soft, hard))
	if err != nil {
		return b.fail("rlimit: %w", err)
	}
	p := b.process()
	p.Rlimits = slices.DeleteFunc(p.Rlimits, func(x specs.POSIXRlimit) bool { return x.Type == r.Type })
	p.Rlimits = append(p.Rlimits, r)
	return b
}

func trimRlimit(name string) string {
	if len(name) > 7 && (name[:7] == "RLIMIT_" || name[:7] == "rlimit_") {
		return name[7:]
	}
	return name
}

// WithLandlock restricts the workload's filesystem access with Landlock:
// read-only and read-write path sets, everything else denied. With required,
// a kernel without Landlock is an error wrapping ErrNotSupported; otherwise
// the policy is skipped there.
func (b *Builder) WithLandlock(readOnly, readWrite []string, required bool) *Builder {
	for _, p := range append(slices.Clone(readOnly), readWrite...) {
		if !filepath.IsAbs(p) {
			return b.fail("landlock path %q: must be absolute", p)
		}
	}
	raw, _ := json.Marshal(security.Landlock{ReadOnly: readOnly, ReadWrite: readWrite, Required: required})
	b.spec.Annotations[AnnotationLandlock] = string(raw)
	return b
}

// WithPrivileged turns the security defaults off, like docker run
// --privileged: every capability, no seccomp, no no_new_privs, no masked or
// read-only paths. A privileged container's root can take over the host
// (load modules, mount the host's disks): use it only for trusted workloads.
func (b *Builder) WithPrivileged() *Builder {
	// Every capability this process may pass on: its own bounding set.
	caps, err := security.HostCapabilities()
	if err != nil {
		return b.fail("privileged: %w", err)
	}
	b.process().Capabilities = security.LinuxCapabilities(caps)
	b.WithSeccomp(nil).WithNoNewPrivileges(false)
	l := b.linux()
	l.MaskedPaths, l.ReadonlyPaths = nil, nil
	return b
}

func landlockPolicy(s *specs.Spec) (*security.Landlock, error) {
	raw := s.Annotations[AnnotationLandlock]
	if raw == "" {
		return nil, nil
	}
	var l security.Landlock
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationLandlock, err)
	}
	return &l, nil
}
