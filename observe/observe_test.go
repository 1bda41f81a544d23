package observe_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// run is a simulated job: its attempts, in start order, and the report the
// reducer computes from them.
type run struct {
	job, stage string
	tasks      int
	slots      int
	totalBytes int64
	attempts   []observe.Attempt
	report     *report.Report
	stages     []observe.Stage
}

// sampleRun simulates a pipe job of 64 tasks on two workers of four slots:
// task 17 fails once and is retried, task 33 fails on all three attempts
// (a dead letter), task 41 is a straggler, and worker beta starts late.
func sampleRun() *run {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	type slot struct {
		worker string
		n      int
		free   time.Time
		wstart time.Time
	}
	var slots []*slot
	for _, w := range []struct {
		name  string
		delay time.Duration
	}{{"alpha-7f3c:4121", 0}, {"beta-19ab:977", 900 * time.Millisecond}} {
		for n := range 4 {
			slots = append(slots, &slot{worker: w.name, n: n, free: t0.Add(w.delay + 40*time.Millisecond), wstart: t0.Add(w.delay)})
		}
	}
	r := &run{job: "wc-2025", stage: "map", tasks: 64, slots: len(slots)}
	stats := report.NewStats()
	stats.Start = t0
	type pending struct {
		index   uint64
		attempt int
		ready   time.Time
	}
	queue := make([]pending, 0, 64)
	for i := range 64 {
		queue = append(queue, pending{index: uint64(i), attempt: 1, ready: t0.Add(time.Duration(i) * 15 * time.Millisecond)})
	}
	var end time.Time
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		s := slices.MinFunc(slots, func(a, b *slot) int { return a.free.Compare(b.free) })
		start := s.free
		if p.ready.After(start) {
			start = p.ready
		}
		d := time.Duration((0.6 + 0.8*rng.Float64()) * float64(time.Second))
		if p.index == 41 {
			d = 6200 * time.Millisecond
		}
		if p.index%23 == 5 {
			d *= 2
		}
		in := int64(48<<20 + rng.IntN(16<<20))
		a := observe.Attempt{
			Job: r.job, Stage: r.stage, Index: p.index, Attempt: p.attempt, Worker: s.worker, Slot: s.n,
			Start: start, End: start.Add(d), BytesIn: in, BytesOut: in / 40,
			Command: fmt.Sprintf("wc -l chunk-%03d", p.index),
		}
		switch {
		case p.index == 17 && p.attempt == 1:
			a.Failed, a.Retried, a.ExitCode, a.BytesOut = true, true, 1, 0
		case p.index == 33:
			a.Failed, a.Retried, a.Signal, a.ExitCode, a.BytesOut = true, p.attempt < 3, "KILL", -1, 0
			a.End = start.Add(d / 3)
		}
		s.free = a.End.Add(25 * time.Millisecond)
		r.attempts = append(r.attempts, a)
		if a.End.After(end) {
			end = a.End
		}
		if a.Retried {
			queue = append(queue, pending{index: p.index, attempt: p.attempt + 1, ready: a.End.Add(100 * time.Millisecond << (p.attempt - 1))})
			continue
		}
		res := &schema.Result{
			Job: a.Job, Index: a.Index, Attempt: a.Attempt, Worker: a.Worker, Slot: a.Slot, Slots: 4,
			WorkerStart: s.wstart.UnixNano(), Start: a.Start.UnixNano(), End: a.End.UnixNano(),
			BytesIn: a.BytesIn, BytesOut: a.BytesOut,
		}
		if a.Failed {
			stats.Dead = append(stats.Dead, report.DeadLetter{
				Index: a.Index, Attempts: a.Attempt, Worker: a.Worker, Path: "input/words.txt", Line: 33*1000 + 1,
				Error: schema.TaskError{Message: "wc killed by signal killed", Signal: "killed", StderrTail: "wc: memory exhausted\n"},
			})
		}
		stats.Add(res, false)
		stats.AddOutput(res)
		r.totalBytes += a.BytesIn
	}
	stats.End = end.Add(400 * time.Millisecond)
	slices.SortStableFunc(r.attempts, func(a, b observe.Attempt) int { return a.Start.Compare(b.Start) })
	r.report = stats.Report(r.job, "pipe")
	r.stages = []observe.Stage{
		{Name: "split", Start: t0, End: t0.Add(950 * time.Millisecond), Critical: true},
		{Name: "map", Start: t0.Add(40 * time.Millisecond), End: end, Critical: true, DependsOn: []string{"split"}},
		{Name: "reduce", Start: end, End: stats.End, Critical: true, DependsOn: []string{"map"}},
		{Name: "index", Start: t0.Add(time.Second), End: t0.Add(3 * time.Second), DependsOn: []string{"split"}},
	}
	return r
}

