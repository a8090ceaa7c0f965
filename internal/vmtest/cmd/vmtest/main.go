// Command vmtest runs a package's tests inside a QEMU VM with a pure cgroup
// v2 Linux kernel, for the privileged tests a hybrid-cgroup host cannot
// exercise:
//
//	go run ./internal/vmtest/cmd/vmtest -pkg ./cgroup [-run REGEX] [-timeout 10m] [-v] [-- -test.flags...]
//
// It exits with the test binary's status; 124 when the tests ran past the
// timeout (after a goroutine dump), 125 when the VM could not run them
// (a build error, no kernel, no boot), 2 for bad usage. CI=true and -env
// values are passed to the tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cocoonrt/container/internal/vmtest"
)

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	var (
		pkg     = flag.String("pkg", "", "package to test (required), e.g. ./cgroup")
		run     = flag.String("run", "", "passed as -test.run")
		timeout = flag.Duration("timeout", 10*time.Minute, "limit for the tests in the guest (also their -test.timeout)")
		verbose = flag.Bool("v", false, "passed as -test.v")
		cache   = flag.String("cache", vmtest.DefaultCacheDir(), "where the kernel package is kept")
		mem     = flag.Int("mem", 1024, "guest memory in MiB")
		cpus    = flag.Int("smp", 2, "guest CPUs")
		klog    = flag.String("kernel-log", "", "write the guest's kernel log here (default: shown on failure only)")
		quiet   = flag.Bool("q", false, "no progress messages")
		env     multi
	)
	flag.Var(&env, "env", "KEY=VALUE for the tests' environment (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: vmtest -pkg PKG [flags] [-- test binary flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *pkg == "" {
		flag.Usage()
		os.Exit(2)
	}
	args := []string{"-test.timeout=" + timeout.String()}
	if *run != "" {
		args = append(args, "-test.run="+*run)
	}
	if *verbose {
		args = append(args, "-test.v")
	}
	args = append(args, flag.Args()...)
	if v, ok := os.LookupEnv("CI"); ok {
		env = append([]string{"CI=" + v}, env...)
	}
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	if *quiet {
		logf = nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := vmtest.Run(ctx, vmtest.Options{
		Package: *pkg, TestArgs: args, Env: env, Timeout: *timeout,
		CacheDir: *cache, MemoryMiB: *mem, CPUs: *cpus, KernelLog: *klog, Logf: logf,
	})
	switch {
	case err != nil && res != nil && res.TimedOut:
		fmt.Fprintf(os.Stderr, "vmtest: %v\n", err)
		os.Exit(124)
	case err != nil:
		fmt.Fprintf(os.Stderr, "vmtest: %v\n", err)
		if errors.Is(err, vmtest.ErrGuest) {
			fmt.Fprintln(os.Stderr, "vmtest: the tests did not run to the end in the VM")
		}
		os.Exit(125)
	case res.TimedOut:
		fmt.Fprintf(os.Stderr, "vmtest: %s ran past %v in the VM (goroutine dump above)\n", *pkg, *timeout)
		os.Exit(124)
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "vmtest: %s exited %d (boot %v, total %v)\n", *pkg, res.ExitCode, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	}
	os.Exit(res.ExitCode)
}
