package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/net/html"

	"github.com/jetmr/jetmr/internal/clitest"
)

// Tests of the observability flags through real jetmr processes: metrics
// scraped while a job runs, the job log, trace and run report of a job
// whose every task is retried once, "jetmr report", progress lines on a
// stderr that is not a terminal, and bad input that writes nothing.

// watchedRun is a jetmr process whose output is read while it runs.
type watchedRun = clitest.Proc

// startWatched starts jetmr in dir with a private state directory; stdout
// is a pipe (not a terminal) and so is stderr.
func startWatched(t *testing.T, dir string, args ...string) *watchedRun {
	t.Helper()
	return clitest.Start(t, bin, dir, nil, args...)
}

// pollInterval is how often the tests below look again at a condition.
const pollInterval = 10 * time.Millisecond

// eventually polls cond until it holds, failing the test with what and
// the message cond last returned if it does not within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: %s", what, timeout, msg)
		}
		time.Sleep(pollInterval)
	}
}

// writeInput writes n distinct numbered lines, then a line GATE if gate,
// and returns the file's size.
func writeInput(t *testing.T, path string, n int, gate bool) int64 {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%05d the quick brown fox jumps over %d lazy dogs\n", i, i*7919%10007)
	}
	if gate {
		b.WriteString("GATE\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return int64(b.Len())
}

// gateScript upper-cases its chunk (as tr a-z A-Z) after sleeping $2
// seconds. The chunk holding the line GATE first creates $1/started, then
// waits until $1/release exists (for at most about 20 seconds, so that no
// command outlives a failed test for long).
const gateScript = `in=$(mktemp "$1/chunk.XXXXXX") || exit 3
cat > "$in"
if grep -q '^GATE$' "$in"; then
	: > "$1/started"
	i=0
	while [ ! -e "$1/release" ] && [ "$i" -lt 2000 ]; do sleep 0.01; i=$((i+1)); done
fi
sleep "$2"
tr a-z A-Z < "$in"
rm -f "$in"
`

// gate holds the task of the GATE line until the test releases it.
type gate struct {
	dir  string
	argv []string
}

func newGate(t *testing.T, sleep string) *gate {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "gate.sh")
	if err := os.WriteFile(script, []byte(gateScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return &gate{dir: dir, argv: []string{"sh", script, dir, sleep}}
}

func (g *gate) started() bool {
	_, err := os.Stat(filepath.Join(g.dir, "started"))
	return err == nil
}

// release lets the gated task go on; it is idempotent.
func (g *gate) release() {
	os.WriteFile(filepath.Join(g.dir, "release"), nil, 0o644)
}

// flakyScript fails the first attempt of every chunk (exit status 1) and
// copies the chunk to stdout on the next. It keeps a marker per chunk
// content (CRC and length) in $1, created atomically with noclobber.
const flakyScript = `in=$(mktemp "$1/chunk.XXXXXX") || exit 3
cat > "$in"
mark="$1/$(cksum < "$in" | cut -d' ' -f1,2 | tr ' ' _).mark"
if (set -C; : > "$mark") 2>/dev/null; then
	rm -f "$in"
	echo "flaky: first attempt fails" >&2
	exit 1
fi
cat "$in"
rm -f "$in"
`

// flakyCommand returns the argv of a command that fails the first attempt
// of each chunk, and the folder of its markers.
func flakyCommand(t *testing.T) (argv []string, marks string) {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "flaky.sh")
	if err := os.WriteFile(script, []byte(flakyScript), 0o644); err != nil {
		t.Fatal(err)
	}
	marks = filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"sh", script, marks}, marks
}

