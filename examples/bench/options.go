package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

type options struct {
	n           int
	warmup      int
	concurrent  int
	burstRounds int
	rssRuns     int
	order       string
	seed        int64
	memory      int64 // bytes; 0: no memory rows
	install     bool
	cocoonBin   string
	csv         string
}

const usage = `usage: go run ./examples/bench [flags]

Start-time benchmark of cocoon next to runc and crun (needs root). Every row
starts /bin/true (static busybox) with pid, network, ipc, uts, mount and cgroup
namespaces; rows are interleaved round by round. See the package doc
(go doc ./examples/bench) for what each row measures.

`

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 200, "measured starts per row (rounds)")
	fs.IntVar(&o.warmup, "warmup", 5, "warm-up rounds, run first and not counted")
	fs.IntVar(&o.concurrent, "concurrent", 50, "containers started at once in the concurrent rows (0: no concurrent rows)")
	fs.IntVar(&o.burstRounds, "burst-rounds", 3, "how many times each concurrent row runs (the median total is shown)")
	fs.IntVar(&o.rssRuns, "rss-runs", 3, "extra untimed starts per whole-process row to measure peak RSS")
	fs.StringVar(&o.order, "order", "shuffle", "order of the rows within a round: shuffle (new order each round) or fixed")
	fs.Int64Var(&o.seed, "seed", 0, "seed of the shuffle (0: from the clock; the seed used is printed)")
	mem := fs.String("memory", "", "add rows with a memory limit (e.g. 64m) for runc, crun and, once the builder has WithMemoryLimit, cocoon")
	fs.BoolVar(&o.install, "install", true, "apt-get install runc, crun and busybox-static when missing")
	fs.StringVar(&o.cocoonBin, "cocoon-bin", "", "prebuilt examples/cocoon binary (default: go build it into the temporary directory)")
	fs.StringVar(&o.csv, "csv", "", "write every sample to this CSV file (kind, row, round, value, error; value in ns, or KiB for peak RSS)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.n < 1:
		return nil, errors.New("-n: want at least 1")
	case o.warmup < 0:
		return nil, errors.New("-warmup: want 0 or more")
	case o.concurrent < 0:
		return nil, errors.New("-concurrent: want 0 or more")
	case o.rssRuns < 1:
		return nil, errors.New("-rss-runs: want at least 1")
	case o.burstRounds < 1:
		return nil, errors.New("-burst-rounds: want at least 1")
	case o.order != "shuffle" && o.order != "fixed":
		return nil, fmt.Errorf("-order %q: want shuffle or fixed", o.order)
	}
	if *mem != "" {
		n, err := parseSize(*mem)
		if err != nil {
			return nil, fmt.Errorf("-memory: %w", err)
		}
		if n < 4<<20 {
			return nil, fmt.Errorf("-memory %s: want at least 4m (busybox true must fit)", *mem)
		}
		o.memory = n
	}
	return o, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, num = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, num = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, num = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional k, m or g suffix", s)
	}
	return n * mult, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, ok := role(args); ok {
		return code
	}
	o, err := parseFlags(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	return bench(o, stdout, stderr)
}
