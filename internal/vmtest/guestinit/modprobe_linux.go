//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/cocoonrt/container/internal/vmtest/guest"
)

// modprobe is what the kernel runs (as /sbin/modprobe -q -- NAME) when
// something needs a module that is not loaded: an nftables expression, a
// netlink family. The guest has no kmod, so init answers from the table
// the host built.
func modprobe(args []string) int {
	var name string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			name = a
		}
	}
	b, err := os.ReadFile(guest.ConfigPath)
	if err != nil {
		return 1
	}
	var cfg guest.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return 1
	}
	mod := strings.ReplaceAll(name, "-", "_")
	if _, ok := cfg.OnDemand[mod]; !ok {
		mod = ""
		for _, a := range cfg.Aliases {
			if ok, _ := path.Match(a[0], name); ok {
				mod = a[1]
				break
			}
		}
	}
	if mod == "" {
		return 1
	}
	for _, ko := range cfg.OnDemand[mod] {
		if err := loadModule(ko); err != nil {
			fmt.Fprintf(os.Stderr, "modprobe %s: %v\n", name, err)
			return 1
		}
	}
	return 0
}
