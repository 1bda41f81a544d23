package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Targets of the cardinality and keys10m scenarios.
const (
	cardinalityTarget = 0.7 // jetmr / sort | uniq -c, wall time
	keysRSSTarget     = 200 // MiB, peak RSS at 10 M distinct keys, default --memory
	keysRSSHeadroom   = 64  // MiB over --memory that a run may peak at
)

// generateIDs writes lines of one id each, "u" and 7 digits as a log's
// user ids, drawn uniformly from distinct ids with a fixed seed: at 4 M
// lines of 2 M ids, about 1.73 M distinct keys.
func generateIDs(path string, lines, distinct int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	// A 64-bit LCG: deterministic and fast; the top bits pick an id.
	x := uint64(genSeed)
	var line []byte
	for range lines {
		x = x*6364136223846793005 + 1442695040888963407
		id := (x >> 32) * uint64(distinct) >> 32
		line = fmt.Appendf(line[:0], "u%07d\n", id)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sortUniqCounts reads `uniq -c` output into counts.
func sortUniqCounts(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) != 2 {
			return nil, fmt.Errorf("uniq -c: bad line %q", line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("uniq -c: bad line %q", line)
		}
		counts[f[1]] = n
	}
	return counts, nil
}

// runCardinality compares a high-cardinality count, `jetmr mapreduce --map
// wordcount --reduce sum` over 4 M lines of 1.73 M distinct ids, with
// `LC_ALL=C sort -S 64M | uniq -c`; both must count alike.
func runCardinality(b *bench, s *Scenario) error {
	lines := max(int(4_000_000*b.scale), 1000)
	in := b.fresh("ids") + ".txt"
	progress("generating %d lines of ids: %s", lines, in)
	if err := generateIDs(in, lines, lines/2); err != nil {
		return err
	}
	defer os.Remove(in)
	jet := &Contender{Name: "jetmr mapreduce --map wordcount --reduce sum", Jetmr: true}
	sortc := &Contender{Name: "LC_ALL=C sort -S 64M | uniq -c"}
	s.Contenders = []*Contender{jet, sortc}
	var want map[string]int64
	for rep := 1; rep <= b.n; rep++ {
		out := b.fresh("cardinality-sorted")
		res, err := runProc(b.ctx, in, out, "sh", "-c", "LC_ALL=C sort -S 64M | LC_ALL=C uniq -c")
		if err != nil {
			return err
		}
		sortc.add(Sample{Seconds: res.Wall.Seconds(), MaxRSSKiB: res.MaxRSSKiB})
		progress("cardinality %d/%d sort | uniq -c: %.3fs, max RSS %.1f MiB", rep, b.n, res.Wall.Seconds(), float64(res.MaxRSSKiB)/1024)
		if want == nil {
			if want, err = sortUniqCounts(out); err != nil {
				return err
			}
		}
		os.Remove(out)

		dir := b.fresh("cardinality-out")
		res, report, err := b.runJetmr("mapreduce", "--map", "wordcount", "--reduce", "sum", "-i", in, "-o", dir)
		if err != nil {
			return err
		}
		jet.add(sampleOf(res, report))
		progress("cardinality %d/%d jetmr: %.3fs, max RSS %.1f MiB", rep, b.n, res.Wall.Seconds(), float64(res.MaxRSSKiB)/1024)
		got, err := readParts(dir)
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		if err := compareCounts("jetmr run "+strconv.Itoa(rep), got, "sort | uniq -c", want); err != nil {
			return err
		}
	}
	s.Input = fmt.Sprintf("%d lines of ids (%s), %d distinct", lines, humanBytes(int64(lines)*9), len(want))
	s.Checks = append(s.Checks, "jetmr's counts equal sort | uniq -c's in every run")
	s.metric("jetmr / sort | uniq -c (time)", jet.MedianSeconds()/sortc.MedianSeconds(), "", &Target{Op: "<=", Value: cardinalityTarget})
	s.metric("jetmr peak RSS", peakMiB(jet), "MiB", nil)
	s.metric("sort | uniq -c peak RSS", peakMiB(sortc), "MiB", nil)
	return nil
}

// runKeys10M counts 10 M distinct keys (about 250 MB of text), once with
// the default --memory and once with each of a few explicit budgets, and
// reports each run's peak RSS: the reduce spills sorted runs, so memory
// must stay within the budget plus the runtime's headroom.
func runKeys10M(b *bench, s *Scenario) error {
	keys := max(int(10_000_000*b.scale), 1000)
	in := b.fresh("keys") + ".txt"
	progress("generating %d distinct keys: %s", keys, in)
	if err := generateDistinct(in, keys); err != nil {
		return err
	}
	defer os.Remove(in)
	s.Input = fmt.Sprintf("%d distinct keys, one per line (%s)", keys, humanBytes(fileSize(in)))
	// The last runs one task per 64 MiB chunk: its combiner, not the
	// chunk size, must keep the map side within the budget.
	budgets := []string{"", "64MiB", "256MiB", "64MiB --chunk-size 64MiB"}
	cs := make([]*Contender, len(budgets))
	for i, m := range budgets {
		name := "jetmr mapreduce, default --memory"
		if m != "" {
			name = "jetmr mapreduce --memory " + m
		}
		cs[i] = &Contender{Name: name, Jetmr: true}
	}
	s.Contenders = cs
	for rep := 1; rep <= b.n; rep++ {
		for i, m := range budgets {
			dir := b.fresh("keys-out")
			args := []string{"mapreduce", "--map", "wordcount", "--reduce", "sum", "-i", in, "-o", dir}
			if m != "" {
				args = append(args, append([]string{"--memory"}, strings.Fields(m)...)...)
			}
			res, report, err := b.runJetmr(args...)
			if err != nil {
				return err
			}
			cs[i].add(sampleOf(res, report))
			progress("keys10m %d/%d %s: %.3fs, max RSS %.1f MiB", rep, b.n, cs[i].Name, res.Wall.Seconds(), float64(res.MaxRSSKiB)/1024)
			n, total, err := countKeys(dir)
			os.RemoveAll(dir)
			if err != nil {
				return err
			}
			if n != int64(keys) || total != int64(keys) {
				return fmt.Errorf("COUNTS DIFFER: %s wrote %d keys counting %d, want %d of 1 each", cs[i].Name, n, total, keys)
			}
		}
	}
	s.Checks = append(s.Checks, "every run writes each key once with count 1")
	s.metric("peak RSS, default --memory", peakMiB(cs[0]), "MiB", &Target{Op: "<=", Value: keysRSSTarget})
	s.metric("peak RSS, --memory 64MiB", peakMiB(cs[1]), "MiB", &Target{Op: "<=", Value: 64 + keysRSSHeadroom})
	s.metric("peak RSS, --memory 256MiB", peakMiB(cs[2]), "MiB", &Target{Op: "<=", Value: 256 + keysRSSHeadroom})
	// Each of the two slots holds its 64 MiB chunk besides the budget.
	s.metric("peak RSS, --memory 64MiB --chunk-size 64MiB", peakMiB(cs[3]), "MiB", &Target{Op: "<=", Value: 64 + 2*64 + keysRSSHeadroom})
	return nil
}

// generateDistinct writes keys distinct keys, one per line, 25 bytes each,
// in a scrambled order (an odd multiplier modulo a power of two is a
// permutation).
func generateDistinct(path string, keys int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for i := range uint64(keys) {
		id := (i * 0x9E3779B97F4A7C15) >> 20 // distinct: the top 44 bits of a permutation of 2^64
		line = fmt.Appendf(line[:0], "k%023d\n", id)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// countKeys counts the lines of the part files in dir and adds up their
// counts.
func countKeys(dir string) (lines, total int64, err error) {
	counts, err := readParts(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, n := range counts {
		total += n
	}
	return int64(len(counts)), total, nil
}
