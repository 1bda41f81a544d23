package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Targets of the each scenario.
const (
	eachVsXargsTarget    = 1.2 // jetmr each / xargs -P2 -n1
	eachVsParallelTarget = 0.3 // jetmr each / GNU parallel -j2
)

// itemsFile writes n items ("item-1" ...) one per line and returns its path.
func (b *bench) itemsFile(n int) (string, error) {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "item-%d\n", i)
	}
	path := b.fresh("items")
	return path, os.WriteFile(path, []byte(sb.String()), 0o644)
}

// runEach compares jetmr each, xargs -P2 -n1 and GNU parallel -j2 running
// `true` once per item over 2,000 items (at scale 1): the cost of starting
// a command per item, which batching must keep close to xargs's.
func runEach(b *bench, s *Scenario) error {
	n := max(int(2000*b.scale), 100)
	items, err := b.itemsFile(n)
	if err != nil {
		return err
	}
	defer os.Remove(items)
	s.Input = fmt.Sprintf("%d items, one per line; command `true` per item, 2 at a time", n)
	xargs := &Contender{Name: "xargs -P2 -n1 true"}
	par := &Contender{Name: "GNU parallel -j2 true"}
	jet := &Contender{Name: "jetmr each -j 2 --items FILE -- true", Jetmr: true}
	s.Contenders = []*Contender{xargs, par, jet}
	if _, err := exec.LookPath("parallel"); err != nil {
		par.Skipped = "GNU parallel is not on PATH: this contender needs `apt-get install parallel`"
		progress("each: %s", par.Skipped)
	}
	for rep := 1; rep <= b.n; rep++ {
		res, err := runProc(b.ctx, items, "", "xargs", "-P2", "-n1", "true")
		if err != nil {
			return err
		}
		xargs.add(sampleOf(res, nil))
		progress("each %d/%d xargs: %.3fs", rep, b.n, res.Wall.Seconds())
		if par.Skipped == "" {
			res, err := runProc(b.ctx, items, "", "parallel", "-j2", "true")
			if err != nil {
				return err
			}
			par.add(sampleOf(res, nil))
			progress("each %d/%d parallel: %.3fs", rep, b.n, res.Wall.Seconds())
		}
		res, report, err := b.runJetmr("each", "-q", "-j", "2", "--items", items, "--", "true")
		if err != nil {
			return err
		}
		if report.Items != n {
			return fmt.Errorf("ITEMS DIFFER: jetmr ran %d items, want %d", report.Items, n)
		}
		jet.add(sampleOf(res, report))
		progress("each %d/%d jetmr: %.3fs (%d tasks)", rep, b.n, res.Wall.Seconds(), report.Tasks)
	}
	s.Checks = append(s.Checks, "jetmr's report counts every item, none failed")
	s.metric("jetmr / xargs", jet.MedianSeconds()/xargs.MedianSeconds(), "", &Target{Op: "<=", Value: eachVsXargsTarget})
	if par.Skipped == "" {
		s.metric("jetmr / parallel", jet.MedianSeconds()/par.MedianSeconds(), "", &Target{Op: "<=", Value: eachVsParallelTarget})
	}
	s.metric("xargs: time per item (wall / items)", 1e6*xargs.MedianSeconds()/float64(n), "µs", nil)
	return nil
}

// runEachTiny measures jetmr each's own cost per item: 100,000 items (at
// scale 1) with the built-in no-op, so no process starts, and with the
// built-in echo in item order (-k), whose output is checked.
func runEachTiny(b *bench, s *Scenario) error {
	n := max(int(100000*b.scale), 1000)
	items, err := b.itemsFile(n)
	if err != nil {
		return err
	}
	defer os.Remove(items)
	s.Input = fmt.Sprintf("%d items, one per line; built-in item functions, default batching", n)
	noop := &Contender{Name: "jetmr each --builtin noop", Jetmr: true}
	echo := &Contender{Name: "jetmr each -k --builtin echo", Jetmr: true}
	s.Contenders = []*Contender{noop, echo}
	for rep := 1; rep <= b.n; rep++ {
		res, report, err := b.runJetmr("each", "-q", "--builtin", "noop", "--items", items)
		if err != nil {
			return err
		}
		noop.add(sampleOf(res, report))
		progress("each-tiny %d/%d noop: %.3fs, %d tasks, %.0f items/s", rep, b.n, res.Wall.Seconds(), report.Tasks, float64(n)/report.WallSeconds)
		out := b.fresh("each-echo")
		res, report, err = b.runJetmr("each", "-q", "-k", "--builtin", "echo", "--items", items, "-o", out)
		if err != nil {
			return err
		}
		err = checkSame("jetmr each --builtin echo", out, items)
		os.Remove(out)
		if err != nil {
			return err
		}
		echo.add(sampleOf(res, report))
		progress("each-tiny %d/%d echo: %.3fs, %d tasks", rep, b.n, res.Wall.Seconds(), report.Tasks)
	}
	s.Checks = append(s.Checks, "the echo output equals the item list, in order")
	for _, c := range s.Contenders {
		name := strings.TrimPrefix(c.Name, "jetmr each ")
		s.metric(name+": items per second (items / report wall_seconds)", median(c.Samples, func(x Sample) float64 {
			return float64(x.Report.Items) / x.Report.WallSeconds
		}), "items/s", nil)
		s.metric(name+": tasks per second", median(c.Samples, func(x Sample) float64 {
			return float64(x.Report.Tasks) / x.Report.WallSeconds
		}), "tasks/s", nil)
		s.metric(name+": per-item overhead (slots x wall / items)", median(c.Samples, func(x Sample) float64 {
			return 1e6 * float64(x.Report.Slots) * x.Report.WallSeconds / float64(x.Report.Items)
		}), "µs", nil)
	}
	return nil
}
