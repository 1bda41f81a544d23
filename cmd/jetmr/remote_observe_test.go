package main_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// workerName is the name a jetmr process gives its worker: host:pid.
func workerName(t *testing.T, p *clitest.Proc) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return host + ":" + strconv.Itoa(p.Cmd.Process.Pid)
}

// traceWorkers maps the trace's process ids to the workers their
// process_name metadata events name.
func traceWorkers(t *testing.T, path string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Name string `json:"name"`
			Ph   string `json:"ph"`
			Pid  int    `json:"pid"`
			Args struct {
				Name string `json:"name"`
			} `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the trace is not JSON: %v", err)
	}
	names := map[int]string{}
	for _, e := range doc.TraceEvents {
		if e.Ph == "M" && e.Name == "process_name" {
			names[e.Pid] = strings.TrimPrefix(e.Args.Name, "worker ")
		}
	}
	return names
}

// TestRemoteWorkersObserved runs jobs on jetmr worker processes: the
// submitter's job log, trace, run report and progress show every attempt
// they ran, retried failures included, under the worker's name; with a
// worker of its own beside them (--local-workers 1), every attempt once.
func TestRemoteWorkersObserved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		local  int  // --local-workers
		flaky  bool // every task's first attempt fails
		remote int  // worker processes
	}{
		{name: "workers only with retries", flaky: true, remote: 2},
		{name: "workers and the submitter's own", local: 1, remote: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			url := plainNATS(t)
			names := map[string]bool{}
			var workers []*workerProc
			for i := range tc.remote {
				w := startWorker(t, url, "-j", "2", "--spill", filepath.Join(dir, fmt.Sprintf("spill%d", i)))
				w.waitUp(t)
				names[workerName(t, w.Proc)] = true
				workers = append(workers, w)
			}
			in := filepath.Join(dir, "in.txt")
			// Chunks over 64 KiB, which workers do not fetch ahead of their
			// free slots, so that no worker takes every task at once.
			size := writeInput(t, in, 20000, false)
			argv, command := []string{"sh", "-c", "sleep 0.1; cat"}, "sh -c 'sleep 0.1; cat'"
			if tc.flaky {
				argv, _ = flakyCommand(t)
				command = strings.Join(argv, " ")
			}
			args := []string{"pipe", "--nats", url, "--local-workers", strconv.Itoa(tc.local), "--store", t.TempDir(),
				"--job", "remote-observed", "--no-speculative", "--retries", "2", "--chunk-size", "80KiB", "--progress",
				"-i", in, "-o", "out.txt", "--joblog", "j.tsv", "--trace", "t.json", "--report", "run.json", "--"}
			sub := clitest.Start(t, bin, dir, nil, append(args, argv...)...)
			own := workerName(t, sub)
			if code := sub.Wait(t, runTimeout); code != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", code, sub.Stderr)
			}
			for _, w := range workers {
				w.term(t)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); int64(len(got)) != size {
				t.Errorf("output has %d bytes, want the input's %d", len(got), size)
			}
			run := readRun(t, filepath.Join(dir, "run.json"))
			if run.Tasks < 8 || run.Failed != 0 {
				t.Fatalf("run report: %d tasks, %d failed; want about 12, none failed", run.Tasks, run.Failed)
			}
			perTask := 1
			if tc.flaky {
				perTask = 2
				checkTwoAttemptsEach(t, run)
			}
			want := perTask * run.Tasks
			if tc.local > 0 {
				names[own] = true
			}

			// The run report: one entry per attempt, on the workers.
			if len(run.Attempts) != want {
				t.Errorf("the run report has %d attempts, want %d per task: %d", len(run.Attempts), perTask, want)
			}
			ran := map[string]int{}
			once := map[[2]uint64]bool{}
			for _, a := range run.Attempts {
				ran[a.Worker]++
				key := [2]uint64{a.Index, uint64(a.Attempt)}
				if once[key] {
					t.Errorf("the run report has task %d attempt %d twice", a.Index, a.Attempt)
				}
				once[key] = true
			}
			for w := range ran {
				if !names[w] {
					t.Errorf("the run report has attempts on %q, which is none of the workers %v", w, names)
				}
			}
			if len(ran) != len(names) {
				t.Errorf("attempts by worker %v, want some on each of %v", ran, names)
			}

			// The job log: a row per attempt, on the workers.
			rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
			if len(rows) != want {
				t.Errorf("the job log has %d rows, want %d per task: %d", len(rows), perTask, want)
			}
			failed := 0
			for _, r := range rows {
				if !names[r.host] || r.command != command || r.start <= 0 || r.runtime < 0 {
					t.Errorf("job log row %+v: want a worker of %v, the command %q, a start and a runtime", r, names, command)
				}
				if r.exit != 0 {
					failed++
				}
			}
			if tc.flaky && failed != run.Tasks {
				t.Errorf("the job log has %d failed rows, want one per task: %d", failed, run.Tasks)
			}

			// The trace: an event per attempt, on its worker's lane.
			events, targs := readTrace(t, filepath.Join(dir, "t.json"))
			if len(events) != want {
				t.Errorf("the trace has %d events, want %d per task: %d", len(events), perTask, want)
			}
			lanes := traceWorkers(t, filepath.Join(dir, "t.json"))
			for i, e := range events {
				if w := lanes[e.Pid]; !names[w] {
					t.Errorf("trace event %s attempt %d is on the lane of %q, want one of the workers %v", e.Name, targs[i].Attempt, w, names)
				}
			}

			// Progress: the last line counts every task.
			if !strings.Contains(sub.Stderr.String(), fmt.Sprintf("/%d tasks (100%%)", run.Tasks)) {
				t.Errorf("stderr has no final progress line for %d tasks:\n%s", run.Tasks, sub.Stderr)
			}
		})
	}
}

// TestRemoteWorkersObservedPipeline runs a pipeline's stages on a jetmr
// worker process: its job log, trace and run report hold every stage's
// attempts, on the worker.
func TestRemoteWorkersObservedPipeline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	w := startWorker(t, url, "-j", "2", "--spill", filepath.Join(dir, "spill"))
	w.waitUp(t)
	name := workerName(t, w.Proc)
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 400, false)
	writeJobFile(t, dir, `
stages:
  - name: upper
    pipe: {input: [`+in+`], output: out/upper.txt, command: [tr, a-z, A-Z], chunk_size: 4KiB}
  - name: counts
    mapreduce: {input: [stage:upper], output: out/counts, map: wordcount, reduce: sum, partitions: 2, chunk_size: 4KiB}
`)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "pipeline", "--nats", url, "--local-workers", "0", "--store", t.TempDir(),
		"--joblog", "j.tsv", "--trace", "t.json", "--report", "run.json", "job.yaml")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	w.term(t)
	run := readRun(t, filepath.Join(dir, "run.json"))
	if run.Tasks < 4 {
		t.Fatalf("run report: %d tasks, want more: the input or chunk size is off", run.Tasks)
	}
	if len(run.Attempts) != run.Tasks {
		t.Errorf("the run report has %d attempts, want one per task of its stages: %d", len(run.Attempts), run.Tasks)
	}
	jobs := map[string]bool{}
	for _, a := range run.Attempts {
		jobs[a.Job] = true
		if a.Worker != name {
			t.Errorf("the run report has task %d of job %s on %q, want the worker %s", a.Index, a.Job, a.Worker, name)
		}
	}
	if len(jobs) != 2 {
		t.Errorf("the run report has attempts of %d stages' jobs, want 2", len(jobs))
	}
	rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
	if len(rows) != run.Tasks {
		t.Errorf("the job log has %d rows, want one per task: %d", len(rows), run.Tasks)
	}
	for _, row := range rows {
		if row.host != name {
			t.Errorf("job log row %+v: want the worker %s", row, name)
		}
	}
	if events, _ := readTrace(t, filepath.Join(dir, "t.json")); len(events) != run.Tasks {
		t.Errorf("the trace has %d events, want one per task: %d", len(events), run.Tasks)
	}
}

// TestRemoteWorkerDrainObserved drains a jetmr worker (SIGTERM) while it
// runs a task that outlives its --drain-timeout: the attempt it hands
// back is a retried failure row of the submitter's job log, and another
// worker's attempt of the same task its success row.
func TestRemoteWorkerDrainObserved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	marks := filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first attempt to get here sleeps, until its worker stops it.
	script := filepath.Join(dir, "slow-once.sh")
	body := `if mkdir "$1/slow" 2>/dev/null; then : > "$1/started"; sleep 30; fi; cat`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	first := startWorker(t, url, "-j", "1", "--drain-timeout", "300ms", "--spill", filepath.Join(dir, "spill1"))
	first.waitUp(t)
	drained := workerName(t, first.Proc)
	in := filepath.Join(dir, "in.txt")
	size := writeInput(t, in, 16000, false)
	sub := clitest.Start(t, bin, dir, nil, "pipe", "--nats", url, "--local-workers", "0", "--store", t.TempDir(),
		"--no-speculative", "--retries", "2", "--chunk-size", "80KiB", "-i", in, "-o", "out.txt", "--joblog", "j.tsv", "--", "sh", script, marks)
	eventually(t, runTimeout, "the slow attempt to start", func() (bool, string) {
		_, err := os.Stat(filepath.Join(marks, "started"))
		return err == nil, sub.Stderr.String()
	})
	second := startWorker(t, url, "-j", "2", "--spill", filepath.Join(dir, "spill2"))
	second.waitUp(t)
	other := workerName(t, second.Proc)
	first.term(t)
	if code := sub.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, sub.Stderr)
	}
	second.term(t)
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); int64(len(got)) != size {
		t.Errorf("output has %d bytes, want the input's %d", len(got), size)
	}
	rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
	perSeq := map[uint64][]jobLogRow{}
	for _, r := range rows {
		perSeq[r.seq] = append(perSeq[r.seq], r)
		if r.host != drained && r.host != other {
			t.Errorf("job log row %+v: want worker %s or %s", r, drained, other)
		}
	}
	if len(rows) != len(perSeq)+1 || len(perSeq) < 8 {
		t.Fatalf("the job log has %d rows for %d tasks, want one per task and one more: the handed-back attempt", len(rows), len(perSeq))
	}
	for seq, rs := range perSeq {
		if len(rs) == 1 {
			if rs[0].exit != 0 || rs[0].signal != 0 {
				t.Errorf("Seq %d: row %+v, want a success", seq, rs[0])
			}
			continue
		}
		slices.SortFunc(rs, func(a, b jobLogRow) int { return cmp.Compare(a.start, b.start) })
		cut, ok := rs[0], rs[1]
		if len(rs) != 2 || cut.host != drained || (cut.exit == 0 && cut.signal == 0) || ok.host != other || ok.exit != 0 || ok.signal != 0 {
			t.Errorf("Seq %d: rows %+v, want the attempt %s handed back (failed) and then %s's success", seq, rs, drained, other)
		}
	}
}

// metricsURL waits for the metrics address a jetmr process prints.
func metricsURL(t *testing.T, p *clitest.Proc) string {
	t.Helper()
	addrLine := regexp.MustCompile(`^jetmr: metrics on (http://127\.0\.0\.1:[1-9][0-9]*/metrics)$`)
	var url string
	eventually(t, runTimeout, "metrics address on stderr", func() (bool, string) {
		for _, l := range p.Stderr.Lines() {
			if m := addrLine.FindStringSubmatch(l); m != nil {
				url = m[1]
				return true, ""
			}
		}
		if p.Exited() {
			t.Fatalf("jetmr exited with status %d without printing the metrics address; stderr:\n%s", p.Code(), p.Stderr.String())
		}
		return false, "stderr:\n" + p.Stderr.String()
	})
	return url
}

// jobsScraped scrapes url and returns what it says of each job whose ID
// ends in one of suffixes, by suffix.
func jobsScraped(t *testing.T, url string, suffixes ...string) map[string]metricSample {
	t.Helper()
	fams, err := scrape(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	out := map[string]metricSample{}
	if f := fams["jetmr_tasks_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				for _, s := range suffixes {
					if l.GetName() == "job" && strings.HasSuffix(l.GetValue(), s) {
						out[s] = sampleOf(fams, l.GetValue())
					}
				}
			}
		}
	}
	return out
}

