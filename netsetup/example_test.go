package netsetup_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"

	"github.com/cocoonrt/container/netsetup"
)

// The parent side of `docker run -p 8080:80`: the container's init (PID
// 4242 here) was started with CLONE_NEWNET and waits for its network.
func ExampleAttach() {
	host, err := netsetup.OpenHost("") // the caller's own network namespace
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()

	pm, _ := netsetup.ParsePortMapping("8080:80")
	cfg := netsetup.Config{
		Mode:   netsetup.ModeBridge,
		Host:   host,
		Subnet: netip.MustParsePrefix("10.77.0.0/16"),
		Ports:  []netsetup.PortMapping{pm},
	}
	a, err := netsetup.Attach(context.Background(), cfg, "/proc/4242/ns/net", "web")
	if err != nil {
		log.Fatal(err) // errors.Is(err, netsetup.ErrPortInUse) when 8080 is taken
	}
	defer a.Release() // after the container's Wait
	fmt.Println("container address:", a.Address())
	for path, content := range a.Files() {
		_, _ = path, content // write into the container's root filesystem
	}
}

func ExampleParsePortMapping() {
	for _, s := range []string{"8080:80", "127.0.0.1:5353:53/udp"} {
		pm, err := netsetup.ParsePortMapping(s)
		fmt.Println(pm.HostIP, pm.HostPort, pm.ContainerPort, pm.Protocol, err)
	}
	// Output:
	// invalid IP 8080 80 tcp <nil>
	// 127.0.0.1 5353 53 udp <nil>
}

func ExampleParseMode() {
	mode, ref, _ := netsetup.ParseMode("container:db")
	fmt.Println(mode, ref)
	// Output: container db
}
