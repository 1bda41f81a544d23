package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"

	"github.com/jetmr/jetmr/schema"
)

// Targets the advice is given against.
const (
	TargetEfficiency  = 0.70
	TargetUtilization = 0.80
)

// Report is a run's outcome and efficiency metrics, as written by --report.
type Report struct {
	Job  string      `json:"job"`
	Kind schema.Kind `json:"kind"`
	// Tasks counts the tasks of the job that ran to an end, in this run or
	// an earlier one: every task, unless the job halted (Halted); Failed
	// those that are dead letters.
	Tasks  int `json:"tasks"`
	Failed int `json:"failed"`
	// Executed counts the tasks this run completed; Committed those an
	// earlier, interrupted run had completed (the metrics cover this run).
	Executed  int `json:"executed"`
	Committed int `json:"already_committed"`
	// Slots is the number of task slots of all workers that ran tasks.
	// SlotsSetBy names what sets them, for the advice: "" for the job's
	// -j, else e.g. "--local-workers" or "jetmr worker -j" (tasks ran on
	// jetmr worker processes, whose slots the job's flags do not set).
	Slots       int     `json:"slots"`
	SlotsSetBy  string  `json:"-"`
	WallSeconds float64 `json:"wall_seconds"`
	BusySeconds float64 `json:"busy_seconds"`
	// Speedup is busy / wall; Efficiency is Speedup / Slots; Utilization is
	// busy / (slots x each worker's lifetime in the job).
	Speedup     float64 `json:"speedup"`
	Efficiency  float64 `json:"efficiency"`
	Utilization float64 `json:"utilization"`
	TaskSeconds struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		Max float64 `json:"max"`
	} `json:"task_seconds"`
	// OverheadSeconds is the slot time per task not spent running tasks.
	OverheadSeconds float64 `json:"overhead_seconds_per_task"`
	// Streamed is set when some inputs were read as streams (standard
	// input, compressed files), whose chunks cannot be sized by time;
	// Throttled when tasks waited on a rate limit or a health query, so
	// the slots' idle time is the throttle's, not overhead.
	Streamed  bool `json:"streamed,omitempty"`
	Throttled bool `json:"throttled,omitempty"`
	// NullKeyRows counts a migrate job's rows whose key (column Key) is
	// NULL: no key range holds them, so no batch ran its SQL on them.
	NullKeyRows int64  `json:"null_key_rows,omitempty"`
	Key         string `json:"key,omitempty"`
	// Rows counts the rows a migrate job's SQL affected, each batch once
	// however many attempts or runs it took; BatchesAlreadyDone the
	// batches found committed by an earlier run; BatchesSplit those
	// committed in parts after their SQL timed out.
	Rows               int64 `json:"rows,omitempty"`
	BatchesAlreadyDone int64 `json:"batches_already_done,omitempty"`
	BatchesSplit       int64 `json:"batches_split,omitempty"`
	// BatchesUnchanged counts the batches whose range held rows but whose
	// SQL changed none of them; UnchangedBatches names the first few.
	BatchesUnchanged int64    `json:"batches_unchanged,omitempty"`
	UnchangedBatches []string `json:"unchanged_batches,omitempty"`
	BytesIn          int64    `json:"bytes_in"`
	BytesOut         int64    `json:"bytes_out"`
	// Counters are the user counters the job's commands reported
	// (reporter:counter:GROUP,NAME,AMOUNT) or its Go functions added
	// (counter.Add), each task's once, sorted by group and name.
	Counters    []schema.Counter `json:"counters,omitempty"`
	Workers     []WorkerReport   `json:"workers"`
	DeadLetters []DeadLetter     `json:"dead_letters"`
	Advice      []string         `json:"advice"`
	// Malformed lists result messages that did not decode and were dropped.
	Malformed []string `json:"malformed_messages,omitempty"`
	// Skipped lists the bad records left out of the output
	// (--skip-bad-records); Rejects is the file that holds them.
	Skipped []BadRecord `json:"skipped_records,omitempty"`
	Rejects string      `json:"rejects,omitempty"`

	// Items counts the items of an each job; ItemsFailed those that
	// failed on every attempt.
	Items       int `json:"items,omitempty"`
	ItemsFailed int `json:"items_failed,omitempty"`
	// ItemsLeft counts the items of an each job that did not run to an
	// end: none, unless the job halted before it started them (or, with
	// --halt now, stopped them).
	ItemsLeft int `json:"items_left,omitempty"`
	// ItemsInJob counts the items of an each job, run or not.
	ItemsInJob int `json:"items_in_job,omitempty"`
	// Halted is the --halt policy that ended the job before it ran every
	// task, "soon" or "now"; empty when the job did not halt.
	Halted string `json:"halted,omitempty"`

	// BackupsRun counts the backup attempts of slow tasks this run
	// started (--speculative); BackupsWon those whose result was merged
	// because they finished before the attempt they backed up.
	BackupsRun int `json:"backups_run,omitempty"`
	BackupsWon int `json:"backups_won,omitempty"`

	// Upload says what became of an s3:// output, which is uploaded once
	// the job completes; nil for other outputs.
	Upload *Upload `json:"upload,omitempty"`
}