// TestRemoteWorkerInFlight runs a pipeline on a jetmr worker process
// (--local-workers 0) whose two stages each hold one task until the test
// releases it: while a stage's held task runs on the worker, the
// submitter's metrics count it in flight and its progress lines running;
// once the first stage's job is done, while the second's runs, the
// first's in flight is 0.
func TestRemoteWorkerInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	// One slot: a pipeline's pipe stages run backups of slow tasks on an
	// idle slot, and a backup of the held task would run too.
	w := startWorker(t, url, "-j", "1", "--spill", filepath.Join(dir, "spill"))
	w.waitUp(t)
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 2000, true)
	held, after := newGate(t, "0"), newGate(t, "0")
	t.Cleanup(held.release)
	t.Cleanup(after.release)
	quoted := func(argv []string) string { return "[" + strings.Join(argv, ", ") + "]" }
	writeJobFile(t, dir, `
stages:
  - name: held
    pipe: {input: [`+in+`], output: out/held.txt, command: `+quoted(held.argv)+`, chunk_size: 16KiB}
  - name: after
    pipe: {input: [stage:held], output: out/after.txt, command: `+quoted(after.argv)+`, chunk_size: 16KiB}
`)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub := clitest.Start(t, bin, dir, nil, "pipeline", "--nats", url, "--local-workers", "0", "--store", t.TempDir(),
		"--metrics", "127.0.0.1:0", "--progress", "job.yaml")
	murl := metricsURL(t, sub)

	// heldAlone waits until the stage's held task runs and every other
	// task of its job is done.
	heldAlone := func(g *gate, stage string) metricSample {
		t.Helper()
		var s metricSample
		eventually(t, runTimeout, "the held task of stage "+stage+" alone running", func() (bool, string) {
			if sub.Exited() {
				t.Fatalf("jetmr exited with status %d while a task was held; stderr:\n%s", sub.Code(), sub.Stderr.String())
			}
			s = jobsScraped(t, murl, "-"+stage)["-"+stage]
			return g.started() && s.queued >= 4 && s.done == s.queued-1, fmt.Sprintf("held task started %v, last scrape %+v", g.started(), s)
		})
		return s
	}
	if s := heldAlone(held, "held"); s.inFlight != 1 {
		t.Errorf("stage held: jetmr_tasks_in_flight = %v while its held task runs on the worker, want 1", s.inFlight)
	}
	running := regexp.MustCompile(`(?m)^jetmr: job \S+-held: .*, 1 running, `)
	eventually(t, runTimeout, "progress line of stage held with its task running", func() (bool, string) {
		return running.MatchString(sub.Stderr.String()), "stderr:\n" + sub.Stderr.String()
	})
	held.release()

	heldAlone(after, "after")
	jobs := jobsScraped(t, murl, "-held", "-after")
	if s := jobs["-held"]; s.inFlight != 0 || s.done != s.queued {
		t.Errorf("stage held once its job is done: %v in flight, %v of %v tasks done; want none in flight, all done", s.inFlight, s.done, s.queued)
	}
	if s := jobs["-after"]; s.inFlight != 1 {
		t.Errorf("stage after: jetmr_tasks_in_flight = %v while its held task runs on the worker, want 1", s.inFlight)
	}
	after.release()
	if code := sub.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, sub.Stderr)
	}
	w.term(t)
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "after.txt")); !strings.HasSuffix(string(got), "GATE\n") || len(got) < 2000*40 {
		t.Errorf("out/after.txt has %d bytes and does not end in the GATE line", len(got))
	}
}

