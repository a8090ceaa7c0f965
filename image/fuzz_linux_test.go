//go:build linux

package image

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fuzzRoot is a fixed place so that absolute symlinks in the corpus can name
// the sentinel directory and the fuzzer can mutate around real escapes.
const fuzzRoot = "/tmp/cocoon-image-fuzz"

// FuzzUnpack checks the security property of Unpack, not only that it does
// not panic: whatever the archive, nothing outside the layer directory
// changes. The input is a small script, one entry a line, "T NAME [LINK|BODY]"
// with T one of f (file), d (dir), l (symlink), h (hardlink), c (char device),
// p (fifo), so that mutations stay valid tar and reach the unpacker's logic.
//
//	go test ./image -run '^$' -fuzz FuzzUnpack -fuzztime 60s
func FuzzUnpack(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("needs root: unpack chowns and makes device nodes")
	}
	outside := filepath.Join(fuzzRoot, "outside")
	for _, ents := range hostileLayers(outside) {
		f.Add(script(ents))
	}
	f.Add("l a b/../../..\nd b\nl c a" + outside + "\nl e c\nf e/evil x\nf e/victim overwritten")
	f.Add("l x ../outside\nf x/.wh.victim\nf x/.wh..wh..opq\nh y x/victim\nf y pwned")
	if err := os.MkdirAll(fuzzRoot, 0o755); err != nil {
		f.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(fuzzRoot, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		lock.Close()
		// Fuzz workers are separate processes that share fuzzRoot until the
		// end; only a plain test run (seed corpus) owns it alone.
		if fl := flag.Lookup("test.fuzz"); fl == nil || fl.Value.String() == "" {
			os.RemoveAll(fuzzRoot)
		}
	})
	f.Fuzz(func(t *testing.T, s string) {
		// Fuzz workers are processes sharing the fixed sentinel: one at a time.
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
		base := filepath.Join(fuzzRoot, "run")
		_ = os.RemoveAll(base)
		_ = os.RemoveAll(outside)
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
		out, layer := sentinel(t, base)
		// The sentinel must sit where the corpus points: move it to the fixed path.
		if err := os.Rename(out, outside); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, fuzzRoot)
		delete(before, "run/layer")
		delete(before, ".lock")
		ents := parseScript(s)
		_, err := Unpack(context.Background(), bytes.NewReader(buildTar(t, true, ents...)), layer, UnpackOptions{})
		after := snapshot(t, fuzzRoot)
		delete(after, ".lock")
		for k := range after {
			if k == "run/layer" || strings.HasPrefix(k, "run/layer/") {
				delete(after, k)
			}
		}
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("unpack (err=%v) changed %s outside the layer dir: %q -> %q\nscript:\n%s", err, k, v, after[k], s)
			}
		}
		for k, v := range after {
			if _, ok := before[k]; !ok {
				t.Fatalf("unpack (err=%v) created %s (%s) outside the layer dir\nscript:\n%s", err, k, v, s)
			}
		}
		_ = os.RemoveAll(base)
	})
}

func script(ents []ent) string {
	var b strings.Builder
	for _, e := range ents {
		t := map[byte]string{'0': "f", '5': "d", '2': "l", '1': "h", '3': "c", '6': "p"}[e.typ]
		arg := e.body
		if e.typ == '1' || e.typ == '2' {
			arg = e.link
		}
		b.WriteString(t + " " + e.name + " " + arg + "\n")
	}
	return b.String()
}

func parseScript(s string) []ent {
	var ents []ent
	for _, line := range strings.Split(s, "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 || f[1] == "" {
			continue
		}
		arg := ""
		if len(f) == 3 {
			arg = f[2]
		}
		switch f[0] {
		case "f":
			ents = append(ents, file(f[1], arg))
		case "d":
			ents = append(ents, dir(f[1]))
		case "l":
			ents = append(ents, symlink(f[1], arg))
		case "h":
			ents = append(ents, hardlink(f[1], arg))
		case "c":
			ents = append(ents, ent{name: f[1], typ: '3', mode: 0o600, major: 1, minor: 3})
		case "p":
			ents = append(ents, ent{name: f[1], typ: '6', mode: 0o600})
		}
	}
	return ents
}
