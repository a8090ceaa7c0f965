//go:build linux

package security_test

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/cocoonrt/container/security"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The two halves of the start path: Prepare in the parent, Apply in the
// container's init right before execve, on the same locked thread.
func ExamplePrepare() {
	// Parent: defaults as the builder writes them into the spec.
	caps := security.DefaultCapabilities()
	profile, err := security.DefaultSeccompProfile(caps)
	if err != nil {
		panic(err)
	}
	nofile, _ := security.ParseUlimit("nofile=1024:1024")
	process := &specs.Process{
		Args:            []string{"/bin/sh"},
		User:            specs.User{UID: 1000, GID: 1000},
		Capabilities:    security.LinuxCapabilities(caps),
		Rlimits:         []specs.POSIXRlimit{nofile},
		NoNewPrivileges: true,
	}
	plan, err := security.Prepare(process, &specs.Linux{Seccomp: profile},
		security.WithLandlock(&security.Landlock{ReadOnly: []string{"/"}, ReadWrite: []string{"/tmp"}}))
	if err != nil {
		panic(err)
	}
	wire, _ := json.Marshal(plan) // sent to the init

	// Init (after pivot_root): decode, apply, exec from the same thread.
	init := func() error {
		var p security.Plan
		if err := json.Unmarshal(wire, &p); err != nil {
			return err
		}
		runtime.LockOSThread() // never unlocked: this thread becomes the workload
		if err := p.Apply(); err != nil {
			return err
		}
		return unix.Exec(process.Args[0], process.Args, process.Env)
	}
	_ = init
}

func ExampleAdjustCapabilities() {
	caps, err := security.AdjustCapabilities(security.DefaultCapabilities(), []string{"NET_BIND_SERVICE"}, []string{"ALL"})
	if err != nil {
		panic(err)
	}
	fmt.Println(caps)
	// Output: [CAP_NET_BIND_SERVICE]
}

func ExampleParseUlimit() {
	r, err := security.ParseUlimit("nofile=1024:4096")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Type, r.Soft, r.Hard)
	// Output: RLIMIT_NOFILE 1024 4096
}
