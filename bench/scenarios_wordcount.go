package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jetmr/jetmr/mapper"
)

// Targets of the wordcount scenario.
const wordcountTarget = 1.25 // jetmr / limit

// runWordcount compares `jetmr mapreduce --map wordcount --reduce sum` with
// the in-process limit: mapper.Wordcount over one line-aligned part of the
// file per core in plain goroutines, no broker. Both must count alike.
func runWordcount(b *bench, s *Scenario) error {
	size := b.size(256 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	s.Input = fmt.Sprintf("%s of generated text", humanBytes(fileSize(in)))
	jet := &Contender{Name: "jetmr mapreduce (default -j = cores)", Jetmr: true}
	limit := &Contender{Name: fmt.Sprintf("limit: mapper.Wordcount in %d goroutines", cores)}
	s.Contenders = []*Contender{jet, limit}

	var want map[string]int64
	for rep := 1; rep <= b.n; rep++ {
		out := b.fresh("wordcount-out")
		res, report, err := b.runJetmr("mapreduce", "--map", "wordcount", "--reduce", "sum", "-i", in, "-o", out)
		if err != nil {
			return err
		}
		jet.add(sampleOf(res, report))
		progress("wordcount %d/%d jetmr: %.3fs (%d tasks, job wall %.3fs)", rep, b.n, res.Wall.Seconds(), report.Tasks, report.WallSeconds)
		got, err := readParts(out)
		os.RemoveAll(out)
		if err != nil {
			return err
		}

		runtime.GC()
		start := time.Now()
		counts, err := limitWordcount(b.ctx, in, cores)
		wall := time.Since(start)
		if err != nil {
			return err
		}
		limit.add(Sample{Seconds: wall.Seconds()})
		progress("wordcount %d/%d limit: %.3fs", rep, b.n, wall.Seconds())
		if want == nil {
			want = counts
		} else if err := compareCounts("limit run "+strconv.Itoa(rep), counts, "limit run 1", want); err != nil {
			return err
		}
		if err := compareCounts("jetmr run "+strconv.Itoa(rep), got, "the limit", want); err != nil {
			return err
		}
	}
	var total int64
	for _, n := range want {
		total += n
	}
	s.Checks = append(s.Checks, fmt.Sprintf("jetmr's part files equal the limit's counts in every run (%d distinct words, %d in all)", len(want), total))
	s.metric("jetmr / limit", jet.MedianSeconds()/limit.MedianSeconds(), "", &Target{Op: "<=", Value: wordcountTarget})
	return nil
}

// fileSize returns the size of path, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// countEmitter sums the counts mapper.Wordcount emits.
type countEmitter map[string]int64

// Emit adds value, a decimal count, to key's.
func (c countEmitter) Emit(key, value []byte) error {
	n, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return fmt.Errorf("count of %q: %w", key, err)
	}
	c[string(key)] += n
	return nil
}

// limitWordcount is the in-process limit: it cuts path into parts line-
// aligned parts, has one goroutine per part read it with ReadAt and count
// it with mapper.Wordcount, then merges the counts.
func limitWordcount(ctx context.Context, path string, parts int) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("limit: %w", err)
	}
	defer f.Close()
	bounds, err := lineBounds(f, fileSize(path), parts)
	if err != nil {
		return nil, fmt.Errorf("limit: %s: %w", path, err)
	}
	counts := make([]countEmitter, len(bounds)-1)
	errs := make([]error, len(bounds)-1)
	var wg sync.WaitGroup
	for i := range counts {
		wg.Go(func() {
			buf := make([]byte, bounds[i+1]-bounds[i])
			if _, err := f.ReadAt(buf, bounds[i]); err != nil && err != io.EOF {
				errs[i] = fmt.Errorf("limit: read %s at %d: %w", path, bounds[i], err)
				return
			}
			counts[i] = countEmitter{}
			if err := mapper.Wordcount(ctx, buf, counts[i]); err != nil {
				errs[i] = fmt.Errorf("limit: part %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	merged := counts[0]
	for _, c := range counts[1:] {
		for w, n := range c {
			merged[w] += n
		}
	}
	return merged, nil
}

// lineBounds returns parts+1 offsets cutting a file of size bytes into
// parts that end just after a newline (or at the end of the file); parts
// may come out empty on a tiny file.
func lineBounds(f *os.File, size int64, parts int) ([]int64, error) {
	bounds := []int64{0}
	buf := make([]byte, 64*KiB)
	for i := 1; i < parts; i++ {
		off := max(size*int64(i)/int64(parts), bounds[len(bounds)-1])
		for off < size {
			n, err := f.ReadAt(buf, off)
			if j := bytes.IndexByte(buf[:n], '\n'); j >= 0 {
				off += int64(j) + 1
				break
			}
			off += int64(n)
			if err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
		}
		bounds = append(bounds, min(off, size))
	}
	return append(bounds, size), nil
}

// readParts reads the key<TAB>count lines of the part files of a jetmr
// mapreduce output directory.
func readParts(dir string) (map[string]int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("jetmr output %s: no part files (%v)", dir, err)
	}
	counts := map[string]int64{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("jetmr output: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*KiB), 16*MiB)
		line := 0
		for sc.Scan() {
			line++
			key, val, ok := strings.Cut(sc.Text(), "\t")
			n, err := strconv.ParseInt(val, 10, 64)
			if !ok || err != nil {
				f.Close()
				return nil, fmt.Errorf("jetmr output %s:%d: not key<TAB>count: %q", path, line, sc.Text())
			}
			if _, dup := counts[key]; dup {
				f.Close()
				return nil, fmt.Errorf("jetmr output %s:%d: key %q appears twice", path, line, key)
			}
			counts[key] = n
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("jetmr output %s: %w", path, err)
		}
	}
	return counts, nil
}

// compareCounts fails, listing a few differences, unless got equals want.
func compareCounts(gotName string, got map[string]int64, wantName string, want map[string]int64) error {
	var diffs []string
	for w, n := range want {
		if m, ok := got[w]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: missing from %s (%s: %d)", w, gotName, wantName, n))
		} else if m != n {
			diffs = append(diffs, fmt.Sprintf("%q: %s %d, %s %d", w, gotName, m, wantName, n))
		}
	}
	for w, m := range got {
		if _, ok := want[w]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: only in %s (%d)", w, gotName, m))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	shown := diffs[:min(len(diffs), 10)]
	return fmt.Errorf("COUNTS DIFFER: %s has %d words, %s %d; %d differences, e.g.\n%s",
		gotName, len(got), wantName, len(want), len(diffs), strings.Join(shown, "\n"))
}