// Upload is the upload of a job's s3:// output.
type Upload struct {
	// URL is the output's object, or prefix of part files.
	URL string `json:"url"`
	// Uploaded is set once this run stored the output under URL.
	Uploaded bool `json:"uploaded"`
	// UploadOnly marks a resume that ran no task: it uploaded the output
	// an earlier run completed (that run's report has its figures).
	UploadOnly bool `json:"upload_only,omitempty"`
	// Error says why the upload of a complete output failed; Staged is
	// where the output is kept until a resume uploads it. Both are empty
	// when the output was uploaded, or the job did not complete.
	Error  string `json:"error,omitempty"`
	Staged string `json:"staged,omitempty"`
}

// clause is what the run's summary says of the upload.
func (u *Upload) clause() string {
	switch {
	case u == nil:
		return ""
	case u.Uploaded:
		return "; output uploaded to " + u.URL
	case u.Error != "":
		return fmt.Sprintf("; output complete but NOT uploaded to %s (kept in %s)", u.URL, u.Staged)
	}
	return ""
}

// WorkerReport is one worker's share of the run.
type WorkerReport struct {
	Name        string  `json:"name"`
	Slots       int     `json:"slots"`
	Tasks       int     `json:"tasks"`
	BusySeconds float64 `json:"busy_seconds"`
	Utilization float64 `json:"utilization"`
}