// replay feeds the run's events to o as the engine would: the job start,
// the tasks being published, each attempt starting and ending in time
// order, and the job end.
func (r *run) replay(o observe.Observer) {
	o.JobStarted(r.job, r.stage, -1, r.totalBytes, r.slots)
	o.TasksPublished(r.job, r.stage, int64(r.tasks/2), false)
	o.TasksPublished(r.job, r.stage, int64(r.tasks), true)
	type ev struct {
		at    time.Time
		start bool
		a     observe.Attempt
	}
	var evs []ev
	for _, a := range r.attempts {
		s := a
		s.End, s.Failed, s.Retried, s.BytesOut, s.ExitCode, s.Signal = time.Time{}, false, false, 0, 0, ""
		evs = append(evs, ev{a.Start, true, s}, ev{a.End, false, a})
	}
	slices.SortStableFunc(evs, func(x, y ev) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		if x.start == y.start {
			return 0
		}
		if !x.start { // ends before starts at the same instant
			return -1
		}
		return 1
	})
	for _, e := range evs {
		if e.start {
			o.AttemptStarted(e.a)
		} else {
			o.AttemptEnded(e.a)
		}
	}
	o.JobEnded(r.job, r.stage, nil)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter is an Observer counting the events it receives.
type counter struct {
	mu                                     sync.Mutex
	started, published, began, ended, done int
	closed                                 int
}

func (c *counter) JobStarted(string, string, int64, int64, int) { c.add(&c.started) }
func (c *counter) TasksPublished(string, string, int64, bool)   { c.add(&c.published) }
func (c *counter) AttemptStarted(observe.Attempt)               { c.add(&c.began) }
func (c *counter) AttemptEnded(observe.Attempt)                 { c.add(&c.ended) }
func (c *counter) JobEnded(string, string, error)               { c.add(&c.done) }
func (c *counter) Close() error                                 { c.add(&c.closed); return nil }

func (c *counter) add(n *int) {
	c.mu.Lock()
	*n++
	c.mu.Unlock()
}

func TestMulti(t *testing.T) {
	r := sampleRun()
	a, b := &counter{}, &counter{}
	m := observe.Multi(a, nil, observe.Multi(b))
	r.replay(m)
	for _, c := range []*counter{a, b} {
		if c.started != 1 || c.published != 2 || c.began != len(r.attempts) || c.ended != len(r.attempts) || c.done != 1 {
			t.Errorf("counts %+v, want 1 start, 2 publish, %d attempts, 1 end", c, len(r.attempts))
		}
	}
	if err := m.(interface{ Close() error }).Close(); err != nil {
		t.Fatal(err)
	}
	if a.closed != 1 || b.closed != 1 {
		t.Errorf("closed %d and %d times, want once each", a.closed, b.closed)
	}
}

func TestSampleRun(t *testing.T) {
	r := sampleRun()
	if r.report.Tasks != r.tasks || r.report.Failed != 1 || r.report.Slots != 8 {
		t.Fatalf("report: %d tasks, %d failed, %d slots", r.report.Tasks, r.report.Failed, r.report.Slots)
	}
	if want := r.tasks + 1 + 2; len(r.attempts) != want {
		t.Fatalf("%d attempts, want %d", len(r.attempts), want)
	}
}
