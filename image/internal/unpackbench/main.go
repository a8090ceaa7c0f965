//go:build linux

// Command unpackbench compares image.Unpack with `tar -xzf` on the same
// gzip layer, in one run, and prints both throughputs and their ratio.
//
//	go run ./image/internal/unpackbench                 # builds a ~100 MB layer from /usr/lib
//	go run ./image/internal/unpackbench -layer L.tar.gz # or measures a given one
//
// Each tool unpacks into a fresh directory on the same filesystem, the
// rounds alternate (tar, Unpack, tar, Unpack, ...) so both see the same page
// cache state, and the median round counts. Unpack does more than tar here:
// it hashes the stream (the diff ID) and resolves every path with openat2.
// Run it as root, so both tools chown.
package main

import (
	"archive/tar"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/cocoonrt/container/image"
	"github.com/klauspost/compress/gzip"
)

func main() {
	layer := flag.String("layer", "", "gzip layer to unpack (default: build one from -src)")
	src := flag.String("src", "/usr/lib", "directory to build the layer from")
	target := flag.Int64("size", 100<<20, "stop adding files once the compressed layer reaches this many bytes")
	rounds := flag.Int("rounds", 3, "rounds per tool")
	work := flag.String("dir", "", "scratch directory (default: a new one under $TMPDIR)")
	flag.Parse()

	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "cocoon-unpackbench-")
		if err != nil {
			log.Fatal(err)
		}
		dir = d
		defer os.RemoveAll(dir)
	}
	if *layer == "" {
		*layer = filepath.Join(dir, "layer.tar.gz")
		n, raw, err := build(*src, *layer, *target)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("built %s: %d files, %.1f MB uncompressed, ", *layer, n, float64(raw)/1e6)
	}
	fi, err := os.Stat(*layer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("layer %.1f MB gzip\n", float64(fi.Size())/1e6)

	var tarT, goT []time.Duration
	for i := 0; i < *rounds; i++ {
		d, err := timeIt(dir, func(out string) error {
			cmd := exec.Command("tar", "-xzf", *layer, "-C", out)
			cmd.Stderr = os.Stderr
			return cmd.Run()
		})
		if err != nil {
			log.Fatalf("tar: %v", err)
		}
		tarT = append(tarT, d)
		d, err = timeIt(dir, func(out string) error {
			f, err := os.Open(*layer)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = image.Unpack(context.Background(), f, out, image.UnpackOptions{})
			return err
		})
		if err != nil {
			log.Fatalf("unpack: %v", err)
		}
		goT = append(goT, d)
		fmt.Printf("round %d: tar -xzf %v, image.Unpack %v\n", i+1, tarT[i].Round(time.Millisecond), goT[i].Round(time.Millisecond))
	}
	mt, mg := median(tarT), median(goT)
	mb := float64(fi.Size()) / 1e6
	fmt.Printf("median: tar -xzf %v (%.0f MB/s compressed), image.Unpack %v (%.0f MB/s); Unpack/tar time ratio %.2f\n",
		mt.Round(time.Millisecond), mb/mt.Seconds(), mg.Round(time.Millisecond), mb/mg.Seconds(), mg.Seconds()/mt.Seconds())
}

// timeIt runs f into a fresh directory, syncs nothing (neither tool does),
// and removes the directory afterwards, outside the timing.
func timeIt(base string, f func(out string) error) (time.Duration, error) {
	out, err := os.MkdirTemp(base, "out-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(out)
	start := time.Now()
	err = f(out)
	return time.Since(start), err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// build writes a gzip tar of src's regular files, directories and symlinks
// until the compressed output reaches target bytes.
func build(src, dst string, target int64) (files int, raw int64, err error) {
	f, err := os.Create(dst)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cw := &counter{w: f}
	zw := gzip.NewWriter(cw)
	rc := &counter{w: zw}
	tw := tar.NewWriter(rc)
	errFull := fmt.Errorf("full")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cw.n >= target {
			return errFull
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		files++
		if fi.Mode().IsRegular() {
			r, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, r)
			r.Close()
			return err
		}
		return nil
	})
	if err != nil && err != errFull {
		return 0, 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return files, rc.n, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