// Report computes the metrics of the tasks accumulated so far.
func (s *Stats) Report(job string, kind schema.Kind) *Report {
	end := s.End
	if end.IsZero() {
		end = time.Now()
	}
	wall := end.Sub(s.Start)
	r := &Report{
		Job: job, Kind: kind, Tasks: s.Tasks(), Failed: len(s.Dead),
		Executed: s.Executed, Committed: s.Committed, Malformed: s.Malformed,
		WallSeconds: wall.Seconds(), BusySeconds: s.busy.Seconds(),
		BytesIn: s.bytesIn, BytesOut: s.bytesOut,
		DeadLetters: s.Dead, Workers: []WorkerReport{}, Advice: []string{}, Skipped: s.Skipped,
		Counters: s.Counters.List(),
	}
	if r.DeadLetters == nil {
		r.DeadLetters = []DeadLetter{}
	}
	var capacity time.Duration
	for _, name := range s.order {
		w := s.workers[name]
		life := end.Sub(later(w.start, s.Start))
		wr := WorkerReport{Name: name, Slots: w.slots, Tasks: w.tasks, BusySeconds: w.busy.Seconds()}
		if life > 0 && w.slots > 0 {
			wr.Utilization = w.busy.Seconds() / (float64(w.slots) * life.Seconds())
			capacity += time.Duration(w.slots) * life
		}
		r.Slots += w.slots
		r.Workers = append(r.Workers, wr)
	}
	if wall > 0 {
		r.Speedup = s.busy.Seconds() / wall.Seconds()
	}
	if r.Slots > 0 {
		r.Efficiency = r.Speedup / float64(r.Slots)
	}
	if capacity > 0 {
		r.Utilization = s.busy.Seconds() / capacity.Seconds()
	}
	if n := len(s.durations); n > 0 {
		d := slices.Clone(s.durations)
		slices.Sort(d)
		r.TaskSeconds.P50 = Percentile(d, 0.50).Seconds()
		r.TaskSeconds.P90 = Percentile(d, 0.90).Seconds()
		r.TaskSeconds.Max = d[n-1].Seconds()
		if r.Slots > 0 {
			// Slots beyond the number of tasks never ran one: their idle
			// time is not the tasks' overhead.
			used := float64(min(r.Slots, n))
			r.OverheadSeconds = max(0, (used*wall.Seconds()-s.busy.Seconds())/float64(n))
		}
	}
	r.Advice = advise(r)
	return r
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Percentile returns the nearest-rank percentile p (0 to 1) of sorted
// durations, which must not be empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// percent is a ratio as the whole percent it is printed as: advice
// compares what it prints, so that 69.6% is not "70% below the 70% target".
func percent(ratio float64) int { return int(math.Round(100 * ratio)) }

// MeetsTarget reports whether ratio meets target as both are printed, in
// whole percent.
func MeetsTarget(ratio, target float64) bool { return percent(ratio) >= percent(target) }

// advise explains missed targets and what to change. It gives at most one
// direction for the chunk size: too few tasks for the slots asks for
// smaller chunks only when the tasks are not already dominated by their
// overhead, which asks for larger ones.
func advise(r *Report) []string {
	out := []string{}
	if r.Tasks == 0 || r.Slots == 0 {
		return out
	}
	if r.Throttled {
		if !MeetsTarget(r.Efficiency, TargetEfficiency) {
			out = append(out, fmt.Sprintf("efficiency %d%% is below the %d%% target: the job waited on --max-rate or --pause-when, so its slots idled by design; raise --max-rate for a faster run",
				percent(r.Efficiency), percent(TargetEfficiency)))
		}
		return out
	}
	items := !r.Kind.Traits().Adaptive // items are not sized by time
	larger := "use a larger --chunk-size, or --task-time 1s to size chunks from their observed times"
	if r.Streamed {
		larger = "use a larger --chunk-size" // streamed chunks are not sized by time
	}
	smaller := "use a smaller --chunk-size"
	if items {
		larger = "use a larger --chunk-size (items per task)" // items are not sized by time
		smaller = "use a smaller --chunk-size (items per task)"
	}
	tiny := r.TaskSeconds.P50 < 0.010 || r.OverheadSeconds > r.TaskSeconds.P50
	few := r.Slots > 1 && r.Tasks < 2*r.Slots // too few tasks to keep the slots busy
	uneven := r.TaskSeconds.Max > 4*r.TaskSeconds.P50 && r.TaskSeconds.Max > 0.1*r.WallSeconds
	if tiny && !few {
		out = append(out, fmt.Sprintf("tasks take %s at the median against %s of overhead each: per-task overhead dominates, %s",
			fmtDur(r.TaskSeconds.P50), fmtDur(r.OverheadSeconds), larger))
	}
	lowEfficiency := !MeetsTarget(r.Efficiency, TargetEfficiency)
	if lowEfficiency {
		msg := fmt.Sprintf("efficiency %d%% is below the %d%% target", percent(r.Efficiency), percent(TargetEfficiency))
		switch {
		case few && tiny:
			msg += fmt.Sprintf(": %d small tasks cannot keep %d slots busy and larger ones would be fewer still; the job is too small to gain from %d slots, %s",
				r.Tasks, r.Slots, r.Slots, r.fewerSlots(max(1, min(r.Slots-1, r.Tasks/2))))
		case few:
			msg += fmt.Sprintf(": %d tasks cannot keep %d slots busy, %s", r.Tasks, r.Slots, smaller)
		case uneven && !tiny:
			msg += fmt.Sprintf(": uneven tasks (max %s vs median %s) leave slots idle at the end, %s",
				fmtDur(r.TaskSeconds.Max), fmtDur(r.TaskSeconds.P50), smaller)
			if !items && !r.Streamed {
				msg += " (with --task-time, a shorter target)"
			}
		case tiny:
			msg += ": the tasks are too small for their overhead (see above)"
		default:
			msg += ": splitting or merging takes a large share of the wall time; the job may be too small to gain from more slots"
		}
		out = append(out, msg)
	}
	if !MeetsTarget(r.Utilization, TargetUtilization) && !lowEfficiency {
		msg := fmt.Sprintf("utilization %d%% is below the %d%% target: workers waited for tasks; try fewer slots (%s)",
			percent(r.Utilization), percent(TargetUtilization), r.slotsFlag())
		if !tiny {
			msg += " or more, smaller tasks"
		}
		out = append(out, msg)
	}
	return out
}

// slotsFlag is what sets the slots that ran the tasks.
func (r *Report) slotsFlag() string { return cmp.Or(r.SlotsSetBy, "-j") }

// fewerSlots says how to run the job on n slots: with a flag of the job
// (-j N, --local-workers N), or, for slots of jetmr worker processes,
// with fewer of them or a smaller jetmr worker -j, which sets each
// worker's slots rather than the job's.
func (r *Report) fewerSlots(n int) string {
	if f := r.slotsFlag(); !strings.Contains(f, "jetmr worker") {
		return fmt.Sprintf("try %s %d", f, n)
	}
	return fmt.Sprintf("run it on fewer: the slots are those of the workers that ran it (%s)", r.slotsFlag())
}

// Advise computes the advice again, after the fields it reads from
// outside the statistics (Streamed, Throttled, SlotsSetBy) are set.
func (r *Report) Advise() { r.Advice = advise(r) }

func fmtDur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(10 * time.Microsecond).String()
}

