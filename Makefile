# make demo   a container with full isolation on the embedded default rootfs
# make test   everything CI runs: deps, static checks, all tests as root
# make bench  container start time against runc and crun
.PHONY: demo test check unit vmtest bench deps

demo:
	go run ./examples/cocoon run --hostname demo -- sh -c 'echo "hello from $$(hostname), PID $$$$"; head -1 /proc/self/mounts; ls /dev; ls /sys/class/net'

deps:
	./scripts/install-deps.sh

check:
	./scripts/check.sh

unit:
	CGO_ENABLED=0 go test -count=1 -timeout 20m ./...

test: deps check unit

bench: deps
	go run ./examples/bench
