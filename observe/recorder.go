package observe

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/jetmr/jetmr/report"
)

// DefaultRecorderLimit is how many attempts a [Recorder] keeps by default.
const DefaultRecorderLimit = 100_000

// Recorder keeps ended attempts in memory for [RenderHTML], up to a limit:
// past it, further attempts are counted as dropped, not kept. It also
// records when each job stage started and ended, for the page's stage
// section.
type Recorder struct {
	mu       sync.Mutex
	limit    int
	attempts []Attempt
	dropped  int64
	stages   map[jobKey]*Stage
	order    []jobKey
}

// NewRecorder returns a Recorder keeping at most limit attempts;
// DefaultRecorderLimit when limit <= 0.
func NewRecorder(limit int) *Recorder {
	if limit <= 0 {
		limit = DefaultRecorderLimit
	}
	return &Recorder{limit: limit, stages: make(map[jobKey]*Stage)}
}

// Attempts returns a copy of the kept attempts, ordered by start time.
func (r *Recorder) Attempts() []Attempt {
	r.mu.Lock()
	out := slices.Clone(r.attempts)
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Attempt) int { return a.Start.Compare(b.Start) })
	return out
}

// Dropped is how many ended attempts were not kept, past the limit.
func (r *Recorder) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Stages returns the job stages seen, in the order they started: those
// with a stage name, as a job without stages needs no stage section. The
// engine, which knows how stages depend on each other, may set DependsOn
// and Critical before rendering.
func (r *Recorder) Stages() []Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Stage
	for _, k := range r.order {
		if k.stage != "" {
			s := *r.stages[k]
			s.DependsOn = slices.Clone(s.DependsOn)
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Stage) int { return cmp.Compare(a.Start.UnixNano(), b.Start.UnixNano()) })
	return out
}

// Page returns the page data for report rep: rep, the kept attempts, the
// stages and the count of dropped attempts.
func (r *Recorder) Page(rep *report.Report) PageData {
	return PageData{Report: rep, Attempts: r.Attempts(), Stages: r.Stages(), DroppedAttempts: r.Dropped()}
}

// JobStarted records the stage's start.
func (r *Recorder) JobStarted(job, stage string, _, _ int64, _ int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := jobKey{job, stage}
	if s := r.stages[k]; s != nil {
		s.Start, s.End = time.Now(), time.Time{}
		return
	}
	r.stages[k] = &Stage{Name: stage, Start: time.Now()}
	r.order = append(r.order, k)
}

// TasksPublished does nothing.
func (r *Recorder) TasksPublished(string, string, int64, bool) {}

// AttemptStarted does nothing: attempts are kept when they end.
func (r *Recorder) AttemptStarted(Attempt) {}

// AttemptEnded keeps the attempt, or counts it as dropped past the limit.
func (r *Recorder) AttemptEnded(a Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.attempts) >= r.limit {
		r.dropped++
		return
	}
	r.attempts = append(r.attempts, a)
}

// JobEnded records the stage's end.
func (r *Recorder) JobEnded(job, stage string, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.stages[jobKey{job, stage}]; s != nil {
		s.End = time.Now()
	}
}
