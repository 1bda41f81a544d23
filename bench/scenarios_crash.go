package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Target of the crash scenario.
const crashTarget = 1.3 // (time until the kill + the resume) / a clean run

// crashTries bounds the runs of one crash pair whose kill came too late
// (the job had finished) or too early (it had not started).
const crashTries = 6

// crashPair is how one killed run and its resume went.
type crashPair struct {
	killed time.Duration // from the start until the killed run was reaped
	resume procResult
	report *JobReport
	counts map[string]int64
	// late: the job had finished when the kill landed, or it exited
	// before; early: the kill landed before the job was recorded. Neither
	// has a resume.
	late, early bool
}

// runCrash measures the time one crash and resume lose on the wordcount
// scenario's job (256 MiB at scale 1): per repetition, a clean run, then a
// run SIGKILLed at half the clean runs' median wall time so far and
// resumed with the same command plus --resume, under a fixed --job and a
// fresh --store. Their total is compared with the clean median; every
// resumed output must count what the clean runs count.
func runCrash(b *bench, s *Scenario) error {
	in, err := b.input(b.size(256 * MiB))
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text; jetmr mapreduce --map wordcount --reduce sum", humanBytes(fileSize(in)))
	clean := &Contender{Name: "clean run", Jetmr: true}
	total := &Contender{Name: "killed at ~1/2 clean + resumed: total"}
	resumed := &Contender{Name: "of that total, the resume", Jetmr: true}
	s.Contenders = []*Contender{clean, total, resumed}

	var want map[string]int64
	var killedAt []float64 // seconds until the kill, per pair
	late, early := 0, 0
	for rep := 1; rep <= b.n; rep++ {
		out := b.fresh("crash-clean-out")
		res, report, err := b.runJetmr(wordcountArgs(in, out, fmt.Sprintf("bench-clean-%d", rep))...)
		if err != nil {
			os.RemoveAll(out)
			return err
		}
		got, err := readParts(out)
		os.RemoveAll(out)
		if err != nil {
			return err
		}
		if want == nil {
			want = got
		} else if err := compareCounts(fmt.Sprintf("clean run %d", rep), got, "clean run 1", want); err != nil {
			return err
		}
		clean.add(sampleOf(res, report))
		progress("crash %d/%d clean: %.3fs (%d tasks)", rep, b.n, res.Wall.Seconds(), report.Tasks)

		delay := time.Duration(clean.MedianSeconds() / 2 * float64(time.Second))
		for try := 1; ; try++ {
			if try > crashTries {
				return fmt.Errorf("crash %d: no kill landed while the job ran in %d tries (%d late, %d early; last delay %s)",
					rep, crashTries, late, early, delay.Round(time.Millisecond))
			}
			p, err := b.crashAndResume(in, fmt.Sprintf("bench-crash-%d", rep), delay)
			if err != nil {
				return fmt.Errorf("crash %d: %w", rep, err)
			}
			if p.late {
				late++
				progress("crash %d/%d: the job had finished when the kill at %s landed; retrying earlier", rep, b.n, delay.Round(time.Millisecond))
				delay = delay * 2 / 3
				continue
			}
			if p.early {
				early++
				progress("crash %d/%d: the kill at %s landed before the job started; retrying later", rep, b.n, delay.Round(time.Millisecond))
				delay = min(delay*3/2, time.Duration(clean.MedianSeconds()*0.9*float64(time.Second)))
				continue
			}
			if err := compareCounts(fmt.Sprintf("resumed run %d", rep), p.counts, "clean run 1", want); err != nil {
				return err
			}
			sum := p.killed + p.resume.Wall
			total.add(Sample{Seconds: sum.Seconds()})
			resumed.add(sampleOf(p.resume, p.report))
			killedAt = append(killedAt, p.killed.Seconds())
			progress("crash %d/%d: killed at %.3fs, resume %.3fs (ran %d of %d tasks, %d already committed): total %.3fs", rep, b.n,
				p.killed.Seconds(), p.resume.Wall.Seconds(), p.report.Executed, p.report.Tasks, p.report.Committed, sum.Seconds())
			break
		}
	}

	var words int64
	for _, n := range want {
		words += n
	}
	s.Checks = append(s.Checks, fmt.Sprintf("every resumed output counts what the clean runs count (%d distinct words, %d in all)", len(want), words))
	s.Notes = append(s.Notes, "each pair runs under a fixed --job and a fresh --store; the kill is SIGKILL at half the clean runs' median wall time so far; the total is the killed run's wall time (until it was reaped) plus the resume's")
	s.Notes = append(s.Notes, fmt.Sprintf("kills retried: %d landed after the job had finished (each retried with 2/3 of its delay), %d before it had started (each retried with 3/2 of it)", late, early))
	cleanMedian := clean.MedianSeconds()
	killMedian := median(killedAt, func(x float64) float64 { return x })
	s.metric("kill at (median), / clean", killMedian/cleanMedian, "", nil)
	s.metric("resume / clean", resumed.MedianSeconds()/cleanMedian, "", nil)
	s.metric("tasks the resume ran / all (report executed / tasks, median)", median(resumed.Samples, func(x Sample) float64 {
		return float64(x.Report.Executed) / float64(x.Report.Tasks)
	}), "", nil)
	s.metric("time lost = total - clean", total.MedianSeconds()-cleanMedian, "s", nil)
	s.metric("total / clean", total.MedianSeconds()/cleanMedian, "", &Target{Op: "<=", Value: crashTarget})
	return nil
}

// wordcountArgs are the arguments of the wordcount job over in into out
// under --job id.
func wordcountArgs(in, out, id string) []string {
	return []string{"mapreduce", "--map", "wordcount", "--reduce", "sum", "-i", in, "-o", out, "--job", id}
}

// crashAndResume runs the wordcount job over in as job id in a fresh
// store, SIGKILLs it delay after its start, resumes it and reads the
// resumed output. The store and the output are removed afterwards.
func (b *bench) crashAndResume(in, id string, delay time.Duration) (crashPair, error) {
	var p crashPair
	store, out := b.fresh("crash-store"), b.fresh("crash-out")
	defer os.RemoveAll(store)
	defer os.RemoveAll(out)
	args := wordcountArgs(in, out, id)
	res, killed, err := runProcKill(b.ctx, delay, b.jetmr, append(args, "--store", store)...)
	if err != nil {
		return p, fmt.Errorf("the run to kill: %w", err)
	}
	p.killed = res.Wall
	// A published output means the job was done, even if the process was
	// still stopping when the kill landed.
	if _, err := os.Lstat(out); !killed || err == nil {
		p.late = true
		return p, nil
	}
	// jetmr prints "jetmr: job ID" once the job is recorded: before that,
	// there is nothing to resume.
	if !strings.Contains(res.Stderr, "jetmr: job "+id) {
		p.early = true
		return p, nil
	}
	if p.resume, p.report, err = b.runJetmrIn(store, append(args, "--resume")...); err != nil {
		return p, fmt.Errorf("the resume: %w", err)
	}
	if p.counts, err = readParts(out); err != nil {
		return p, fmt.Errorf("the resume: %w", err)
	}
	return p, nil
}
