//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cocoonrt/container"
)

// busyboxPath is where Debian's busybox-static puts its binary.
const busyboxPath = "/bin/busybox"

// ensureTools installs runc, crun and busybox-static when one is missing.
// apt-get update runs only when the first install fails, since fresh package
// lists are usually there and the update is the slow part.
func ensureTools(install bool, log io.Writer) error {
	var missing []string
	for _, t := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		missing = append(missing, "busybox-static")
	}
	if len(missing) == 0 {
		return nil
	}
	if !install {
		return fmt.Errorf("missing %s and -install=false (apt-get install -y runc crun busybox-static)", strings.Join(missing, ", "))
	}
	fmt.Fprintf(log, "setup: installing runc crun busybox-static (missing: %s)\n", strings.Join(missing, ", "))
	aptInstall := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "install", "-y", "runc", "crun", "busybox-static")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := aptInstall(); err != nil {
		fmt.Fprintf(log, "setup: apt-get install failed (%v), running apt-get update first\n", err)
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %w\n%s", err, tail(out, 2000))
		}
		if out, err := aptInstall(); err != nil {
			return fmt.Errorf("apt-get install -y runc crun busybox-static: %w\n%s", err, tail(out, 2000))
		}
	}
	return nil
}

// busyboxRootfs fills dir with a minimal root filesystem: a copy of the
// static busybox, a symlink per applet in /bin (true and sh among them), and
// the directories the standard mounts need.
func busyboxRootfs(dir string) error {
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(busyboxPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busyboxPath, err)
	}
	applets := strings.Fields(string(out))
	for _, need := range []string{"true", "sh"} {
		if !contains(applets, need) {
			return fmt.Errorf("%s has no %q applet", busyboxPath, need)
		}
	}
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("root:x:0:\n"), 0o644)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bundleSpec is the OCI config given to runc and crun: cocoon's own spec for
// the same container (Builder.Spec of New("/bin/true").WithRootfs(rootDir)),
// so all three runtimes are asked for the same work, now and after cocoon's
// defaults change. Three edits: the version the runtimes here speak, no
// cocoon annotations, and an absolute linux.cgroupsPath, so runc does not
// nest the cgroup under its caller's own (here: the supervisor's process_api).
func bundleSpec(rootDir, cgroupsPath string, memory int64) (*specs.Spec, error) {
	b := container.New("/bin/true").WithRootfs(rootDir)
	if memory > 0 && !optional(b, "WithMemoryLimit", memory) {
		// A cocoon without WithMemoryLimit: its documented meaning, by hand
		// (swap = limit: no swap beyond it).
		b.WithSpec(func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &memory, Swap: &memory}}
		})
	}
	s, err := b.Spec()
	if err != nil {
		return nil, fmt.Errorf("cocoon spec for the bundle: %w", err)
	}
	s.Version = "1.0.2" // runc 1.1.5 and crun 1.8.1 speak 1.0.x
	for k := range s.Annotations {
		if strings.HasPrefix(k, "cocoon.") {
			delete(s.Annotations, k)
		}
	}
	if len(s.Annotations) == 0 {
		s.Annotations = nil
	}
	s.Linux.CgroupsPath = cgroupsPath
	return s, nil
}

// specSummary names the work a spec asks for beyond namespaces and mounts:
// the report's readers must know whether seccomp and the rest were applied.
func specSummary(s *specs.Spec) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d mounts, %d masked and %d read-only paths", len(s.Mounts), len(s.Linux.MaskedPaths), len(s.Linux.ReadonlyPaths)))
	p := s.Process
	if c := p.Capabilities; c != nil {
		parts = append(parts, fmt.Sprintf("capabilities (%d bounding, %d effective)", len(c.Bounding), len(c.Effective)))
	} else {
		parts = append(parts, "all capabilities")
	}
	if p.NoNewPrivileges {
		parts = append(parts, "no_new_privs")
	}
	if sc := s.Linux.Seccomp; sc != nil {
		names := 0
		for _, r := range sc.Syscalls {
			names += len(r.Names)
		}
		parts = append(parts, fmt.Sprintf("seccomp (default %s, %d rules over %d syscall names)", sc.DefaultAction, len(sc.Syscalls), names))
	} else {
		parts = append(parts, "no seccomp")
	}
	if len(p.Rlimits) > 0 {
		parts = append(parts, fmt.Sprintf("%d rlimits", len(p.Rlimits)))
	}
	if s.Linux.Resources != nil {
		parts = append(parts, "resource limits")
	}
	return strings.Join(parts, ", ")
}

// writeBundle writes dir/config.json. It runs before each timed start (the
// cgroup path is per start), never inside the timed span.
func writeBundle(dir, rootDir, cgroupsPath string, memory int64) error {
	s, err := bundleSpec(rootDir, cgroupsPath, memory)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
}

// buildCocoonCLI builds examples/cocoon into dir, from the module that holds
// the current directory, so the whole-process row measures this checkout.
func buildCocoonCLI(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (run from the cocoon checkout, or pass -cocoon-bin)", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the cocoon checkout, or pass -cocoon-bin")
	}
	bin := filepath.Join(dir, "cocoon")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cocoonrt/container/examples/cocoon")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build examples/cocoon: %w\n%s", err, tail(out, 2000))
	}
	return bin, nil
}

// cgroupMode names the host's cgroup layout, as runtimes see it.
func cgroupMode() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "unknown"
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if err := unix.Statfs("/sys/fs/cgroup/unified", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "hybrid"
	}
	return "v1"
}

// hostInfo is the header of the report: enough to tell two runs apart.
func hostInfo(runc, crun string) []string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	mode := cgroupMode()
	if mode == "hybrid" {
		mode += " (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
	}
	cpu := firstMatch("/proc/cpuinfo", "model name")
	lines := []string{
		fmt.Sprintf("machine: Linux %s %s, nproc %d (%s), cgroups %s",
			unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), runtime.NumCPU(), cpu, mode),
		fmt.Sprintf("load:    %s (1, 5, 15 min) at start", loadavg()),
		fmt.Sprintf("go:      %s, cocoon %s", runtime.Version(), revision()),
		"runc:    " + versionLine(runc),
		"crun:    " + versionLine(crun),
		"busybox: " + versionLine(busyboxPath),
	}
	return lines
}

func versionLine(bin string) string {
	args := []string{"--version"}
	if bin == busyboxPath {
		args = nil // busybox prints its version as the first line of its help
	}
	out, _ := exec.Command(bin, args...).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return bin + " (no version output)"
	}
	v := lines[0]
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "spec:") {
			v += ", " + l
		}
	}
	return v + " (" + bin + ")"
}

func firstMatch(file, key string) string {
	data, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown cpu"
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// revision is the commit the benchmark was built from: from the build info
// when the toolchain stamped it, else from git (go run does not stamp it).
func revision() string {
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		out, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			return "(revision unknown)"
		}
		rev = strings.TrimSpace(string(out))
		st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
		dirty = len(bytes.TrimSpace(st)) > 0
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += " (with uncommitted changes)"
	}
	return rev
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