// runAttempt is one attempt in the run report's attempts array.
type runAttempt struct {
	Job      string    `json:"job"`
	Stage    string    `json:"stage"`
	Index    uint64    `json:"index"`
	Attempt  int       `json:"attempt"`
	Worker   string    `json:"worker"`
	Slot     int       `json:"slot"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	ExitCode int       `json:"exit_code"`
	Signal   string    `json:"signal"`
	Failed   bool      `json:"failed"`
	Retried  bool      `json:"retried"`
	Command  string    `json:"command"`
}

// runReport is the part of --report's JSON these tests read.
type runReport struct {
	Job             string       `json:"job"`
	Kind            string       `json:"kind"`
	Tasks           int          `json:"tasks"`
	Failed          int          `json:"failed"`
	Executed        int          `json:"executed"`
	BytesIn         int64        `json:"bytes_in"`
	Attempts        []runAttempt `json:"attempts"`
	DroppedAttempts int64        `json:"dropped_attempts"`
}

func readRun(t *testing.T, path string) runReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the run report: %v", err)
	}
	var r runReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the run report %s does not parse: %v", path, err)
	}
	return r
}

// byIndex groups attempts by task index, each group ordered by attempt.
func byIndex(attempts []runAttempt) map[uint64][]runAttempt {
	m := make(map[uint64][]runAttempt)
	for _, a := range attempts {
		m[a.Index] = append(m[a.Index], a)
	}
	for _, as := range m {
		slices.SortFunc(as, func(a, b runAttempt) int { return a.Attempt - b.Attempt })
	}
	return m
}

// checkTwoAttemptsEach checks that every task 0..tasks-1 of the report
// has exactly a failed, retried first attempt with exit status 1 and a
// successful second one that started after the first ended.
func checkTwoAttemptsEach(t *testing.T, run runReport) {
	t.Helper()
	if len(run.Attempts) != 2*run.Tasks {
		t.Errorf("the run report has %d attempts, want 2 per task: %d", len(run.Attempts), 2*run.Tasks)
	}
	groups := byIndex(run.Attempts)
	for i := range uint64(run.Tasks) {
		as := groups[i]
		if len(as) != 2 || as[0].Attempt != 1 || as[1].Attempt != 2 {
			t.Errorf("task %d: attempts %+v, want attempts 1 and 2", i, as)
			continue
		}
		first, second := as[0], as[1]
		if !first.Failed || !first.Retried || first.ExitCode != 1 {
			t.Errorf("task %d attempt 1: failed %v retried %v exit %d, want a retried failure with exit status 1", i, first.Failed, first.Retried, first.ExitCode)
		}
		if second.Failed || second.Retried || second.ExitCode != 0 {
			t.Errorf("task %d attempt 2: failed %v retried %v exit %d, want a success", i, second.Failed, second.Retried, second.ExitCode)
		}
		if second.Start.Before(first.End) || first.End.Before(first.Start) {
			t.Errorf("task %d: attempt 1 ran %s-%s, attempt 2 started %s", i, first.Start, first.End, second.Start)
		}
	}
	if len(groups) != run.Tasks {
		t.Errorf("attempts of %d distinct tasks, want %d", len(groups), run.Tasks)
	}
}

// scrapeClient opens a new connection per scrape, so that none is left
// idle when the server goes away.
var scrapeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape fetches and parses url in the Prometheus text format.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing the scrape: %v\n%s", err, body)
	}
	return fams, nil
}

// metricValue sums the series of family name whose labels include want:
// counter, gauge and untyped values, histogram sample counts. A family or
// series not there yet counts 0.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		have := make(map[string]string)
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// metricSample is what one scrape says of a job.
type metricSample struct {
	queued, running, done, failed, redelivered float64 // jetmr_tasks_total by state
	observed                                   float64 // jetmr_task_duration_seconds count
	bytesIn, inFlight, slots, utilization      float64
}

func sampleOf(fams map[string]*dto.MetricFamily, job string) metricSample {
	state := func(s string) float64 {
		return metricValue(fams, "jetmr_tasks_total", map[string]string{"job": job, "state": s})
	}
	j := map[string]string{"job": job}
	return metricSample{
		queued: state("queued"), running: state("running"), done: state("done"),
		failed: state("failed"), redelivered: state("redelivered"),
		observed:    metricValue(fams, "jetmr_task_duration_seconds", j),
		bytesIn:     metricValue(fams, "jetmr_bytes_in_total", j),
		inFlight:    metricValue(fams, "jetmr_tasks_in_flight", j),
		slots:       metricValue(fams, "jetmr_slots", j),
		utilization: metricValue(fams, "jetmr_utilization", j),
	}
}

// counters lists the monotonic figures of a sample, by name.
func (s metricSample) counters() map[string]float64 {
	return map[string]float64{
		"queued": s.queued, "running": s.running, "done": s.done, "failed": s.failed,
		"redelivered": s.redelivered, "duration count": s.observed, "bytes in": s.bytesIn,
	}
}

// TestMetricsDuringRun scrapes --metrics while a pipe job runs. The task
// of the last chunk is held until the test has seen every other task done:
// that scrape must count exactly the tasks done so far; scrapes never go
// backwards, the done count grows while the job runs, and no scrape counts
// more than the run report's tasks.
func TestMetricsDuringRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	size := writeInput(t, in, 800, true)
	split := []string{"-i", in, "--chunk-size", "1000"}

	// The same input and chunk size split the same way: a quick first run
	// tells how many tasks the watched run has.
	pre := jetmr(t, dir, append(append([]string{"pipe", "--store", t.TempDir(), "-q", "--report", "pre.json", "-o", "pre.txt"}, split...), "--", "cat")...)
	if pre.code != 0 {
		t.Fatalf("first run: exit status %d; stderr:\n%s", pre.code, pre.stderr)
	}
	tasks := float64(readRun(t, filepath.Join(dir, "pre.json")).Tasks)
	if tasks < 30 {
		t.Fatalf("%v tasks, want about 40: the input or chunk size is off", tasks)
	}

	const job = "metrics-job"
	g := newGate(t, "0.03")
	// No backup attempts: the held task would get one once the other
	// slot is idle, and the counts below are of one attempt per task.
	args := append([]string{"pipe", "--store", t.TempDir(), "--job", job, "-j", "2", "--metrics", "127.0.0.1:0", "--no-speculative",
		"--report", "run.json", "-o", "out.txt"}, split...)
	p := startWatched(t, dir, append(append(args, "--"), g.argv...)...)
	t.Cleanup(g.release) // before the process is killed: cleanups run last first

	addrLine := regexp.MustCompile(`^jetmr: metrics on (http://127\.0\.0\.1:[1-9][0-9]*/metrics)$`)
	var url string
	eventually(t, 20*time.Second, "metrics address on stderr", func() (bool, string) {
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

	var samples []metricSample
	record := func(s metricSample) {
		t.Helper()
		if n := len(samples); n > 0 {
			prev := samples[n-1].counters()
			for name, v := range s.counters() {
				if v < prev[name] {
					t.Errorf("scrape %d: %s went down from %v to %v", n, name, prev[name], v)
				}
			}
		}
		if s.done > tasks || s.observed > tasks || s.queued > tasks || s.running > tasks {
			t.Errorf("scrape %d counts more than the job's %v tasks: %+v", len(samples), tasks, s)
		}
		samples = append(samples, s)
	}

	// Scrape until every task but the held one is done.
	eventually(t, 25*time.Second, "scrape with every task but the held one done", func() (bool, string) {
		fams, err := scrape(url)
		if err != nil {
			t.Fatalf("scrape %d while the job runs: %v", len(samples), err)
		}
		s := sampleOf(fams, job)
		record(s)
		if p.Exited() {
			t.Fatalf("jetmr exited with status %d while a task was held; stderr:\n%s", p.Code(), p.Stderr.String())
		}
		return g.started() && s.done == tasks-1, fmt.Sprintf("held task started %v, last scrape %+v", g.started(), s)
	})
	// Nothing can change until the release: let any figure written after
	// the done count catch up, then check them all.
	want := metricSample{queued: tasks, running: tasks, done: tasks - 1, observed: tasks - 1, inFlight: 1, slots: 2}
	var held metricSample
	deadline := time.Now().Add(2 * time.Second)
	for {
		fams, err := scrape(url)
		if err != nil {
			t.Fatalf("scrape while a task is held: %v", err)
		}
		held = sampleOf(fams, job)
		record(held)
		settled := held
		settled.bytesIn, settled.utilization = 0, 0
		if settled == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{`jetmr_tasks_total{state="queued"}`, held.queued, want.queued},
		{`jetmr_tasks_total{state="running"}`, held.running, want.running},
		{`jetmr_tasks_total{state="done"}`, held.done, want.done},
		{`jetmr_tasks_total{state="failed"}`, held.failed, 0},
		{`jetmr_tasks_total{state="redelivered"}`, held.redelivered, 0},
		{"jetmr_task_duration_seconds_count", held.observed, want.observed},
		{"jetmr_tasks_in_flight", held.inFlight, 1},
		{"jetmr_slots", held.slots, 2},
	} {
		if c.got != c.want {
			t.Errorf("with all tasks but one done: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if held.bytesIn <= 0 || held.bytesIn >= float64(size) {
		t.Errorf("with all tasks but one done: jetmr_bytes_in_total = %v, want between 0 and the input's %d bytes", held.bytesIn, size)
	}
	if held.utilization <= 0 || held.utilization > 1+1e-9 {
		t.Errorf("jetmr_utilization = %v, want in (0, 1]", held.utilization)
	}
	if samples[0].done >= held.done {
		t.Errorf("the done count never grew: first scrape %v, last %v", samples[0].done, held.done)
	}

	// Release the held task and keep scraping until the process exits; the
	// server may go away at any moment now.
	g.release()
	for !p.Exited() {
		if fams, err := scrape(url); err == nil {
			record(sampleOf(fams, job))
		}
		select {
		case <-p.Done():
		case <-time.After(pollInterval):
		}
	}
	if code := p.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.Stderr.String())
	}
	run := readRun(t, filepath.Join(dir, "run.json"))
	if float64(run.Tasks) != tasks || run.Job != job || run.Failed != 0 {
		t.Errorf("run report: job %q, %d tasks, %d failed; want job %q, %v tasks, none failed", run.Job, run.Tasks, run.Failed, job, tasks)
	}
	if len(run.Attempts) != run.Tasks {
		t.Errorf("run report: %d attempts, want one per task: %d", len(run.Attempts), run.Tasks)
	}
	for _, a := range run.Attempts {
		if a.Failed || a.Retried || a.Signal != "" || a.ExitCode != 0 {
			t.Errorf("run report: task %d attempt %d failed %v, retried %v, signal %q, exit %d; want a success", a.Index, a.Attempt, a.Failed, a.Retried, a.Signal, a.ExitCode)
		}
	}
	last := samples[len(samples)-1]
	if last.done < tasks-1 || last.done > float64(run.Tasks) {
		t.Errorf("last scrape counts %v tasks done, want %v or %d", last.done, tasks-1, run.Tasks)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
	if string(got) != sequential(t, []string{"tr", "a-z", "A-Z"}, in) {
		t.Errorf("output (%d bytes) differs from the sequential run", len(got))
	}
	t.Logf("%d scrapes; done counts from %v to %v of %d tasks", len(samples), samples[0].done, last.done, run.Tasks)
}

// jobLogHeader is GNU parallel's --joblog header.
const jobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"

// jobLogRow is one parsed row of a job log.
type jobLogRow struct {
	seq                 uint64
	host                string
	start, runtime      float64
	send, receive, exit int64
	signal              int64
	command             string
}

// readJobLog parses a job log strictly: the header, then rows of nine
// tab-separated columns.
func readJobLog(t *testing.T, path string) []jobLogRow {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the job log: %v", err)
	}
	s := string(data)
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("the job log does not end with a newline:\n%s", s)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if lines[0] != jobLogHeader {
		t.Fatalf("job log header %q, want %q", lines[0], jobLogHeader)
	}
	var rows []jobLogRow
	for n, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("job log row %d has %d columns, want 9: %q", n+1, len(f), line)
		}
		var r jobLogRow
		var errs []error
		parseInt := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			errs = append(errs, err)
			return v
		}
		parseFloat := func(s string) float64 {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			errs = append(errs, err)
			return v
		}
		seq, err := strconv.ParseUint(f[0], 10, 64)
		errs = append(errs, err)
		r.seq, r.host, r.start, r.runtime = seq, f[1], parseFloat(f[2]), parseFloat(f[3])
		r.send, r.receive, r.exit, r.signal, r.command = parseInt(f[4]), parseInt(f[5]), parseInt(f[6]), parseInt(f[7]), f[8]
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("job log row %d %q: %v", n+1, line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// traceEvent is one Chrome trace event.
type traceEvent struct {
	Name  string          `json:"name"`
	Cat   string          `json:"cat"`
	Ph    string          `json:"ph"`
	Ts    float64         `json:"ts"`
	Dur   float64         `json:"dur"`
	Pid   int             `json:"pid"`
	Tid   int             `json:"tid"`
	Cname string          `json:"cname"`
	Args  json.RawMessage `json:"args"`
}

type traceTaskArgs struct {
	Job     string  `json:"job"`
	Index   *uint64 `json:"index"`
	Attempt int     `json:"attempt"`
	BytesIn int64   `json:"bytes_in"`
	Exit    int     `json:"exit"`
	Failed  bool    `json:"failed"`
	Retried bool    `json:"retried"`
}

// readTrace parses a trace file and returns its complete ("X") events with
// their task arguments, checking that each one's worker and slot are named
// by metadata events.
func readTrace(t *testing.T, path string) ([]traceEvent, []traceTaskArgs) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the trace: %v", err)
	}
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the trace is not JSON: %v", err)
	}
	type procThread struct{ pid, tid int }
	processes, threads := map[int]bool{}, map[procThread]bool{}
	var events []traceEvent
	var args []traceTaskArgs
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "M":
			switch e.Name {
			case "process_name":
				processes[e.Pid] = true
			case "thread_name":
				threads[procThread{e.Pid, e.Tid}] = true
			}
		case "X":
			var a traceTaskArgs
			if err := json.Unmarshal(e.Args, &a); err != nil || a.Index == nil {
				t.Fatalf("trace event %s has args %s, want the task's (%v)", e.Name, e.Args, err)
			}
			events, args = append(events, e), append(args, a)
		default:
			t.Errorf("trace event %q has phase %q, want X or M", e.Name, e.Ph)
		}
	}
	for _, e := range events {
		if !processes[e.Pid] || !threads[procThread{e.Pid, e.Tid}] {
			t.Errorf("trace event %s on pid %d tid %d, which no metadata event names", e.Name, e.Pid, e.Tid)
		}
	}
	return events, args
}