// Summary is the one-line summary printed at the end of a run.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jetmr: job %s: %d tasks", r.Job, r.Tasks)
	if r.Items > 0 {
		fmt.Fprintf(&b, " of %d items", r.Items)
	}
	if r.Committed > 0 {
		fmt.Fprintf(&b, " (%d already committed, %d run now)", r.Committed, r.Executed)
	}
	switch {
	case r.Items > 0 && (r.ItemsFailed > 0 || r.Failed > 0):
		fmt.Fprintf(&b, " (%d items failed, in %d tasks)", r.ItemsFailed, r.Failed)
	case r.Items > 0:
	case r.Failed > 0:
		fmt.Fprintf(&b, " (%d failed)", r.Failed)
	}
	switch {
	case r.Slots == 0 && r.Committed > 0:
		// A resume that found every task done ran none: it has no speedup.
		fmt.Fprintf(&b, " in %s; ", fmtDur(r.WallSeconds))
	case r.Slots == 0:
		fmt.Fprintf(&b, " in %s, no task run; ", fmtDur(r.WallSeconds))
	default:
		fmt.Fprintf(&b, " in %s on %d slots: speedup %.2fx, efficiency %d%%, utilization %d%%; ",
			fmtDur(r.WallSeconds), r.Slots, r.Speedup, percent(r.Efficiency), percent(r.Utilization))
	}
	if r.Kind.Traits().Rows {
		fmt.Fprintf(&b, "%d rows", r.Rows)
		if r.BatchesSplit > 0 {
			fmt.Fprintf(&b, " (%d batches split after timeouts)", r.BatchesSplit)
		}
	} else {
		fmt.Fprintf(&b, "%s in, %s out", humanize.IBytes(uint64(r.BytesIn)), humanize.IBytes(uint64(r.BytesOut)))
	}
	if r.BackupsRun > 0 {
		fmt.Fprintf(&b, "; %d backup attempt(s) of slow tasks, %d finished first", r.BackupsRun, r.BackupsWon)
	}
	b.WriteString(r.haltedClause())
	b.WriteString(r.Upload.clause())
	if len(r.Counters) > 0 {
		b.WriteString("\njetmr: counters: " + FormatCounters(r.Counters))
	}
	for _, a := range r.Advice {
		b.WriteString("\njetmr: advice: " + a)
	}
	return b.String()
}

