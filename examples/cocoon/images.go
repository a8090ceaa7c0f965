package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cocoonrt/container/image"
)

func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", image.DirFromEnv(), "image store directory (default $COCOON_STORE or /var/lib/cocoon)")
}

// imageCommand is what the image commands share: their flags with --store,
// the usage line, and the opening of the store.
type imageCommand struct {
	fs     *flag.FlagSet
	store  *string
	usage  string
	stderr io.Writer
}

func newImageCommand(name, usage string, stderr io.Writer) *imageCommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &imageCommand{fs: fs, store: storeFlag(fs), usage: usage, stderr: stderr}
}

// open parses args, checks them with ok (nil: any), and opens the store. A
// nil store means the command ends with the status returned.
func (c *imageCommand) open(args []string, ok func() bool) (*image.Store, int) {
	if err := c.fs.Parse(args); err != nil || (ok != nil && !ok()) {
		fmt.Fprintln(c.stderr, "usage: "+c.usage)
		return nil, 125
	}
	s, err := image.Open(*c.store)
	if err != nil {
		return nil, fail(c.stderr, err)
	}
	return s, 0
}

// pull: cocoon pull [--platform os/arch] [--store DIR] REF
func pullCmd(args []string, stdout, stderr io.Writer) int {
	c := newImageCommand("cocoon pull", "cocoon pull [--platform os/arch] [--store DIR] REF", stderr)
	platform := c.fs.String("platform", "", "platform to pull from a multi-arch image, e.g. linux/arm64 (default: this host's)")
	s, code := c.open(args, func() bool { return c.fs.NArg() == 1 })
	if s == nil {
		return code
	}
	p := newProgress(stdout)
	img, err := s.Pull(context.Background(), c.fs.Arg(0), image.PullOptions{Platform: *platform, Progress: p.event})
	p.finish()
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "%s: %s\n", img.Ref, img.Digest)
	return 0
}

// pullImage gets the image for `run --image`: from the store when there,
// pulled otherwise, with progress on stderr.
func pullImage(store, ref string, stderr io.Writer) (*image.Store, *image.Image, error) {
	s, err := image.Open(store)
	if err != nil {
		return nil, nil, err
	}
	p := newProgress(stderr)
	img, err := s.Pull(context.Background(), ref, image.PullOptions{Policy: image.PullIfMissing, Progress: p.event})
	p.finish()
	return s, img, err
}

// load: cocoon load -i FILE [--store DIR] [REF]
func loadCmd(args []string, stdout, stderr io.Writer) int {
	c := newImageCommand("cocoon load", "cocoon load -i FILE|DIR [--store DIR] [REF]", stderr)
	in := c.fs.String("i", "", "a docker save or OCI archive tarball, or an OCI layout directory")
	s, code := c.open(args, func() bool { return *in != "" && c.fs.NArg() <= 1 })
	if s == nil {
		return code
	}
	var imgs []*image.Image
	var err error
	if st, serr := os.Stat(*in); serr == nil && st.IsDir() {
		imgs, err = s.ImportLayout(context.Background(), *in, c.fs.Arg(0), image.ImportOptions{})
	} else {
		imgs, err = s.Load(context.Background(), *in, c.fs.Arg(0), image.ImportOptions{})
	}
	if err != nil {
		return fail(stderr, err)
	}
	for _, img := range imgs {
		fmt.Fprintf(stdout, "loaded %s (%s)\n", img.Ref, img.ID())
	}
	return 0
}

// images: cocoon images [--store DIR]
func imagesCmd(args []string, stdout, stderr io.Writer) int {
	s, code := newImageCommand("cocoon images", "cocoon images [--store DIR]", stderr).open(args, nil)
	if s == nil {
		return code
	}
	imgs, err := s.Images()
	if err != nil {
		return fail(stderr, err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REFERENCE\tIMAGE ID\tCREATED\tSIZE")
	for _, img := range imgs {
		created := "-"
		if c := img.ConfigFile().Created; c != nil {
			created = c.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1f MB\n", img.Ref, img.ID(), created, float64(img.Size())/1e6)
	}
	w.Flush()
	return 0
}

// rmi: cocoon rmi [--store DIR] REF...
func rmiCmd(args []string, stdout, stderr io.Writer) int {
	c := newImageCommand("cocoon rmi", "cocoon rmi [--store DIR] REF...", stderr)
	s, code := c.open(args, func() bool { return c.fs.NArg() > 0 })
	if s == nil {
		return code
	}
	for _, ref := range c.fs.Args() {
		if err := s.Remove(context.Background(), ref); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "removed %s\n", ref)
	}
	return 0
}

// prune: cocoon prune [--store DIR]
func pruneCmd(args []string, stdout, stderr io.Writer) int {
	s, code := newImageCommand("cocoon prune", "cocoon prune [--store DIR]", stderr).open(args, nil)
	if s == nil {
		return code
	}
	r, err := s.Prune(context.Background())
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "removed %d blobs and %d layers, %.1f MB freed\n", r.Blobs, r.Layers, float64(r.Bytes)/1e6)
	return 0
}

// progress draws pull events: one live bar per layer on a terminal, plain
// lines otherwise (a log, a pipe). Calls come one at a time (image's promise).
type progress struct {
	w      io.Writer
	tty    bool
	order  []string
	state  map[string]string
	drawn  int
	last   time.Time
	header string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, state: map[string]string{}}
	if f, ok := w.(*os.File); ok {
		p.tty = isTerminal(f)
	}
	return p
}

func (p *progress) event(e image.ProgressEvent) {
	var layer string
	if e.Layer != "" {
		layer = e.Layer.Encoded()
	}
	if len(layer) > 12 {
		layer = layer[:12]
	}
	var line string
	switch e.Phase {
	case image.PhaseResolved:
		p.header = fmt.Sprintf("%s: %d layers", e.Ref, e.Total)
		if !p.tty {
			fmt.Fprintln(p.w, p.header)
		}
		return
	case image.PhaseDownloading:
		line = fmt.Sprintf("%s downloading %s", layer, bar(e.Done, e.Total))
	case image.PhaseComplete:
		return
	default:
		line = fmt.Sprintf("%s %s", layer, e.Phase)
	}
	if _, ok := p.state[layer]; !ok && layer != "" {
		p.order = append(p.order, layer)
	}
	p.state[layer] = line
	if !p.tty {
		if e.Phase != image.PhaseDownloading || e.Done == e.Total {
			fmt.Fprintln(p.w, line)
		}
		return
	}
	if time.Since(p.last) > 50*time.Millisecond || e.Phase != image.PhaseDownloading {
		p.redraw()
	}
}

func (p *progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	lines := append([]string{p.header}, nil...)
	for _, l := range p.order {
		lines = append(lines, p.state[l])
	}
	for _, l := range lines {
		fmt.Fprintf(p.w, "\x1b[2K%s\n", l)
	}
	p.drawn = len(lines)
	p.last = time.Now()
}

func (p *progress) finish() {
	if p.tty && len(p.order) > 0 {
		p.redraw()
	}
}

func bar(done, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%.1f MB", float64(done)/1e6)
	}
	const width = 30
	n := int(done * width / total)
	return fmt.Sprintf("[%s%s] %.1f/%.1f MB", strings.Repeat("=", n), strings.Repeat(" ", width-n), float64(done)/1e6, float64(total)/1e6)
}