// TestJoblogTraceRetries runs a job whose every task fails its first
// attempt and succeeds its second: the job log, the trace and the run
// report each hold exactly one row, event or entry per attempt, and they
// agree with each other.
func TestJoblogTraceRetries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	size := writeInput(t, in, 240, false)
	argv, marks := flakyCommand(t)
	before := time.Now()
	args := []string{"pipe", "--store", t.TempDir(), "--job", "joblog-job", "-j", "4", "--chunk-size", "1000", "--retries", "2",
		"-i", in, "-o", "out.txt", "--joblog", "j.tsv", "--trace", "t.json", "--report", "run.json", "--"}
	res := jetmr(t, dir, append(args, argv...)...)
	after := time.Now()
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	run := readRun(t, filepath.Join(dir, "run.json"))
	tasks := run.Tasks
	if tasks < 8 || run.Failed != 0 {
		t.Fatalf("run report: %d tasks, %d failed; want about 12, none failed", tasks, run.Failed)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); int64(len(got)) != size {
		t.Errorf("output has %d bytes, want the input's %d", len(got), size)
	}
	if m, _ := filepath.Glob(filepath.Join(marks, "*.mark")); len(m) != tasks {
		t.Fatalf("the command saw %d distinct chunks, want one per task: %d", len(m), tasks)
	}
	checkTwoAttemptsEach(t, run)
	attempts := make(map[[2]uint64]runAttempt) // by index, attempt
	for _, a := range run.Attempts {
		attempts[[2]uint64{a.Index, uint64(a.Attempt)}] = a
	}
	inRun := func(unixSeconds float64) bool {
		return unixSeconds >= float64(before.UnixMilli())/1e3-0.001 && unixSeconds <= float64(after.UnixMilli())/1e3+0.001
	}

	t.Run("joblog", func(t *testing.T) {
		rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
		if len(rows) != 2*tasks {
			t.Fatalf("the job log has %d rows, want 2 per task: %d", len(rows), 2*tasks)
		}
		exits := map[int64]int{}
		perSeq := map[uint64][]jobLogRow{}
		var sent, received int64
		command := strings.Join(argv, " ")
		for _, r := range rows {
			exits[r.exit]++
			perSeq[r.seq] = append(perSeq[r.seq], r)
			if r.exit == 0 {
				sent += r.send
				received += r.receive
			}
			if r.host == "" || r.signal != 0 || r.command != command || r.runtime < 0 || !inRun(r.start) {
				t.Errorf("job log row %+v: want a host, signal 0, command %q, a runtime and a start time during the run", r, command)
			}
		}
		if exits[1] != tasks || exits[0] != tasks || len(exits) != 2 {
			t.Errorf("job log exit values %v, want %d rows of 1 and %d of 0", exits, tasks, tasks)
		}
		if sent != size || received != size {
			t.Errorf("the successful rows send %d and receive %d bytes, want the input's %d each (cat)", sent, received, size)
		}
		for seq := uint64(1); seq <= uint64(tasks); seq++ {
			rs := perSeq[seq]
			if len(rs) != 2 {
				t.Errorf("Seq %d has %d rows, want 2", seq, len(rs))
				continue
			}
			slices.SortFunc(rs, func(a, b jobLogRow) int { return int(b.exit - a.exit) }) // the failure first
			failed, ok := rs[0], rs[1]
			if failed.exit != 1 || ok.exit != 0 || failed.receive != 0 || failed.send != ok.send || failed.start > ok.start {
				t.Errorf("Seq %d: rows %+v and %+v, want a failure (exit 1, nothing received) and then a success of the same input", seq, failed, ok)
			}
			// The rows are the report's attempts, to the millisecond.
			for n, r := range []jobLogRow{failed, ok} {
				a, found := attempts[[2]uint64{seq - 1, uint64(n + 1)}]
				if !found {
					continue // reported above
				}
				if start := float64(a.Start.UnixNano()) / 1e9; math.Abs(start-r.start) > 0.0011 || a.BytesIn != r.send || a.BytesOut != r.receive {
					t.Errorf("Seq %d attempt %d: job log start %.3f, %d bytes in, %d out; report %.3f, %d in, %d out",
						seq, n+1, r.start, r.send, r.receive, start, a.BytesIn, a.BytesOut)
				}
			}
		}
		if len(perSeq) != tasks {
			t.Errorf("the job log has %d distinct Seq values, want %d", len(perSeq), tasks)
		}
	})

	t.Run("trace", func(t *testing.T) {
		events, args := readTrace(t, filepath.Join(dir, "t.json"))
		if len(events) != 2*tasks {
			t.Fatalf("the trace has %d complete events, want 2 per task: %d", len(events), 2*tasks)
		}
		seen := map[[2]uint64]bool{}
		for i, e := range events {
			a := args[i]
			key := [2]uint64{*a.Index, uint64(a.Attempt)}
			if seen[key] {
				t.Errorf("task %d attempt %d has two trace events", key[0], key[1])
			}
			seen[key] = true
			want := "task " + strconv.FormatUint(*a.Index, 10)
			if e.Name != want || e.Cat != "task" || e.Dur < 0 || !inRun(e.Ts/1e6) || a.Job != "joblog-job" {
				t.Errorf("trace event %+v (args %+v): want name %q, cat task, a duration, a time during the run and job joblog-job", e, a, want)
			}
			switch a.Attempt {
			case 1:
				if !a.Failed || !a.Retried || a.Exit != 1 || e.Cname != "bad" {
					t.Errorf("trace event %s attempt 1: %+v, cname %q; want a retried failure with exit 1, coloured bad", e.Name, a, e.Cname)
				}
			case 2:
				if a.Failed || a.Retried || a.Exit != 0 || e.Cname != "" {
					t.Errorf("trace event %s attempt 2: %+v, cname %q; want a success, not coloured", e.Name, a, e.Cname)
				}
			default:
				t.Errorf("trace event %s is attempt %d, want 1 or 2", e.Name, a.Attempt)
			}
			if r, ok := attempts[key]; ok {
				if start := float64(r.Start.UnixNano()) / 1e3; math.Abs(start-e.Ts) > 1 || r.BytesIn != a.BytesIn {
					t.Errorf("trace event %s attempt %d starts at %.0fµs with %d bytes in; the report says %.0fµs, %d bytes", e.Name, a.Attempt, e.Ts, a.BytesIn, start, r.BytesIn)
				}
			}
		}
		if len(seen) != 2*tasks {
			t.Errorf("the trace covers %d distinct attempts, want %d", len(seen), 2*tasks)
		}
	})
}

