package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// runTaskTime measures --task-time against fixed chunk sizes on a pipe job
// whose first chunk size is far too small: `jetmr pipe --chunk-size 4KiB`
// (overhead dominates), the default sizing, and `--task-time 250ms`
// starting from 4 KiB. It reports the adaptive run's time against both and
// its median task time against the target.
func runTaskTime(b *bench, s *Scenario) error {
	size := b.size(32 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text; command sed -E '%s'", humanBytes(fileSize(in)), sedScript)
	tiny := &Contender{Name: "jetmr pipe --chunk-size 4KiB", Jetmr: true}
	def := &Contender{Name: "jetmr pipe (default chunk size)", Jetmr: true}
	adapt := &Contender{Name: "jetmr pipe --chunk-size 4KiB --task-time 250ms", Jetmr: true}
	s.Contenders = []*Contender{tiny, def, adapt}
	ref := b.fresh("tasktime-reference")
	defer os.Remove(ref)
	if _, err := runProc(b.ctx, in, ref, "sed", "-E", sedScript); err != nil {
		return err
	}
	runs := []struct {
		c    *Contender
		args []string
	}{
		{tiny, []string{"--chunk-size", "4KiB"}},
		{def, nil},
		{adapt, []string{"--chunk-size", "4KiB", "--task-time", "250ms"}},
	}
	for rep := 1; rep <= b.n; rep++ {
		for _, r := range runs {
			out := b.fresh("tasktime-out")
			args := append(append([]string{"pipe", "-i", in, "-o", out}, r.args...), "--", "sed", "-E", sedScript)
			res, report, err := b.runJetmr(args...)
			if err != nil {
				return err
			}
			r.c.add(sampleOf(res, report))
			progress("tasktime %d/%d %s: %.3fs, %d tasks, median task %.3fs", rep, b.n, r.c.Name, res.Wall.Seconds(),
				report.Tasks, report.TaskSeconds.P50)
			err = checkSame(r.c.Name, out, ref)
			os.Remove(out)
			if err != nil {
				return err
			}
		}
	}
	s.Checks = append(s.Checks, "every output is byte-identical to sequential sed's")
	s.metric("--task-time 250ms / --chunk-size 4KiB (time)", adapt.MedianSeconds()/tiny.MedianSeconds(), "", nil)
	s.metric("--task-time 250ms / default chunk size (time)", adapt.MedianSeconds()/def.MedianSeconds(), "", nil)
	s.metric("tasks with --task-time 250ms", median(adapt.Samples, func(x Sample) float64 { return float64(x.Report.Tasks) }), "tasks", nil)
	s.metric("90th percentile task time with --task-time 250ms", median(adapt.Samples, func(x Sample) float64 {
		return x.Report.TaskSeconds.P90
	}), "s", nil)
	s.Notes = append(s.Notes, "the adaptive run starts at 4 KiB and at most doubles the size per finished task, so its first tasks carry the small size's overhead; the input is too small for most tasks to reach 250 ms")
	return nil
}

// runReduce measures the concurrent merge of a keyed job's partitions on
// a high-cardinality input (about a million distinct keys), where the
// reduce, not the map, is the work: --partitions 1 against --partitions 4.
func runReduce(b *bench, s *Scenario) error {
	size := b.size(32 * MiB)
	in := filepath.Join(b.dir, fmt.Sprintf("keys-%d.txt", size))
	tokens, err := generateKeys(in, size)
	if err != nil {
		return err
	}
	defer os.Remove(in)
	s.Input = fmt.Sprintf("%s of random keys (%d tokens, up to 2^20 distinct)", humanBytes(fileSize(in)), tokens)
	one := &Contender{Name: "jetmr mapreduce --partitions 1", Jetmr: true}
	four := &Contender{Name: "jetmr mapreduce --partitions 4", Jetmr: true}
	s.Contenders = []*Contender{one, four}
	for rep := 1; rep <= b.n; rep++ {
		for _, c := range []struct {
			c     *Contender
			parts string
		}{{one, "1"}, {four, "4"}} {
			out := b.fresh("reduce-out")
			res, report, err := b.runJetmr("mapreduce", "--map", "wordcount", "--reduce", "sum", "--partitions", c.parts, "-i", in, "-o", out)
			if err != nil {
				return err
			}
			c.c.add(sampleOf(res, report))
			progress("reduce %d/%d --partitions %s: %.3fs", rep, b.n, c.parts, res.Wall.Seconds())
			got, err := sumCounts(out)
			os.RemoveAll(out)
			if err != nil {
				return err
			}
			if got != tokens {
				return fmt.Errorf("COUNTS DIFFER: --partitions %s counted %d tokens, the file has %d", c.parts, got, tokens)
			}
		}
	}
	s.Checks = append(s.Checks, "the counts of every run add up to the file's tokens")
	s.metric("--partitions 4 / --partitions 1 (time)", four.MedianSeconds()/one.MedianSeconds(), "", nil)
	return nil
}

// generateKeys writes lines of 8 random keys drawn from 2^20 and returns
// the number of keys written.
func generateKeys(path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(genSeed, 2))
	var n, written int64
	for written < size {
		var line strings.Builder
		for i := range 8 {
			if i > 0 {
				line.WriteByte(' ')
			}
			fmt.Fprintf(&line, "k%05x", r.IntN(1<<20))
			n++
		}
		line.WriteByte('\n')
		k, _ := w.WriteString(line.String())
		written += int64(k)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return n, f.Close()
}

// sumCounts adds up the values of every key<TAB>count line under dir.
func sumCounts(dir string) (int64, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(parts) == 0 {
		return 0, fmt.Errorf("no part files in %s (%v)", dir, err)
	}
	var total int64
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			_, v, ok := strings.Cut(sc.Text(), "\t")
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				f.Close()
				return 0, fmt.Errorf("%s: bad line %q", p, sc.Text())
			}
			total += n
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return 0, err
		}
	}
	return total, nil
}
