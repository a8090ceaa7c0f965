// Package guest is the contract between the vmtest runner and the PID 1 it
// builds for the guest: where the config lies, which serial port carries
// the test output, and the marker line that ends it.
package guest

const (
	// ConfigPath is the JSON Config inside the initramfs.
	ConfigPath = "/vmtest/config.json"
	// OutputPort carries the test's output and the marker line; the kernel
	// log goes to the first port (ttyS0), so neither garbles the other.
	OutputPort = "/dev/ttyS1"
	// Marker starts the last line on OutputPort; the status follows it.
	Marker = "COCOON-VMTEST-EXIT: "
	// StartMarker is the first line on OutputPort, written just before the
	// test starts: the host measures boot time with it and drops it.
	StartMarker = "COCOON-VMTEST-START"
	// StatusTimeout follows Marker when the guest-side timeout fired.
	StatusTimeout = "timeout"
	// StatusFailed follows Marker when the guest could not run the test.
	StatusFailed = "setup-failed"
)

// Config tells the guest what to run.
type Config struct {
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`
	Modules []string `json:"modules"` // .ko paths, dependencies first
	// OnDemand is what the guest's /sbin/modprobe (the kernel's
	// request_module helper) can load: module name -> .ko paths,
	// dependencies first.
	OnDemand map[string][]string `json:"onDemand,omitempty"`
	// Aliases map the names the kernel asks for ("nft-expr-fib",
	// "net-pf-16-proto-12", glob patterns from each module's .modinfo) to
	// module names in OnDemand.
	Aliases        [][2]string `json:"aliases,omitempty"`
	TimeoutSeconds int         `json:"timeoutSeconds"`
}
