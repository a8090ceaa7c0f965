package container_test

import specs "github.com/opencontainers/runtime-spec/specs-go"

func specMount(dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}
}