// TestJoblogMapReduce checks that mapreduce takes the same flags: one job
// log row and one trace event per attempt in the run report.
func TestJoblogMapReduce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 200, false)
	res := jetmr(t, dir, "mapreduce", "--store", t.TempDir(), "-i", in, "-o", "counts", "--map", "wordcount", "--reduce", "sum",
		"--chunk-size", "1000", "--progress", "--joblog", "j.tsv", "--trace", "t.json", "--report", "run.json")
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	run := readRun(t, filepath.Join(dir, "run.json"))
	if run.Tasks < 5 || len(run.Attempts) < run.Tasks {
		t.Fatalf("run report: %d tasks, %d attempts; want about 10 tasks and an attempt each", run.Tasks, len(run.Attempts))
	}
	rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
	events, _ := readTrace(t, filepath.Join(dir, "t.json"))
	if len(rows) != len(run.Attempts) || len(events) != len(run.Attempts) {
		t.Errorf("%d job log rows and %d trace events, want one per attempt: %d", len(rows), len(events), len(run.Attempts))
	}
	for _, r := range rows {
		if r.exit != 0 || r.command != "wordcount" {
			t.Errorf("job log row %+v: want exit 0 and command wordcount", r)
		}
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("/%d tasks (100%%)", run.Tasks)) {
		t.Errorf("stderr has no final progress line for %d tasks:\n%s", run.Tasks, res.stderr)
	}
}

