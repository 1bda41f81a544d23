package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/schema"
)

// adviceReports are synthetic reports over a grid of task counts, slots,
// task times, overheads, efficiencies and utilizations, near the targets
// and far from them.
func adviceReports() []*Report {
	var out []*Report
	for _, kind := range []schema.Kind{schema.KindPipe, schema.KindEach} {
		for _, tasks := range []int{1, 3, 8, 57, 1000} {
			for _, slots := range []int{1, 2, 4, 16, 999999} {
				for _, p50 := range []float64{0.001, 0.009, 0.05, 2} {
					for _, spread := range []float64{1, 5, 50} {
						for _, overhead := range []float64{0, 0.004, 0.1, 3} {
							for _, eff := range []float64{0.1, 0.694, 0.695, 0.7, 0.9} {
								for _, util := range []float64{0.5, 0.7949, 0.795, 0.95} {
									r := &Report{Job: "j", Kind: kind, Tasks: tasks, Executed: tasks, Slots: slots,
										WallSeconds: 10, Efficiency: eff, Utilization: util, OverheadSeconds: overhead}
									r.TaskSeconds.P50, r.TaskSeconds.Max = p50, p50*spread
									r.Advice = advise(r)
									out = append(out, r)
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

var belowTarget = regexp.MustCompile(`(\w+) (\d+)% is below the (\d+)% target`)

// TestAdviceIsConsistent checks every synthetic report's advice against
// itself and its numbers: never both a larger and a smaller chunk, never a
// figure "below" a target it equals or exceeds as printed, and advice
// about a missed target only when the printed figure misses it.
func TestAdviceIsConsistent(t *testing.T) {
	t.Parallel()
	for _, r := range adviceReports() {
		all := strings.Join(r.Advice, "\n")
		name := fmt.Sprintf("%s tasks=%d slots=%d p50=%g max=%g overhead=%g eff=%g util=%g",
			r.Kind, r.Tasks, r.Slots, r.TaskSeconds.P50, r.TaskSeconds.Max, r.OverheadSeconds, r.Efficiency, r.Utilization)
		if strings.Contains(all, "larger --chunk-size") && strings.Contains(all, "smaller --chunk-size") {
			t.Errorf("%s: advice asks for both larger and smaller chunks:\n%s", name, all)
		}
		if strings.Contains(all, "smaller --chunk-size") && strings.Contains(all, "or more, smaller tasks") {
			t.Errorf("%s: advice repeats itself:\n%s", name, all)
		}
		if strings.Contains(all, "larger --chunk-size") && strings.Contains(all, "smaller tasks") {
			t.Errorf("%s: advice asks for larger and smaller tasks:\n%s", name, all)
		}
		for _, m := range belowTarget.FindAllStringSubmatch(all, -1) {
			got, _ := strconv.Atoi(m[2])
			target, _ := strconv.Atoi(m[3])
			if got >= target {
				t.Errorf("%s: %q", name, m[0])
			}
		}
		effShown := strings.Contains(all, "efficiency ")
		if missed := percent(r.Efficiency) < 70; missed != effShown {
			t.Errorf("%s: efficiency %d%% against 70%%, advice about it: %v:\n%s", name, percent(r.Efficiency), effShown, all)
		}
		if strings.Contains(all, "cannot keep") && r.Tasks >= 2*r.Slots {
			t.Errorf("%s: says %d tasks cannot keep %d slots busy", name, r.Tasks, r.Slots)
		}
		if r.Kind == "each" && strings.Contains(all, "--task-time") {
			t.Errorf("%s: advises --task-time, which each jobs do not take:\n%s", name, all)
		}
	}
}

// TestOverheadIgnoresIdleSlots checks that slots beyond the number of
// tasks (-j 999999) do not count as the tasks' overhead: it never exceeds
// the wall time.
func TestOverheadIgnoresIdleSlots(t *testing.T) {
	t.Parallel()
	for _, slots := range []int{1, 4, 999999} {
		s := NewStats()
		start := time.Now()
		s.Start = start
		for i := range 10 {
			at := start.Add(time.Duration(i) * 100 * time.Millisecond)
			s.Add(&schema.Result{Index: uint64(i), Worker: "w", Slots: slots, WorkerStart: start.UnixNano(),
				Start: at.UnixNano(), End: at.Add(50 * time.Millisecond).UnixNano()}, false)
		}
		s.End = start.Add(time.Second)
		r := s.Report("j", "pipe")
		if r.OverheadSeconds > r.WallSeconds {
			t.Errorf("-j %d: overhead %gs per task is more than the whole run's %gs", slots, r.OverheadSeconds, r.WallSeconds)
		}
		for _, a := range r.Advice {
			if strings.Contains(a, "h of overhead") || strings.Contains(a, "m0s of overhead") {
				t.Errorf("-j %d: absurd advice %q", slots, a)
			}
		}
	}
}

// TestSummaryNamesFailuresOnce checks the summary line of each jobs: the
// failed items and tasks are said once.
func TestSummaryNamesFailuresOnce(t *testing.T) {
	t.Parallel()
	r := &Report{Job: "j", Kind: "each", Tasks: 6, Failed: 2, Items: 12, ItemsFailed: 2, Slots: 1}
	s := r.Summary()
	if strings.Count(s, "failed") != 1 || !strings.Contains(s, "(2 items failed, in 2 tasks)") {
		t.Errorf("summary %q, want the failures said once", s)
	}
}

// TestSummaryOfHaltedJob: a job that halted says so at the end of its
// summary line, and an each job how many of its items it left; an each
// job that halted after its last item says nothing of a halt.
func TestSummaryOfHaltedJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		r    Report
		want string // the first line's end
	}{
		{Report{Job: "j", Kind: "each", Tasks: 1, Failed: 1, Items: 1, ItemsFailed: 1, ItemsLeft: 2, ItemsInJob: 3, Halted: "soon", Slots: 1},
			"; halted (--halt soon): 2 of the job's 3 items not started"},
		{Report{Job: "j", Kind: "each", Tasks: 1, Failed: 1, Items: 1, ItemsFailed: 1, ItemsLeft: 2, ItemsInJob: 3, Halted: "now", Slots: 1},
			"; halted (--halt now): 2 of the job's 3 items not started or stopped"},
		{Report{Job: "j", Kind: "each", Tasks: 3, Failed: 1, Items: 3, ItemsFailed: 1, ItemsInJob: 3, Halted: "soon", Slots: 1}, " out"},
		{Report{Job: "j", Kind: "pipe", Tasks: 2, Failed: 1, Halted: "soon", Slots: 1}, "; halted (--halt soon)"},
		{Report{Job: "j", Kind: "each", Tasks: 3, Items: 3, ItemsInJob: 3, Slots: 1}, " out"},
	} {
		first, _, _ := strings.Cut(tt.r.Summary(), "\n")
		if !strings.HasSuffix(first, tt.want) {
			t.Errorf("%+v: summary %q, want it to end with %q", tt.r, first, tt.want)
		}
	}
}

// TestAdviceStreamedAndThrottled: a job over streamed inputs is never told
// to use --task-time, which such inputs refuse, and a throttled migration
// is never told its idle slots are per-task overhead.
func TestAdviceStreamedAndThrottled(t *testing.T) {
	for _, r := range adviceReports() {
		streamed := *r
		streamed.Streamed = true
		streamed.Advise()
		for _, a := range streamed.Advice {
			if strings.Contains(a, "--task-time") {
				t.Fatalf("streamed %+v: advice names --task-time: %q", streamed, a)
			}
		}
		throttled := *r
		throttled.Kind, throttled.Throttled = schema.KindMigrate, true
		throttled.Advise()
		for _, a := range throttled.Advice {
			if strings.Contains(a, "overhead") || strings.Contains(a, "--chunk-size") {
				t.Fatalf("throttled %+v: advice blames the task size: %q", throttled, a)
			}
		}
		if !MeetsTarget(throttled.Efficiency, TargetEfficiency) && len(throttled.Advice) != 1 {
			t.Fatalf("throttled %+v below target: advice %q, want one line naming the throttle", throttled, throttled.Advice)
		}
	}
}
