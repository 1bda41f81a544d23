package main_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
