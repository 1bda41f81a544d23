package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/testbuf"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// flakyOnce fails the first run on each distinct input (stdin, or its
// first argument when it has one) and succeeds, copying stdin to stdout,
// on the next: $1 is the folder of its marks.
const flakyOnce = `marks="$1"; shift
in="$marks/$$.in"
cat > "$in"
key=$(printf '%s' "$*" | cat - "$in" | cksum | tr ' ' _)
if (set -C; : > "$marks/$key.mark") 2>/dev/null; then
	rm -f "$in"
	echo "flaky: first attempt fails" >&2
	exit 3
fi
cat "$in"
rm -f "$in"
`

// startPool runs a worker pool named name on the broker at url, as a
// jetmr worker process would, until the test ends.
func startPool(t *testing.T, url, name string, slots int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.Open(ctx, broker.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := mapper.NewPool(mapper.PoolConfig{Broker: b, Name: name, Slots: slots, SpillDir: t.TempDir(), AckWait: 5e9})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker pool %s: %v", name, err)
		}
		b.Close()
	})
	waitForWorkers(t, url, 1)
}

// observed gathers what the observers of a job heard.
type observed struct {
	rec    *observe.Recorder
	reg    *prometheus.Registry
	joblog bytes.Buffer
}

func newObserved() *observed {
	o := &observed{rec: observe.NewRecorder(10000), reg: prometheus.NewRegistry()}
	return o
}

func (o *observed) observer() observe.Observer {
	return observe.Multi(o.rec, observe.NewMetrics(o.reg), observe.NewJobLog(&o.joblog))
}

