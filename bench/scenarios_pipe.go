package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
)

// Targets of the pipe scenario.
const (
	pipeVsParallelTarget = 0.8 // jetmr / GNU parallel
	pipeSpeedupTarget    = 1.7 // sequential / jetmr, on 2 cores
)

// sedScript is the CPU-bound line command of the pipe scenario.
const sedScript = `s/([a-z]+)/<\1>/g`

// runPipe compares sequential sed, GNU parallel --pipepart and jetmr pipe
// running the same sed, and checks every output equals the sequential one.
func runPipe(b *bench, s *Scenario) error {
	size := b.size(16 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text; command sed -E '%s'", humanBytes(fileSize(in)), sedScript)
	seq := &Contender{Name: "sequential sed"}
	par := &Contender{Name: "GNU parallel --pipepart --block -1 -k"}
	jet := &Contender{Name: "jetmr pipe (default -j = cores)", Jetmr: true}
	s.Contenders = []*Contender{seq, par, jet}
	if _, err := exec.LookPath("parallel"); err != nil {
		par.Skipped = "GNU parallel is not on PATH: this contender needs `apt-get install parallel`"
		progress("pipe: %s", par.Skipped)
	}

	ref := b.fresh("pipe-reference")
	defer os.Remove(ref)
	for rep := 1; rep <= b.n; rep++ {
		// Sequential: its first output is the reference the others match.
		out := ref
		if rep > 1 {
			out = b.fresh("pipe-seq")
		}
		res, err := runProc(b.ctx, in, out, "sed", "-E", sedScript)
		if err != nil {
			return err
		}
		seq.add(sampleOf(res, nil))
		progress("pipe %d/%d sequential: %.3fs", rep, b.n, res.Wall.Seconds())
		if err := checkSame("sequential sed", out, ref); err != nil {
			return err
		}

		if par.Skipped == "" {
			out := b.fresh("pipe-parallel")
			// parallel runs its command through a shell: quote the script.
			res, err := runProc(b.ctx, "", out, "parallel", "--pipepart", "--block", "-1", "-k", "-a", in, "sed -E '"+sedScript+"'")
			if err != nil {
				return err
			}
			par.add(sampleOf(res, nil))
			progress("pipe %d/%d parallel: %.3fs", rep, b.n, res.Wall.Seconds())
			if err := checkSame("GNU parallel", out, ref); err != nil {
				return err
			}
		}

		out = b.fresh("pipe-jetmr")
		res, report, err := b.runJetmr("pipe", "-i", in, "-o", out, "--", "sed", "-E", sedScript)
		if err != nil {
			return err
		}
		jet.add(sampleOf(res, report))
		progress("pipe %d/%d jetmr: %.3fs (%d tasks, job wall %.3fs)", rep, b.n, res.Wall.Seconds(), report.Tasks, report.WallSeconds)
		if err := checkSame("jetmr pipe", out, ref); err != nil {
			return err
		}
	}
	s.Checks = append(s.Checks, "every output is byte-identical to sequential sed's")
	if par.Skipped == "" {
		s.metric("jetmr / parallel", jet.MedianSeconds()/par.MedianSeconds(), "", &Target{Op: "<=", Value: pipeVsParallelTarget})
	}
	note := "on 2 cores"
	if cores := runtime.NumCPU(); cores != 2 {
		note = fmt.Sprintf("set for 2 cores; this machine has %d", cores)
	}
	s.metric("speedup = sequential / jetmr", seq.MedianSeconds()/jet.MedianSeconds(), "", &Target{Op: ">=", Value: pipeSpeedupTarget, Note: note})
	return nil
}

// checkSame fails unless the file got is byte-identical to want; it removes
// got afterwards unless it is want itself.
func checkSame(name, got, want string) error {
	if got == want {
		return nil
	}
	defer os.Remove(got)
	off, err := firstDiff(got, want)
	if err != nil {
		return fmt.Errorf("compare %s output: %w", name, err)
	}
	if off >= 0 {
		return fmt.Errorf("OUTPUT DIFFERS: %s output (%d bytes) differs from sequential sed's (%d bytes) at byte %d",
			name, fileSize(got), fileSize(want), off)
	}
	return nil
}

// firstDiff returns the offset of the first byte where files a and b
// differ (a shorter file differs where it ends), or -1 if they are equal.
func firstDiff(a, b string) (int64, error) {
	fa, err := os.Open(a)
	if err != nil {
		return 0, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return 0, err
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, errA := io.ReadFull(ra, bufA)
		nb, errB := io.ReadFull(rb, bufB)
		if errA != nil && errA != io.EOF && errA != io.ErrUnexpectedEOF {
			return 0, errA
		}
		if errB != nil && errB != io.EOF && errB != io.ErrUnexpectedEOF {
			return 0, errB
		}
		n := min(na, nb)
		if i := mismatch(bufA[:n], bufB[:n]); i >= 0 {
			return off + int64(i), nil
		}
		if na != nb {
			return off + int64(n), nil
		}
		if na < len(bufA) {
			return -1, nil
		}
		off += int64(n)
	}
}

// mismatch returns the first index where a and b, of equal length, differ,
// or -1.
func mismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
