# make demo   a container with full isolation on the embedded default rootfs
# make test   everything CI runs: deps, static checks, all tests as root
# make bench  container start time against runc and crun
.PHONY: demo test check unit vmtest bench deps

# The root package's tests that run in the pure cgroup v2 VM (busybox only:
# the guest has no python3, no network device, no disk).
VM_ROOT_TESTS = TestEachNamespaceIsNew|TestWorkloadIsPID1|TestExitCodeAndSignal|TestSignalReachesWorkload|TestInitReapsOrphans|TestContextTimeout|TestCancelKills|TestStdioRoundTrips|TestMemoryLimit|TestPidsLimit|TestContainerIsPlaced|TestCPULimit|TestPause|TestNoCgroupLeft|TestImpossibleLimit|TestKillReaches|TestUserNamespace|TestMultiRange|TestTimeNamespace|TestContainerCannotWrite|TestDefaultRootfs|TestLayersWithWhiteout|TestPlainRootfs|TestReadonlyRoot|TestHostileRootfs|TestTwoHundredRuns|TestDefaultsAreDockers|TestUserSwitch|TestRlimit|TestCustomSeccomp|TestLandlock

demo:
	go run ./examples/cocoon run --hostname demo -- sh -c 'echo "hello from $$(hostname), PID $$$$"; head -1 /proc/self/mounts; ls /dev; ls /sys/class/net'

deps:
	./scripts/install-deps.sh

check:
	./scripts/check.sh

unit:
	CGO_ENABLED=0 go test -count=1 -timeout 20m ./...

# Pure cgroup v2: the cgroup package and the containers' cgroup, rootfs and
# security paths in a QEMU VM with Debian's cloud kernel (see internal/vmtest).
vmtest:
	go run ./internal/vmtest/cmd/vmtest -pkg ./cgroup -timeout 10m
	go run ./internal/vmtest/cmd/vmtest -pkg . -run '$(VM_ROOT_TESTS)' -timeout 15m

test: deps check unit vmtest

bench: deps
	go run ./examples/bench