// hasClasses reports whether n is an element tag with all the classes.
func hasClasses(n *html.Node, tag string, classes ...string) bool {
	if n.Type != html.ElementNode || n.Data != tag {
		return false
	}
	for _, a := range n.Attr {
		if a.Key == "class" {
			have := strings.Fields(a.Val)
			return !slices.ContainsFunc(classes, func(c string) bool { return !slices.Contains(have, c) })
		}
	}
	return false
}

// countClasses counts the tag elements with all the classes under n.
func countClasses(n *html.Node, tag string, classes ...string) int {
	count := 0
	if hasClasses(n, tag, classes...) {
		count++
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		count += countClasses(ch, tag, classes...)
	}
	return count
}

// TestReportCommand checks "jetmr report": the text summary, the page with
// a bar per attempt (in the browser too, when Chromium is installed), and
// one clear line for a file that is not a run report.
func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 120, false)
	argv, _ := flakyCommand(t)
	args := []string{"pipe", "--store", t.TempDir(), "--job", "report-cmd-job", "-j", "2", "--chunk-size", "1000", "--retries", "2",
		"-i", in, "-o", "out.txt", "--report", "run.json", "--"}
	if res := jetmr(t, dir, append(args, argv...)...); res.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	run := readRun(t, filepath.Join(dir, "run.json"))
	checkTwoAttemptsEach(t, run)
	attempts := len(run.Attempts)
	if attempts < 6 {
		t.Fatalf("%d attempts, want at least 6", attempts)
	}

	text := jetmr(t, dir, "report", "run.json")
	if text.code != 0 || text.stderr != "" {
		t.Fatalf("report: exit status %d, stderr %q; want 0 and nothing", text.code, text.stderr)
	}
	if first, _, _ := strings.Cut(text.stdout, "\n"); first != "jetmr run report: job report-cmd-job (pipe)" {
		t.Errorf("report's first line %q, want the job and its kind", first)
	}
	for _, re := range []string{
		`(?m)^tasks +` + strconv.Itoa(run.Tasks) + `$`,
		`(?m)^efficiency +\d+% +target ≥ \d+% +(met|missed)$`,
		`(?m)^utilization +\d+% +target ≥ \d+% +(met|missed)$`,
		`(?m)^advice$`,
	} {
		if !regexp.MustCompile(re).MatchString(text.stdout) {
			t.Errorf("report's summary has no line matching %s:\n%s", re, text.stdout)
		}
	}

	page := filepath.Join(dir, "page.html")
	res := jetmr(t, dir, "report", "run.json", "--html", "page.html")
	if res.code != 0 || res.stderr != "" || res.stdout != text.stdout {
		t.Fatalf("report --html: exit status %d, stderr %q, stdout the summary %v; want 0, nothing and true", res.code, res.stderr, res.stdout == text.stdout)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	if got := strings.Count(doc, `class="task-bar`); got != attempts {
		t.Errorf("the page has %d task bars, want one per attempt: %d", got, attempts)
	}
	if got := strings.Count(doc, `class="task-bar retried"`); got != run.Tasks {
		t.Errorf("the page has %d retried task bars, want one per task: %d", got, run.Tasks)
	}
	if !strings.Contains(doc, "report-cmd-job") {
		t.Error("the page does not name the job")
	}
	for _, external := range []string{"<script", "<link", `src="http`, "url(http"} {
		if strings.Contains(doc, external) {
			t.Errorf("the page is not self-contained: it has %q", external)
		}
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"in.txt", "out.txt", "page.html", "run.json"}) {
		t.Errorf("the folder holds %q, want only the input, output, report and page", names)
	}

	t.Run("in the browser", func(t *testing.T) {
		chromium := "/usr/bin/chromium"
		if _, err := os.Stat(chromium); err != nil {
			if chromium, err = exec.LookPath("chromium"); err != nil {
				t.Skip("chromium is not installed: not loading the page in a headless browser")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-crash-reporter",
			"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
		cmd.WaitDelay = 10 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		dom, err := html.Parse(&stdout)
		if err != nil {
			t.Fatalf("the dumped DOM does not parse: %v", err)
		}
		if got := countClasses(dom, "rect", "task-bar"); got != attempts {
			t.Errorf("the browser's DOM has %d task bars, want one per attempt: %d", got, attempts)
		}
		if got := countClasses(dom, "rect", "task-bar", "retried"); got != run.Tasks {
			t.Errorf("the browser's DOM has %d retried task bars, want %d", got, run.Tasks)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		bad := t.TempDir()
		for name, content := range map[string]string{
			"other.json": `{"hello": "world"}`,
			"array.json": `[1, 2, 3]`,
			"text.json":  "not JSON at all\n",
			"empty.json": "",
		} {
			if err := os.WriteFile(filepath.Join(bad, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"missing.json"}, []string{"missing.json", "no such file"}},
			{[]string{"other.json"}, []string{"other.json", "not a jetmr run report"}},
			{[]string{"array.json", "--html", "page.html"}, []string{"array.json", "not a jetmr run report"}},
			{[]string{"text.json"}, []string{"text.json", "not a jetmr run report"}},
			{[]string{"empty.json"}, []string{"empty.json", "not a jetmr run report"}},
			{[]string{"--html", "page.html"}, []string{"RUN.json"}},
			{[]string{"run.json", "other.json"}, []string{"RUN.json"}},
		} {
			t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
				before := dirNames(t, bad)
				res := jetmr(t, bad, append([]string{"report"}, tt.args...)...)
				if res.code != 2 {
					t.Fatalf("exit status %d, want 2; stderr:\n%s", res.code, res.stderr)
				}
				lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetmr: ") || !strings.HasSuffix(res.stderr, "\n") {
					t.Errorf("stderr is %d lines, want one line starting with \"jetmr: \":\n%s", len(lines), res.stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(res.stderr, w) {
						t.Errorf("stderr does not mention %q:\n%s", w, res.stderr)
					}
				}
				if res.stdout != "" {
					t.Errorf("stdout %q, want nothing", res.stdout)
				}
				if after := dirNames(t, bad); !slices.Equal(before, after) {
					t.Errorf("the folder changed from %q to %q", before, after)
				}
			})
		}
	})
}