// haltedClause says that the job halted and, for an each job, how many of
// its items it left: not started, or with --halt now stopped too. A job
// of another kind stops splitting its input when it halts, so the tasks
// it left, if any, are not known.
func (r *Report) haltedClause() string {
	switch {
	case r.Halted == "":
		return ""
	case r.ItemsLeft > 0 && r.Halted == "now":
		return fmt.Sprintf("; halted (--halt now): %d of the job's %d items not started or stopped", r.ItemsLeft, r.ItemsInJob)
	case r.ItemsLeft > 0:
		return fmt.Sprintf("; halted (--halt %s): %d of the job's %d items not started", r.Halted, r.ItemsLeft, r.ItemsInJob)
	case r.Kind == schema.KindEach:
		return "" // every item ran
	}
	return fmt.Sprintf("; halted (--halt %s)", r.Halted)
}

// FormatCounters is counters as one line: "GROUP,NAME=VALUE; ...", the
// counters' own order. A group or name that holds a character of that
// syntax (";", "=", ","), a double quote, a backslash or a character
// that does not print is
// quoted as a Go string, so that the line reads back one way; a
// saturated counter's value is followed by " (saturated)".
func FormatCounters(counters []schema.Counter) string {
	parts := make([]string, len(counters))
	for i, c := range counters {
		parts[i] = fmt.Sprintf("%s,%s=%d", counterField(c.Group), counterField(c.Name), c.Value)
		if c.Saturated {
			parts[i] += " (saturated)"
		}
	}
	return strings.Join(parts, "; ")
}

// counterField is a counter's group or name as FormatCounters writes it.
func counterField(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool {
		return strings.ContainsRune(";=,\"\\", r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}

// Warnings are the lines printed on standard error after the summary,
// whatever --quiet says: what the run did that is likely a mistake.
func (r *Report) Warnings() []string {
	var out []string
	if r.BatchesUnchanged > 0 {
		out = append(out, fmt.Sprintf("jetmr: warning: %d batches held rows but their SQL changed none, e.g. %s: does its WHERE use $1 and $2 as documented (key >= $1 AND key < $2)? (expected only if the SQL skips rows already migrated)",
			r.BatchesUnchanged, r.UnchangedBatches[0]))
	}
	if r.NullKeyRows > 0 {
		out = append(out, "jetmr: warning: "+NullKeysWarning(r.NullKeyRows, r.Key))
	}
	if n := len(r.Skipped); n > 0 && r.Failed == 0 {
		where := ""
		if r.Rejects != "" {
			where = "; they are in " + r.Rejects
		}
		of := "the output"
		if r.Kind.Traits().Rows {
			of = "the migration" // rows left as they were
		}
		out = append(out, fmt.Sprintf("jetmr: warning: %d bad record(s) left out of %s (--skip-bad-records), first %s%s", n, of, r.Skipped[0].Where(), where))
	}
	return out
}

// NullKeysWarning says that n rows with a NULL key were not migrated, and
// what to do about them.
func NullKeysWarning(n int64, key string) string {
	return fmt.Sprintf("%d rows have a NULL %s, which no batch covers: their SQL did not run; migrate them with one statement of their own (WHERE %s IS NULL), or choose a key column without NULLs",
		n, key, key)
}

// WriteFile writes the report as indented JSON, atomically.
func (r *Report) WriteFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
