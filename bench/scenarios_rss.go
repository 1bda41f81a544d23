package main

import (
	"fmt"
	"os"
)

// Targets of the rss scenario.
const (
	rssTarget      = 150  // MiB, peak RSS of jetmr at either size
	rssGrowthLimit = 1.25 // peak RSS at the big size / at the small one
)

// runRSSStdin measures the peak RSS of `jetmr pipe -i - -- cat` with a
// small and a big input on standard input (256 MiB and 1 GiB at scale 1):
// standard input is read as a stream, in chunks, so memory must not grow
// with the input either.
func runRSSStdin(b *bench, s *Scenario) error {
	small, big := b.size(256*MiB), b.size(1*GiB)
	defer b.dropInput(small)
	defer b.dropInput(big)
	inSmall, err := b.input(small)
	if err != nil {
		return err
	}
	inBig, err := b.input(big)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s and %s of generated text on standard input; command cat", humanBytes(fileSize(inSmall)), humanBytes(fileSize(inBig)))
	cSmall := &Contender{Name: "jetmr pipe -i - -- cat, " + humanBytes(small), Jetmr: true}
	cBig := &Contender{Name: "jetmr pipe -i - -- cat, " + humanBytes(big), Jetmr: true}
	s.Contenders = []*Contender{cSmall, cBig}
	for rep := 1; rep <= b.n; rep++ {
		for _, c := range []struct {
			in string
			c  *Contender
		}{{inSmall, cSmall}, {inBig, cBig}} {
			out, store := b.fresh("rss-stdin-out"), b.fresh("store")
			res, report, err := b.runJetmrStdin(store, c.in, "pipe", "-i", "-", "-o", out, "--", "cat")
			os.RemoveAll(store)
			if err == nil && fileSize(out) != fileSize(c.in) {
				err = fmt.Errorf("OUTPUT DIFFERS: jetmr pipe -i - -- cat wrote %d bytes for %d of input", fileSize(out), fileSize(c.in))
			}
			os.Remove(out)
			if err != nil {
				return err
			}
			c.c.add(sampleOf(res, report))
			progress("rss-stdin %d/%d %s: %.3fs, max RSS %.1f MiB (floor %.1f MiB)", rep, b.n, c.c.Name, res.Wall.Seconds(), float64(res.MaxRSSKiB)/1024, float64(res.FloorKiB)/1024)
		}
	}
	s.Checks = append(s.Checks, "every output has the input's size")
	s.Notes = append(s.Notes, "peak RSS is ru_maxrss from wait4 (the max of all runs), as in the rss scenario")
	peakSmall, peakBig := peakMiB(cSmall), peakMiB(cBig)
	s.metric("peak RSS, "+humanBytes(small), peakSmall, "MiB", &Target{Op: "<=", Value: rssTarget})
	s.metric("peak RSS, "+humanBytes(big), peakBig, "MiB", &Target{Op: "<=", Value: rssTarget})
	s.metric("peak RSS "+humanBytes(big)+" / "+humanBytes(small), peakBig/peakSmall, "", &Target{Op: "<=", Value: rssGrowthLimit, Note: "standard input is never held whole"})
	return nil
}

// runRSS measures the peak RSS of `jetmr pipe -- cat` over a small and a
// big input (256 MiB and 1 GiB at scale 1), alternating, and deletes the
// inputs and outputs when done. Memory must not grow with the input.
func runRSS(b *bench, s *Scenario) error {
	small, big := b.size(256*MiB), b.size(1*GiB)
	defer b.dropInput(small)
	defer b.dropInput(big)
	inSmall, err := b.input(small)
	if err != nil {
		return err
	}
	inBig, err := b.input(big)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s and %s of generated text; command cat", humanBytes(fileSize(inSmall)), humanBytes(fileSize(inBig)))
	cSmall := &Contender{Name: "jetmr pipe -- cat, " + humanBytes(small), Jetmr: true}
	cBig := &Contender{Name: "jetmr pipe -- cat, " + humanBytes(big), Jetmr: true}
	s.Contenders = []*Contender{cSmall, cBig}

	for rep := 1; rep <= b.n; rep++ {
		for _, c := range []struct {
			in string
			c  *Contender
		}{{inSmall, cSmall}, {inBig, cBig}} {
			out := b.fresh("rss-out")
			res, report, err := b.runJetmr("pipe", "-i", c.in, "-o", out, "--", "cat")
			if err == nil && fileSize(out) != fileSize(c.in) {
				err = fmt.Errorf("OUTPUT DIFFERS: jetmr pipe -- cat wrote %d bytes for %d of input", fileSize(out), fileSize(c.in))
			}
			os.Remove(out)
			if err != nil {
				return err
			}
			c.c.add(sampleOf(res, report))
			progress("rss %d/%d %s: %.3fs, max RSS %.1f MiB (floor %.1f MiB)", rep, b.n, c.c.Name, res.Wall.Seconds(), float64(res.MaxRSSKiB)/1024, float64(res.FloorKiB)/1024)
		}
	}
	s.Checks = append(s.Checks, "every output has the input's size")
	s.Notes = append(s.Notes, "peak RSS is ru_maxrss from wait4 (the max of all runs): jetmr's own peak, or that of its largest child (cat, ~2 MiB), never their sum")
	peakSmall, peakBig := peakMiB(cSmall), peakMiB(cBig)
	var floor int64
	for _, c := range s.Contenders {
		for _, x := range c.Samples {
			floor = max(floor, x.FloorKiB)
		}
	}
	floorMiB := float64(floor) / 1024
	note := fmt.Sprintf("ru_maxrss cannot go below the bench's own RSS when jetmr starts (vfork + exec carry it over); the bench frees memory and resets its peak first, leaving a floor of at most %.1f MiB", floorMiB)
	if min(peakSmall, peakBig) <= floorMiB*1.05 {
		note += ": a peak at the floor measures the bench, not jetmr, whose true peak is lower"
	}
	s.Notes = append(s.Notes, note)
	s.metric("peak RSS, "+humanBytes(small), peakSmall, "MiB", &Target{Op: "<=", Value: rssTarget})
	s.metric("peak RSS, "+humanBytes(big), peakBig, "MiB", &Target{Op: "<=", Value: rssTarget})
	s.metric("peak RSS "+humanBytes(big)+" / "+humanBytes(small), peakBig/peakSmall, "", &Target{Op: "<=", Value: rssGrowthLimit, Note: "no growth with input"})
	return nil
}

// peakMiB is the largest max RSS of c's runs, in MiB.
func peakMiB(c *Contender) float64 {
	var peak int64
	for _, s := range c.Samples {
		peak = max(peak, s.MaxRSSKiB)
	}
	return float64(peak) / 1024
}