// progressLine is the line written every few seconds while a job runs;
// finalLine the one written when it ends.
var (
	progressLine = regexp.MustCompile(`^jetmr: job (\S+)(?: stage \S+)?: (\d+)/(\d+)(\+?) tasks(?: \(\d+%\))?, [^,]+, (\d+) running, [0-9.]+ tasks/s, ETA [^,]+, (\d+) failed$`)
	finalLine    = regexp.MustCompile(`^jetmr: job (\S+)(?: stage \S+)?: (\d+)/(\d+) tasks \(\d+%\), [^,]+, done in [^,]+, (\d+) failed$`)
)

// TestProgressNotTerminal runs a pipe job to stdout with --progress and
// stderr a pipe: a progress line comes every few seconds and a last one at
// the end, each a whole line, and stdout is exactly the sequential output.
func TestProgressNotTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 400, true)
	g := newGate(t, "0.01")
	args := []string{"pipe", "--store", t.TempDir(), "--job", "progress-job", "-j", "2", "--chunk-size", "1000", "--progress",
		"--report", "run.json", "-i", in, "--"}
	p := startWatched(t, dir, append(args, g.argv...)...)
	t.Cleanup(g.release)

	// The held task keeps the job running until a periodic line shows.
	eventually(t, 20*time.Second, "periodic progress line", func() (bool, string) {
		if p.Exited() {
			t.Fatalf("jetmr exited with status %d while a task was held; stderr:\n%s", p.Code(), p.Stderr.String())
		}
		for _, l := range p.Stderr.Lines() {
			if progressLine.MatchString(l) {
				return true, ""
			}
		}
		return false, "stderr:\n" + p.Stderr.String()
	})
	g.release()
	if code := p.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.Stderr.String())
	}
	run := readRun(t, filepath.Join(dir, "run.json"))
	stderr := p.Stderr.String()
	if !strings.HasSuffix(stderr, "\n") || strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("stderr is not plain whole lines:\n%q", stderr)
	}
	var periodic, final int
	for _, l := range p.Stderr.Lines() {
		if !strings.HasPrefix(l, "jetmr: ") && !strings.HasPrefix(l, "{") {
			t.Errorf("stderr line %q is neither a jetmr message nor a JSON log line", l)
		}
		if !strings.HasPrefix(l, "jetmr: job ") || !strings.Contains(l, " tasks") {
			continue // the job ID, advice, logs
		}
		if strings.Count(l, "jetmr:") != 1 {
			t.Errorf("stderr line mixes several messages: %q", l)
		}
		if m := progressLine.FindStringSubmatch(l); m != nil {
			periodic++
			done, _ := strconv.Atoi(m[2])
			known, _ := strconv.Atoi(m[3])
			running, _ := strconv.Atoi(m[5])
			if m[1] != "progress-job" || done > known || known > run.Tasks || (m[4] == "" && known != run.Tasks) || running > 2 {
				t.Errorf("progress line %q: want job progress-job, at most %d tasks, at most its 2 slots running", l, run.Tasks)
			}
			continue
		}
		if m := finalLine.FindStringSubmatch(l); m != nil {
			final++
			if n := strconv.Itoa(run.Tasks); m[1] != "progress-job" || m[2] != n || m[3] != n || m[4] != "0" {
				t.Errorf("last progress line %q, want %d/%d tasks (100%%) of job progress-job, 0 failed", l, run.Tasks, run.Tasks)
			}
			continue
		}
		if !strings.HasPrefix(l, fmt.Sprintf("jetmr: job progress-job: %d tasks in ", run.Tasks)) {
			t.Errorf("stderr line %q is neither a progress line nor the summary", l)
		}
	}
	if periodic == 0 || final != 1 {
		t.Errorf("%d periodic progress lines and %d last lines, want some and one; stderr:\n%s", periodic, final, stderr)
	}
	if want := sequential(t, []string{"tr", "a-z", "A-Z"}, in); p.Stdout.String() != want {
		t.Errorf("stdout (%d bytes) differs from the sequential run (%d bytes)", p.Stdout.Len(), len(want))
	}
}

