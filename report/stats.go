package report

import (
	"time"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/schema"
)

// DeadLetter is a task that failed on every attempt.
type DeadLetter struct {
	Index    uint64 `json:"index"`
	Attempts int    `json:"attempts"`
	Worker   string `json:"worker"`
	Path     string `json:"path,omitempty"`
	// Line is the number of the first line of the task's input range.
	Line   int              `json:"line,omitempty"`
	Offset int64            `json:"offset,omitempty"`
	Length int64            `json:"length,omitempty"`
	Error  schema.TaskError `json:"error"`
}

// workerStats is what the reducer learns about one worker from its results.
type workerStats struct {
	slots int
	start time.Time
	busy  time.Duration
	tasks int
}

// Stats accumulates the timing and volume of a job's completed tasks. It is
// not safe for concurrent use.
type Stats struct {
	// Start and End bound the job's wall time. The reducer sets End; the
	// job runner sets Start.
	Start, End time.Time
	// Dead lists the tasks that failed for good.
	Dead []DeadLetter
	// Malformed lists the errors of result messages that did not decode.
	Malformed []string
	// Executed counts the tasks completed by this run; Committed those a
	// previous run of the job had completed already (found on resume).
	Executed, Committed int
	// Counters sums the user counters of the merged results (AddOutput)
	// and of the reduce, which adds its own; Status is the last status
	// message of a merged result. Never nil once NewStats made it.
	Counters *counter.Set
	Status   string

	durations []time.Duration
	busy      time.Duration
	bytesIn   int64
	bytesOut  int64
	workers   map[string]*workerStats
	order     []string
}

// NewStats returns empty statistics starting now.
func NewStats() *Stats {
	return &Stats{Start: time.Now(), workers: make(map[string]*workerStats), Counters: &counter.Set{}}
}

// AddOutput counts the output bytes of one merged partition of a task,
// and the counters it carries (those of partition 0).
func (s *Stats) AddOutput(res *schema.Result) {
	s.bytesOut += res.BytesOut
	s.Counters.AddList(res.Counters)
	if res.Status != "" {
		s.Status = res.Status
	}
}

// Add counts one completed task, from any one of its results. A replayed
// task was completed by an earlier run of the job: it counts as committed,
// not executed, and not towards this run's busy time.
func (s *Stats) Add(res *schema.Result, replayed bool) {
	if replayed {
		s.Committed++
		return
	}
	s.Executed++
	d := res.Duration()
	s.durations = append(s.durations, d)
	s.busy += d
	s.bytesIn += res.BytesIn
	w := s.workers[res.Worker]
	if w == nil {
		w = &workerStats{slots: res.Slots, start: time.Unix(0, res.WorkerStart)}
		s.workers[res.Worker] = w
		s.order = append(s.order, res.Worker)
	}
	w.busy += d
	w.tasks++
}

// Tasks is the number of completed tasks, failed ones included.
func (s *Stats) Tasks() int { return s.Executed + s.Committed }

// Bytes are the input bytes read and the output bytes written by the
// tasks counted so far.
func (s *Stats) Bytes() (in, out int64) { return s.bytesIn, s.bytesOut }
