package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// Target of the straggler scenario: a job with one straggler takes at
// most this many times the same job without it.
const stragglerTarget = 1.2

// Shape of the straggler scenario's tasks: each sleeps stragglerTask
// before upper-casing its chunk; the straggler, the first attempt at the
// input's last chunk, sleeps 10 times as long: a slow machine, not slow
// data, so another attempt of the same chunk is as fast as the others.
const (
	stragglerTask  = "0.2"
	stragglerSlow  = "2"
	stragglerChunk = "128KiB"
)

// runStraggler runs `jetmr pipe` over 8 MiB (at scale 1) in tasks of about
// 0.2s, with no straggler, with one straggler at 10x the median task time
// and backups off (--no-speculative), and with the straggler and backup
// attempts (the default): the straggler's job wall over the plain job's is
// the metric. Every output must equal `tr a-z A-Z` of the input.
func runStraggler(b *bench, s *Scenario) error {
	size := b.size(8 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text, --chunk-size %s, tasks of %ss, the straggler at %ss", humanBytes(fileSize(in)), stragglerChunk, stragglerTask, stragglerSlow)
	plain := &Contender{Name: "jetmr pipe, no straggler", Jetmr: true}
	off := &Contender{Name: "jetmr pipe, one straggler, --no-speculative", Jetmr: true}
	on := &Contender{Name: "jetmr pipe, one straggler, backups (default)", Jetmr: true}
	s.Contenders = []*Contender{plain, off, on}
	ref := b.fresh("straggler-reference")
	defer os.Remove(ref)
	if _, err := runProc(b.ctx, in, ref, "tr", "a-z", "A-Z"); err != nil {
		return err
	}
	last, err := lastLine(in)
	if err != nil {
		return err
	}
	for rep := 1; rep <= b.n; rep++ {
		for _, c := range []struct {
			who   *Contender
			slow  bool
			flags []string
		}{{plain, false, nil}, {off, true, []string{"--no-speculative"}}, {on, true, nil}} {
			script, err := b.stragglerScript(last, c.slow)
			if err != nil {
				return err
			}
			out := b.fresh("straggler-out")
			args := append(append([]string{"pipe", "-i", in, "-o", out, "--chunk-size", stragglerChunk}, c.flags...), "--", script)
			res, report, err := b.runJetmr(args...)
			if err != nil {
				return err
			}
			c.who.add(sampleOf(res, report))
			progress("straggler %d/%d %s: %.3fs (%d tasks, %d backups, %d won)", rep, b.n, c.who.Name, res.Wall.Seconds(), report.Tasks, report.BackupsRun, report.BackupsWon)
			if err := checkSame(c.who.Name, out, ref); err != nil {
				return err
			}
			os.Remove(out)
		}
	}
	s.Checks = append(s.Checks, "every output is byte-identical to tr a-z A-Z of the input")
	s.metric("straggler, no backups / no straggler", off.MedianSeconds()/plain.MedianSeconds(), "", nil)
	s.metric("straggler, backups / no straggler", on.MedianSeconds()/plain.MedianSeconds(), "", &Target{Op: "<=", Value: stragglerTarget})
	s.metric("backups won (median per run)", median(on.Samples, func(x Sample) float64 { return float64(x.Report.BackupsWon) }), "", nil)
	return nil
}

// stragglerScript writes the task command of one run: slow says whether
// the first attempt at the chunk ending with the line last straggles.
func (b *bench) stragglerScript(last string, slow bool) (string, error) {
	dir := b.fresh("straggler")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	lastFile := filepath.Join(dir, "last")
	if err := os.WriteFile(lastFile, []byte(last), 0o600); err != nil {
		return "", err
	}
	straggle := ""
	if slow {
		straggle = fmt.Sprintf(`if tail -n 1 "$f" | cmp -s - %q && mkdir %q 2>/dev/null; then sleep %s; fi
`, lastFile, filepath.Join(dir, "lock"), stragglerSlow)
	}
	body := fmt.Sprintf(`#!/bin/sh
f=$(mktemp %q) || exit 1
cat > "$f"
%ssleep %s
tr a-z A-Z < "$f"
rm -f "$f"
`, filepath.Join(dir, "chunk.XXXXXX"), straggle, stragglerTask)
	script := filepath.Join(dir, "task.sh")
	return script, os.WriteFile(script, []byte(body), 0o700)
}

// lastLine returns the last line of the file at path, with its newline.
func lastLine(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	start := 0
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			start = i + 1
			break
		}
	}
	return string(data[start:]), nil // with the newline, as tail -n 1 prints it
}