// TestObserveBadInputWritesNothing checks that a job refused as bad input
// exits 2 with one line and creates no job log, trace or report.
func TestObserveBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	crlf := td(t, "crlf.txt")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests, unlike a defer
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing input", []string{"pipe", "-i", "nope.txt", "-o", "out.txt", "--", "cat"}, []string{"nope.txt"}},
		{"command not on PATH", []string{"pipe", "-i", crlf, "-o", "out.txt", "--", "jetmr-no-such-command"}, []string{"jetmr-no-such-command"}},
		{"output's folder missing", []string{"pipe", "-i", crlf, "-o", "missing/out.txt", "--", "cat"}, []string{"missing"}},
		{"mapreduce unknown map", []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "no-such-map", "--reduce", "sum"}, []string{"no-such-map"}},
		{"metrics address taken", []string{"pipe", "-i", crlf, "-o", "out.txt", "--metrics", busy.Addr().String(), "--", "cat"}, []string{"--metrics", busy.Addr().String()}},
		{"metrics address bad", []string{"pipe", "-i", crlf, "-o", "out.txt", "--metrics", "127.0.0.1:notaport", "--", "cat"}, []string{"--metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			args := append([]string{tt.args[0], "--store", store, "--joblog", "j.tsv", "--trace", "t.json", "--report", "r.json"}, tt.args[1:]...)
			res := jetmr(t, dir, args...)
			if res.code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", res.code, res.stderr)
			}
			lines := strings.Split(strings.TrimRight(res.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetmr: ") {
				t.Errorf("stderr is %d lines, want one line starting with \"jetmr: \":\n%s", len(lines), res.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, res.stderr)
				}
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("the working directory holds %q after a refused job, want nothing", names)
			}
		})
	}
}
