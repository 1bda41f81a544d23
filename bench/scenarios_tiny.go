package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tinyChunk is the chunk size of the tiny scenario: many cheap tasks.
const tinyChunk = "1KiB"

// runTiny measures jetmr's per-task cost: `jetmr mapreduce --map lines
// --reduce sum --chunk-size 1KiB` over 64 MiB (at scale 1), reporting tasks
// per second and the per-task overhead from jetmr's report, and checking
// the line count.
func runTiny(b *bench, s *Scenario) error {
	size := b.size(64 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	lines, err := countLines(in)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text (%d lines), --chunk-size %s", humanBytes(fileSize(in)), lines, tinyChunk)
	jet := &Contender{Name: "jetmr mapreduce --map lines --reduce sum", Jetmr: true}
	s.Contenders = []*Contender{jet}
	for rep := 1; rep <= b.n; rep++ {
		out := b.fresh("tiny-out")
		res, report, err := b.runJetmr("mapreduce", "--map", "lines", "--reduce", "sum", "--chunk-size", tinyChunk, "-i", in, "-o", out)
		if err != nil {
			return err
		}
		got, err := readLinesCount(out)
		os.RemoveAll(out)
		if err != nil {
			return err
		}
		if got != lines {
			return fmt.Errorf("COUNTS DIFFER: jetmr counted %d lines, the file has %d", got, lines)
		}
		jet.add(sampleOf(res, report))
		progress("tiny %d/%d jetmr: %.3fs, %d tasks, %.0f tasks/s", rep, b.n, res.Wall.Seconds(), report.Tasks, float64(report.Tasks)/report.WallSeconds)
	}
	s.Checks = append(s.Checks, "jetmr's line count equals the file's in every run")
	s.metric("tasks per second (report tasks / wall_seconds)", median(jet.Samples, func(x Sample) float64 {
		return float64(x.Report.Tasks) / x.Report.WallSeconds
	}), "tasks/s", nil)
	s.metric("per-task overhead (report overhead_seconds_per_task)", median(jet.Samples, func(x Sample) float64 {
		return 1e6 * x.Report.OverheadSeconds
	}), "µs", nil)
	s.metric("slot time per task (slots x wall / tasks)", median(jet.Samples, func(x Sample) float64 {
		return 1e6 * float64(x.Report.Slots) * x.Report.WallSeconds / float64(x.Report.Tasks)
	}), "µs", nil)
	return nil
}

// countLines counts the lines of path, a last one without a newline
// included.
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("count lines: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	var last byte = '\n'
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		} else if err != nil {
			return 0, fmt.Errorf("count lines of %s: %w", path, err)
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// readLinesCount reads the "lines<TAB>N" total of a lines/sum output.
func readLinesCount(dir string) (int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("jetmr output %s: no part files (%v)", dir, err)
	}
	var total int64
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("jetmr output: %w", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if v, ok := strings.CutPrefix(line, "lines\t"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("jetmr output %s: %q: %w", path, line, err)
				}
				total += n
			}
		}
	}
	return total, nil
}
