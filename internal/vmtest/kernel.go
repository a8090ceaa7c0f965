package vmtest

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The guest kernel: Debian's cloud kernel, pinned to one build so every run
// boots the same thing. Debian's mirror serves only the current builds;
// when this one disappears, pick the one `apt-cache policy
// 'linux-image-6.1.*-cloud-amd64'` lists and change both constants.
const (
	KernelABI     = "6.1.0-50"
	KernelVersion = "6.1.176-1"
)

// DefaultModules are loaded into the guest (with their dependencies): what
// containers need that the cloud kernel builds as modules.
var DefaultModules = []string{"overlay", "veth", "bridge", "br_netfilter", "nf_tables", "nft_chain_nat", "nft_masq", "nft_nat", "nft_ct", "nf_conntrack"}

type kernel struct {
	vmlinuz string
	modDir  string // lib/modules/<release>
}

// DefaultCacheDir is $XDG_CACHE_HOME/cocoon-vm, or ~/.cache/cocoon-vm.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "cocoon-vm")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "cocoon-vm")
	}
	return filepath.Join(os.TempDir(), "cocoon-vm")
}

// ensureKernel downloads and unpacks the pinned kernel package once per
// cache dir; the package is never installed on the host.
func ensureKernel(ctx context.Context, cacheDir string, logf func(string, ...any)) (*kernel, error) {
	release := KernelABI + "-cloud-amd64"
	pkg := "linux-image-" + release
	dir := filepath.Join(cacheDir, pkg+"_"+KernelVersion)
	k := &kernel{
		vmlinuz: filepath.Join(dir, "boot", "vmlinuz-"+release),
		modDir:  filepath.Join(dir, "lib", "modules", release),
	}
	if _, err := os.Stat(k.vmlinuz); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logf("vmtest: downloading %s=%s into %s", pkg, KernelVersion, cacheDir)
	// apt-get download writes into the working directory; as root it warns
	// that the _apt user cannot write there, which is harmless.
	get := exec.CommandContext(ctx, "apt-get", "download", "-q", pkg+"="+KernelVersion)
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apt-get download %s=%s: %w\n%s\n(is apt-get update done? has the mirror dropped this build? pin the one `apt-cache policy %s` offers in internal/vmtest/kernel.go)",
			pkg, KernelVersion, err, bytes.TrimSpace(out), pkg)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	unpacked := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], unpacked).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg-deb -x %s: %w\n%s", debs[0], err, out)
	}
	if err := os.Rename(unpacked, dir); err != nil && !os.IsExist(err) {
		return nil, err
	}
	if _, err := os.Stat(k.vmlinuz); err != nil {
		return nil, fmt.Errorf("kernel package %s has no %s: %w", pkg, k.vmlinuz, err)
	}
	return k, nil
}

// resolveModules returns the .ko files for names and everything they depend
// on, dependencies first. The package ships no modules.dep (depmod runs at
// install time), so the dependencies come from each module's .modinfo.
func resolveModules(modDir string, names []string) ([]string, error) {
	index := map[string]string{}
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			index[modName(strings.TrimSuffix(filepath.Base(p), ".ko"))] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	builtin, _ := os.ReadFile(filepath.Join(modDir, "modules.builtin"))
	var order []string
	seen := map[string]bool{}
	var visit func(name, by string) error
	visit = func(name, by string) error {
		name = modName(name)
		if seen[name] {
			return nil
		}
		seen[name] = true
		p, ok := index[name]
		if !ok {
			if bytes.Contains(builtin, []byte("/"+strings.ReplaceAll(name, "_", "")+".ko")) || bytes.Contains(builtin, []byte("/"+name+".ko")) {
				return nil
			}
			return fmt.Errorf("module %s (needed by %s) is neither in %s nor built in", name, by, modDir)
		}
		deps, err := moduleDeps(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n, "the test"); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// onDemand indexes every module below the subtrees of modDir for the
// guest's modprobe: each with its dependencies, and the aliases the kernel
// asks for. It returns the union of .ko files to ship.
func onDemand(modDir string, subtrees []string) (table map[string][]string, aliases [][2]string, files []string, err error) {
	table = map[string][]string{}
	seen := map[string]bool{}
	for _, sub := range subtrees {
		err = filepath.WalkDir(filepath.Join(modDir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, ".ko") {
				return err
			}
			name := modName(strings.TrimSuffix(filepath.Base(p), ".ko"))
			order, err := resolveModules(modDir, []string{name})
			if err != nil {
				return err
			}
			table[name] = order
			for _, f := range order {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
			as, err := moduleInfo(p, "alias")
			for _, a := range as {
				aliases = append(aliases, [2]string{a, name})
			}
			return err
		})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return table, aliases, files, nil
}

func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

func moduleDeps(ko string) ([]string, error) {
	deps, err := moduleInfo(ko, "depends")
	if len(deps) == 1 {
		deps = strings.Split(deps[0], ",")
		if deps[0] == "" {
			deps = nil
		}
	}
	return deps, err
}

// moduleInfo returns the values of key in a module's .modinfo section.
func moduleInfo(ko, key string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", ko, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: .modinfo: %w", ko, err)
	}
	var vals []string
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(key+"=")); ok {
			vals = append(vals, string(v))
		}
	}
	return vals, nil
}
