package report_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// stats is a run of one worker with two slots over ten seconds: tasks of
// the given seconds, run by this run, and committed earlier ones.
func stats(secs []float64, committed int) *report.Stats {
	start := time.Unix(1000, 0)
	s := report.NewStats()
	s.Start, s.End = start, start.Add(10*time.Second)
	for i, sec := range secs {
		s.Add(&schema.Result{
			Index: uint64(i), Worker: "w", Slots: 2, WorkerStart: start.UnixNano(), BytesIn: 100,
			Start: start.UnixNano(), End: start.Add(time.Duration(sec * float64(time.Second))).UnixNano(),
		}, false)
	}
	for i := range committed {
		s.Add(&schema.Result{Index: uint64(len(secs) + i)}, true)
	}
	return s
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := stats([]float64{5, 5, 5, 5}, 3).Report("j", schema.KindPipe)
	if r.Tasks != 7 || r.Executed != 4 || r.Committed != 3 || r.Slots != 2 {
		t.Errorf("tasks %d executed %d committed %d slots %d; want 7, 4, 3, 2", r.Tasks, r.Executed, r.Committed, r.Slots)
	}
	if r.Speedup != 2 || r.Efficiency != 1 || r.Utilization != 1 {
		t.Errorf("speedup %v efficiency %v utilization %v; want 2, 1, 1", r.Speedup, r.Efficiency, r.Utilization)
	}
	if r.TaskSeconds.P50 != 5 || r.TaskSeconds.Max != 5 || r.BytesIn != 400 {
		t.Errorf("p50 %v max %v bytes in %d; want 5, 5, 400", r.TaskSeconds.P50, r.TaskSeconds.Max, r.BytesIn)
	}
	if len(r.Advice) != 0 || r.DeadLetters == nil {
		t.Errorf("advice %q, dead letters %v: want none, as an empty list", r.Advice, r.DeadLetters)
	}
}

// TestAdviceAndSummaryByKind checks what depends on the job's kind: the
// advice for tiny tasks names --task-time only where chunks can be sized
// by time, and the summary counts rows for a migration, bytes otherwise.
func TestAdviceAndSummaryByKind(t *testing.T) {
	t.Parallel()
	tiny := make([]float64, 50)
	for i := range tiny {
		tiny[i] = 0.001
	}
	for _, tt := range []struct {
		kind     schema.Kind
		taskTime bool
		summary  string
	}{
		{schema.KindPipe, true, "in,"},
		{schema.KindMapReduce, true, "in,"},
		{schema.KindEach, false, "in,"},
		{schema.KindMigrate, true, "0 rows"},
	} {
		r := stats(tiny, 0).Report("j", tt.kind)
		advice := strings.Join(r.Advice, "\n")
		if !strings.Contains(advice, "per-task overhead dominates") {
			t.Errorf("%s: advice %q does not say the overhead dominates", tt.kind, advice)
		}
		if got := strings.Contains(advice, "--task-time"); got != tt.taskTime {
			t.Errorf("%s: advice mentions --task-time: %v, want %v:\n%s", tt.kind, got, tt.taskTime, advice)
		}
		if s := r.Summary(); !strings.Contains(s, tt.summary) {
			t.Errorf("%s: summary %q lacks %q", tt.kind, s, tt.summary)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.9, 9}, {1, 10}} {
		if got := report.Percentile(d, tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// TestCountersInReport checks that the counters of each merged partition
// add up, sorted, into the report and its summary, and that the status
// is the last one merged.
func TestCountersInReport(t *testing.T) {
	t.Parallel()
	s := report.NewStats()
	s.AddOutput(&schema.Result{Index: 0, Counters: []schema.Counter{{Group: "b", Name: "x", Value: 2}, {Group: "a", Name: "y, z", Value: 1}}, Status: "one"})
	s.AddOutput(&schema.Result{Index: 0, Partition: 1})
	s.AddOutput(&schema.Result{Index: 1, Counters: []schema.Counter{{Group: "b", Name: "x", Value: -5}}, Status: "two"})
	s.Counters.Add("reduce", "runs", 1)
	r := s.Report("j", schema.KindMapReduce)
	want := []schema.Counter{{Group: "a", Name: "y, z", Value: 1}, {Group: "b", Name: "x", Value: -3}, {Group: "reduce", Name: "runs", Value: 1}}
	if len(r.Counters) != len(want) {
		t.Fatalf("counters %+v, want %+v", r.Counters, want)
	}
	for i := range want {
		if r.Counters[i] != want[i] {
			t.Errorf("counter %d: %+v, want %+v", i, r.Counters[i], want[i])
		}
	}
	if s.Status != "two" {
		t.Errorf("status %q, want the last one", s.Status)
	}
	if sum := r.Summary(); !strings.Contains(sum, "\njetmr: counters: a,\"y, z\"=1; b,x=-3; reduce,runs=1") {
		t.Errorf("summary without the counters:\n%s", sum)
	}
}

// TestFormatCountersQuotes checks that a group or name holding a
// character of the summary's syntax is quoted, so that the line reads
// back one way, and that a saturated counter says so.
func TestFormatCountersQuotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    schema.Counter
		want string
	}{
		{schema.Counter{Group: "Input", Name: "combine input pairs", Value: 3}, "Input,combine input pairs=3"},
		{schema.Counter{Group: "a;b", Name: "n", Value: 1}, `"a;b",n=1`},
		{schema.Counter{Group: "g", Name: "x=y", Value: -2}, `g,"x=y"=-2`},
		{schema.Counter{Group: "g", Name: "p,q", Value: 0}, `g,"p,q"=0`},
		{schema.Counter{Group: `say "hi"`, Name: "tab\there", Value: 1}, `"say \"hi\"","tab\there"=1`},
		{schema.Counter{Group: "g", Name: "big", Value: math.MaxInt64, Saturated: true}, "g,big=9223372036854775807 (saturated)"},
	}
	for _, tt := range tests {
		if got := report.FormatCounters([]schema.Counter{tt.c}); got != tt.want {
			t.Errorf("FormatCounters(%+v) = %s, want %s", tt.c, got, tt.want)
		}
	}
	if got := report.FormatCounters([]schema.Counter{{Group: "a", Name: "b", Value: 1}, {Group: "c;d", Name: "e", Value: 2}}); got != `a,b=1; "c;d",e=2` {
		t.Errorf("two counters: %s", got)
	}
}

// TestSummaryOfRunWithoutTasks: a run that ran no task (a resume that
// found every task committed) claims no slots, speedup or efficiency.
func TestSummaryOfRunWithoutTasks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		r    report.Report
		want string
	}{
		{"every task committed", report.Report{Job: "j", Kind: schema.KindMapReduce, Tasks: 3, Committed: 3, WallSeconds: 1}, "jetmr: job j: 3 tasks (3 already committed, 0 run now) in 1s; "},
		{"no task", report.Report{Job: "j", Kind: schema.KindPipe, WallSeconds: 1}, "jetmr: job j: 0 tasks in 1s, no task run; "},
	} {
		s := tt.r.Summary()
		if !strings.HasPrefix(s, tt.want) || strings.Contains(s, "slots") || strings.Contains(s, "speedup") {
			t.Errorf("%s: summary %q, want it to start %q and name no slots or speedup", tt.name, s, tt.want)
		}
	}
}
