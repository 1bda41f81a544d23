package report

import (
	"fmt"
	"strconv"
	"strings"
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
	// Isolation is what bisecting the task's input found (an
	// [schema.Isolation] outcome: "records", "flaky", "no-record",
	// "too-many"), in IsolationRuns extra runs; Records are the records
	// that fail on their own. Empty when the task was not bisected.
	Isolation     string      `json:"isolation,omitempty"`
	IsolationRuns int         `json:"isolation_runs,omitempty"`
	Records       []BadRecord `json:"records,omitempty"`
	// OverLimit is set when the task succeeded without its bad records
	// but the reducer refused its output: they were more than the job
	// may skip. Its results stream holds no failure of the task then.
	OverLimit bool `json:"over_limit,omitempty"`
}

// BadRecord is one record of a job's input that fails on its own: named
// by a dead letter, or left out of the output in skip mode.
type BadRecord struct {
	Task uint64 `json:"task"`
	// Key is the key of a migrate batch's rows that fail alone.
	Key string `json:"key,omitempty"`
	// Item and Seq are the item of an each job whose command fails, and
	// its 1-based number in the item list ({#}).
	Item string `json:"item,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
	Path string `json:"path,omitempty"`
	// Line is the record's 1-based line number in Path (0: unknown, such
	// as in standard input or a compressed file).
	Line   int   `json:"line,omitempty"`
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	// Preview is the record's first bytes, escaped as a Go string literal
	// (quotes included).
	Preview string           `json:"preview"`
	Error   schema.TaskError `json:"error"`
	// Data is the whole record when its result carried it (skip mode),
	// for the rejects file.
	Data []byte `json:"-"`
}

// BadRecords describes the records of a result, read from task index's
// input at path.
func BadRecords(index uint64, path string, recs []schema.BadRecord) []BadRecord {
	out := make([]BadRecord, len(recs))
	for i, r := range recs {
		out[i] = BadRecord{Task: index, Key: r.Key, Item: r.Item, Seq: r.Seq, Path: path, Offset: r.Offset, Length: r.Length, Preview: PreviewOf(r.Preview, r.Length), Error: r.Err, Data: r.Data}
	}
	return out
}

// PreviewOf escapes the first bytes of a record of length n, marking a
// cut with "...".
func PreviewOf(b []byte, n int64) string {
	q := strconv.Quote(string(b))
	if int64(len(b)) < n {
		q += "..."
	}
	return q
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
	// Skipped lists the bad records left out of the output (skip mode),
	// each once.
	Skipped []BadRecord
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

// Where names the record: its file and line, or byte offset.
func (b BadRecord) Where() string {
	switch {
	case b.Key != "":
		return "key " + b.Key
	case b.Seq > 0:
		return fmt.Sprintf("item %d %s", b.Seq, strconv.Quote(b.Item))
	case b.Line > 0:
		return fmt.Sprintf("%s line %d (byte %d)", b.Path, b.Line, b.Offset)
	case b.Path != "":
		return fmt.Sprintf("%s byte %d", b.Path, b.Offset)
	default:
		return fmt.Sprintf("task %d byte %d", b.Task, b.Offset)
	}
}

// IsolationNote says what bisecting a dead letter's input found, in one
// sentence; "" when it was not bisected.
func (d DeadLetter) IsolationNote() string {
	switch d.Isolation {
	case schema.IsolatedRecords:
		return fmt.Sprintf("bisected in %d extra run(s): the input without the bad record(s) above succeeds", d.IsolationRuns)
	case schema.IsolatedFlaky:
		return fmt.Sprintf("bisected in %d extra run(s): no record fails on its own (a flaky command, or one that fails on a combination of records)", d.IsolationRuns)
	case schema.IsolatedNoRecord:
		return fmt.Sprintf("bisected in %d extra run(s): the command fails on an empty input too, so no record is to blame", d.IsolationRuns)
	case schema.IsolatedTooMany:
		return fmt.Sprintf("bisected in %d extra run(s): stopped after the bad record(s) above; there may be more", d.IsolationRuns)
	case schema.IsolatedKey:
		return "bisected by key in transactions rolled back: the SQL fails on the rows of the key above alone"
	case schema.IsolatedItems:
		return "every item runs alone: the item(s) above failed on every attempt, the task's other items succeeded"
	}
	return ""
}

// ErrorText is a task error's message with its exit status or signal.
func ErrorText(e schema.TaskError) string {
	msg := e.Message
	switch {
	case e.Signal != "" && !strings.Contains(msg, e.Signal):
		msg += " (signal " + e.Signal + ")"
	case e.ExitStatus != 0 && !strings.Contains(msg, fmt.Sprint(e.ExitStatus)):
		msg += fmt.Sprintf(" (exit status %d)", e.ExitStatus)
	}
	return msg
}

// Describe is the record in one line: where it is, its first bytes and
// how it failed alone.
func (b BadRecord) Describe() string {
	if b.Key != "" || b.Seq > 0 {
		return fmt.Sprintf("%s: %s", b.Where(), ErrorText(b.Error))
	}
	return fmt.Sprintf("%s: %s: %s", b.Where(), b.Preview, ErrorText(b.Error))
}