// TestRemoteWorkerKilledInFlight SIGKILLs a jetmr worker while it runs a
// held task, which the submitter's metrics and jetmr status count in
// flight: once another worker runs the task again, the submitter counts
// that attempt alone in flight, not the killed one's too, whose end never
// comes; the job is done and its output whole.
func TestRemoteWorkerKilledInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	args := []string{"-j", "1", "--ack-wait", "2s", "--spill", filepath.Join(dir, "spill")}
	first := startWorker(t, url, args...)
	first.waitUp(t)
	in := filepath.Join(dir, "in.txt")
	size := writeInput(t, in, 2000, true)
	g := newGate(t, "0")
	t.Cleanup(g.release)
	sub := clitest.Start(t, bin, dir, nil, append([]string{"pipe", "--nats", url, "--local-workers", "0", "--store", t.TempDir(),
		"--job", "killed-in-flight", "--no-speculative", "--chunk-size", "16KiB", "--metrics", "127.0.0.1:0",
		"-i", in, "-o", "out.txt", "--"}, g.argv...)...)
	murl := metricsURL(t, sub)
	scrapeJob := func() metricSample {
		t.Helper()
		if sub.Exited() {
			t.Fatalf("jetmr exited with status %d while a task was held; stderr:\n%s", sub.Code(), sub.Stderr.String())
		}
		return jobsScraped(t, murl, "killed-in-flight")["killed-in-flight"]
	}
	var s metricSample
	eventually(t, runTimeout, "the held task alone running", func() (bool, string) {
		s = scrapeJob()
		return g.started() && s.queued >= 4 && s.done == s.queued-1, fmt.Sprintf("held task started %v, last scrape %+v", g.started(), s)
	})
	if s.inFlight != 1 {
		t.Errorf("jetmr_tasks_in_flight = %v while the held task runs on the first worker, want 1", s.inFlight)
	}
	// jetmr status counts the tasks workers hold, wherever they run.
	home := newStateHome(t)
	eventually(t, runTimeout, "jetmr status with the held task in flight", func() (bool, string) {
		f := home.statusOf(t, dir, "killed-in-flight", "--nats", url)
		return f.InFlight == 1 && f.TasksDone == int(s.queued)-1, fmt.Sprintf("last status %+v", f)
	})
	first.Signal(syscall.SIGKILL)
	<-first.Done()
	second := startWorker(t, url, args...)
	second.waitUp(t)
	// The task is delivered again once its ack wait passed: the second
	// worker's attempt is the only one running.
	eventually(t, runTimeout, "the held task delivered again", func() (bool, string) {
		s = scrapeJob()
		return s.redelivered >= 1, fmt.Sprintf("last scrape %+v", s)
	})
	if s = scrapeJob(); s.inFlight != 1 {
		t.Errorf("jetmr_tasks_in_flight = %v once the killed worker's task runs again on another, want 1: the killed attempt's end never comes", s.inFlight)
	}
	g.release()
	if code := sub.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, sub.Stderr)
	}
	second.term(t)
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); int64(len(got)) != size {
		t.Errorf("output has %d bytes, want the input's %d", len(got), size)
	}
}