// metric sums the series of family name with the label state (when not
// "") as counters and histogram sample counts.
func (o *observed) metric(t *testing.T, name, state string) float64 {
	t.Helper()
	fams, err := o.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "state" && l.GetValue() != state {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// TestRemoteAttemptsObserved runs jobs whose tasks run, all or some, on a
// worker pool of its own (as in a jetmr worker process): the submitter's
// observers hear of every attempt once, those of the pool's with the
// pool's name, retried failures included, and count every task done.
func TestRemoteAttemptsObserved(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	local := host + ":" + strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name    string
		kind    schema.Kind
		flaky   bool // the first attempt of every task (item) fails
		fail    bool // every attempt fails: the tasks become dead letters
		okExit  bool // every command exits 5, which --ok-exit accepts
		local   int  // the submitter's own slots
		remote  int  // the pool's slots
		backups bool // slow tasks get backup attempts
	}{
		{name: "pipe", kind: schema.KindPipe, remote: 2},
		{name: "pipe retried", kind: schema.KindPipe, flaky: true, remote: 2},
		{name: "mapreduce", kind: schema.KindMapReduce, remote: 2},
		{name: "mixed", kind: schema.KindPipe, local: 1, remote: 2},
		{name: "mixed with backups", kind: schema.KindPipe, local: 1, remote: 2, backups: true},
		{name: "each retried", kind: schema.KindEach, flaky: true, remote: 2},
		{name: "dead letters", kind: schema.KindPipe, fail: true, remote: 2},
		{name: "ok-exit", kind: schema.KindPipe, okExit: true, remote: 2},
		{name: "each ok-exit", kind: schema.KindEach, okExit: true, remote: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := natsServer(t)
			pool := "pool-" + strings.ReplaceAll(tc.name, " ", "-")
			startPool(t, url, pool, tc.remote)
			dir := t.TempDir()
			marks := filepath.Join(dir, "marks")
			if err := os.Mkdir(marks, 0o755); err != nil {
				t.Fatal(err)
			}
			script := writeScript(t, dir, "flaky.sh", flakyOnce)
			slow := []string{"sh", "-c", "sleep 0.1; cat"}

			cfg := baseConfig(t)
			cfg.Broker, cfg.LocalWorkers, cfg.Slots, cfg.Retries = broker.Config{URL: url}, tc.local, max(tc.local, 1), 1
			cfg.Kind = tc.kind
			if !tc.backups {
				cfg.Speculative = job.SpeculateOff
			}
			units := 0 // tasks, or items of an each job
			switch tc.kind {
			case schema.KindEach:
				for i := range 12 {
					cfg.Items = append(cfg.Items, fmt.Sprintf("item-%02d", i))
				}
				cfg.Command = []string{"sh", "-c", "echo {} | sh " + script + " " + marks + " {}"}
				if tc.okExit {
					cfg.Command = []string{"sh", "-c", "echo {}; exit 5"}
				}
				var out bytes.Buffer
				cfg.Stdout = &out
				units = len(cfg.Items)
			case schema.KindMapReduce:
				cfg.Inputs, cfg.Map, cfg.Reduce, cfg.Output = []string{td(t, "text")}, "wordcount", "sum", filepath.Join(dir, "out")
				cfg.ChunkSize = 1 << 10
			default:
				// Chunks over 64 KiB, which workers do not fetch ahead, so
				// that the submitter's own worker does not take them all.
				cfg.Inputs, cfg.Output, cfg.ChunkSize = []string{generatedText(t, "remote-observed", 1<<20, 5, true)}, filepath.Join(dir, "out"), 80<<10
				cfg.Command = slow
				if tc.flaky {
					cfg.Command = []string{"sh", script, marks}
				}
				if tc.fail {
					cfg.Command = []string{"sh", "-c", "wc -c >&2; exit 3"}
				}
				if tc.okExit {
					cfg.Command = []string{"sh", "-c", "cat; exit 5"}
				}
			}
			if tc.okExit {
				cfg.OkExit = []int{5}
			}
			o := newObserved()
			cfg.Observer = o.observer()
			rep, err := runJob(t, cfg)
			if tc.fail && errors.Is(err, job.ErrTasksFailed) {
				err = nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind != schema.KindEach {
				units = rep.Tasks
			}
			if units < 4 {
				t.Fatalf("%d tasks, want more: the input or chunk size is off", units)
			}
			perUnit := 1
			if tc.flaky || tc.fail {
				perUnit = 2
			}
			// A backup attempt of a slow task, stopped when the other
			// attempt won (superseded), is an attempt too.
			attempts := o.rec.Attempts()
			seen := map[[2]uint64]bool{}
			workers := map[string]int{}
			superseded := 0
			for _, a := range attempts {
				workers[a.Worker]++
				if a.Superseded {
					superseded++
					continue
				}
				key := [2]uint64{a.Index, uint64(a.Attempt)}
				if seen[key] {
					t.Errorf("task %d attempt %d reported twice", a.Index, a.Attempt)
				}
				seen[key] = true
				if a.Worker != pool && (tc.local == 0 || a.Worker != local) {
					t.Errorf("task %d attempt %d ran on %q, want %q or %q", a.Index, a.Attempt, a.Worker, pool, local)
				}
				wantFailed, wantRetried := (tc.flaky && a.Attempt == 1) || tc.fail, perUnit > 1 && a.Attempt == 1
				wantExit := 0
				switch {
				case wantFailed:
					wantExit = 3
				case tc.okExit:
					wantExit = 5 // the status --ok-exit accepted
				}
				if a.Failed != wantFailed || a.Retried != wantRetried || a.ExitCode != wantExit || a.End.Before(a.Start) || a.Start.IsZero() {
					t.Errorf("attempt %+v: want failed %v, exit %d, retried %v, a start and an end", a, wantFailed, wantExit, wantRetried)
				}
				if a.Command == "" || a.Job != cfg.ID && cfg.ID != "" {
					t.Errorf("attempt %+v: want its command and job", a)
				}
			}
			if len(attempts)-superseded != perUnit*units {
				t.Errorf("the observers heard of %d attempts (and %d superseded), want %d per task: %d", len(attempts)-superseded, superseded, perUnit, perUnit*units)
			}
			if tc.local > 0 && (workers[pool] == 0 || workers[local] == 0) {
				t.Errorf("attempts by worker %v, want some on %s and some on the submitter's own, %s", workers, pool, local)
			}
			if tc.local == 0 && workers[pool] != len(attempts) {
				t.Errorf("attempts by worker %v, want all on %s", workers, pool)
			}
			if got := strings.Count(o.joblog.String(), "\n"); got != len(attempts)+1 {
				t.Errorf("the job log has %d lines, want the header and one per attempt: %d", got, len(attempts)+1)
			}
			done, failed := units, 0
			if tc.fail {
				done, failed = 0, units
			}
			if got := o.metric(t, "jetmr_tasks_total", observe.StateDone); got != float64(done) {
				t.Errorf(`jetmr_tasks_total{state="done"} = %v, want %d`, got, done)
			}
			if got := o.metric(t, "jetmr_tasks_total", observe.StateFailed); got != float64(failed) {
				t.Errorf(`jetmr_tasks_total{state="failed"} = %v, want %d`, got, failed)
			}
			if got := o.metric(t, "jetmr_slots", ""); got != float64(tc.local+tc.remote) {
				t.Errorf("jetmr_slots = %v, want the slots of the workers: %d", got, tc.local+tc.remote)
			}
			if got := o.metric(t, "jetmr_utilization", ""); got <= 0 || got > 1 {
				t.Errorf("jetmr_utilization = %v, want in (0, 1]", got)
			}
			if got := o.metric(t, "jetmr_task_duration_seconds", ""); got != float64(len(attempts)) {
				t.Errorf("jetmr_task_duration_seconds count = %v, want one per attempt: %d", got, len(attempts))
			}
			if got := o.metric(t, "jetmr_tasks_in_flight", ""); got != 0 {
				t.Errorf("jetmr_tasks_in_flight = %v once the job is done, want 0", got)
			}
			// Each attempt's start counts once, whether its worker
			// announced it or not. (A backup stopped as the job ends may
			// announce its end too late to be heard.)
			if got := o.metric(t, "jetmr_tasks_total", observe.StateRunning); got != float64(len(attempts)) && !tc.backups {
				t.Errorf(`jetmr_tasks_total{state="running"} = %v, want one per attempt: %d`, got, len(attempts))
			}
		})
	}
}

// gatedCat copies its chunk to stdout; the chunk holding the line GATE
// first creates $1/started and waits until $1/release exists (for at
// most about a minute, so that no command outlives a failed test long).
const gatedCat = `in=$(mktemp "$1/chunk.XXXXXX") || exit 3
cat > "$in"
if grep -q '^GATE$' "$in"; then
	: > "$1/started"
	i=0
	while [ ! -e "$1/release" ] && [ "$i" -lt 6000 ]; do sleep 0.01; i=$((i+1)); done
fi
cat "$in"
rm -f "$in"
`

// TestRemoteAttemptInFlight holds one task on a worker pool of its own
// (as in a jetmr worker process) while the job's other tasks are done:
// the submitter's metrics count it in flight and its progress lines
// running, from the start its worker announced; once the job is done,
// nothing is in flight.
func TestRemoteAttemptInFlight(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	startPool(t, url, "pool-in-flight", 2)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	if err := os.Mkdir(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	release := func() {
		if err := os.WriteFile(filepath.Join(gate, "release"), nil, 0o644); err != nil {
			t.Error(err)
		}
	}
	var in strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&in, "line %05d of the input\n", i)
	}
	in.WriteString("GATE\n")
	input := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(input, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := baseConfig(t)
	cfg.ID, cfg.Kind, cfg.Broker, cfg.LocalWorkers, cfg.Speculative = "in-flight", schema.KindPipe, broker.Config{URL: url}, 0, job.SpeculateOff
	cfg.Inputs, cfg.Output, cfg.ChunkSize = []string{input}, filepath.Join(dir, "out.txt"), 16<<10
	cfg.Command = []string{"sh", writeScript(t, dir, "gated.sh", gatedCat), gate}
	reg := prometheus.NewRegistry()
	var progress testbuf.Buffer
	prog := observe.NewProgress(&progress, false, observe.ProgressInterval(10*time.Millisecond))
	defer prog.Close()
	cfg.Observer = observe.Multi(observe.NewMetrics(reg), prog)
	o := &observed{reg: reg}

	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := job.Run(ctx, cfg)
		done <- err
	}()
	// fail lets the job end before the test does.
	fail := func(format string, args ...any) {
		t.Helper()
		release()
		<-done
		t.Fatalf(format, args...)
	}
	deadline := time.Now().Add(jobTimeout)
	for {
		_, err := os.Stat(filepath.Join(gate, "started"))
		queued := o.metric(t, "jetmr_tasks_total", observe.StateQueued)
		if err == nil && queued >= 4 && o.metric(t, "jetmr_tasks_total", observe.StateDone) == queued-1 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended while its gated task should run: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			fail("the gated task did not start, or the others were not done, within %s: %v queued, %v done; progress:\n%s", jobTimeout,
				queued, o.metric(t, "jetmr_tasks_total", observe.StateDone), progress.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Only the gated task runs, on the pool: it counts in flight from its
	// start, which came before the other tasks were done.
	if got := o.metric(t, "jetmr_tasks_in_flight", ""); got != 1 {
		t.Errorf("jetmr_tasks_in_flight = %v while the gated task runs on the pool, want 1", got)
	}
	line := regexp.MustCompile(`(?m)^jetmr: job in-flight: (\d+)/(\d+) tasks \(\d+%\), [^,]+, 1 running, `)
	for !line.MatchString(progress.String()) {
		if time.Now().After(deadline) {
			fail("no progress line with the gated task running within %s:\n%s", jobTimeout, progress.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := o.metric(t, "jetmr_tasks_in_flight", ""); got != 0 {
		t.Errorf("jetmr_tasks_in_flight = %v once the job is done, want 0", got)
	}
	if got, want := o.metric(t, "jetmr_tasks_total", observe.StateRunning), o.metric(t, "jetmr_tasks_total", observe.StateQueued); got != want {
		t.Errorf(`jetmr_tasks_total{state="running"} = %v, want one start per task: %v`, got, want)
	}
	if out, err := os.ReadFile(cfg.Output); err != nil || string(out) != in.String() {
		t.Errorf("the output differs from the input (%v)", err)
	}
}
