package observe

import (
	"errors"
	"io"
	"time"

	"github.com/jetmr/jetmr/schema"
)

// Attempt is one attempt of one task on one worker slot.
type Attempt struct {
	Job   string `json:"job"`
	Stage string `json:"stage,omitempty"`
	Index uint64 `json:"index"`
	// Attempt counts from 1; attempts after the first are redeliveries.
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
	Slot    int    `json:"slot"`
	// Slots is how many tasks the worker runs at once, 0 when unknown:
	// [Metrics] counts the slots of the workers it has seen.
	Slots int `json:"slots,omitempty"`
	// Start and End bound the attempt; End is zero in AttemptStarted.
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	ExitCode int       `json:"exit_code"`
	// Signal names the signal that killed the task's command, if any, as
	// "KILL", "SIGKILL", "killed" or "9".
	Signal string `json:"signal,omitempty"`
	Failed bool   `json:"failed,omitempty"`
	// Retried is set when a later attempt of the task follows this one.
	Retried bool `json:"retried,omitempty"`
	// Superseded is set on an attempt stopped because its task's result
	// came from another attempt (a backup, or the original a backup
	// overtook): it neither failed nor is retried, and another attempt
	// counts for the task.
	Superseded bool `json:"superseded,omitempty"`
	// Stopped is set on an attempt cut short, or whose result was dropped,
	// because the job stopped (an interrupt): the task runs again when
	// the job is resumed. It is also Retried.
	Stopped bool `json:"stopped,omitempty"`
	// Command is the command line, for the job log's Command column.
	Command string `json:"command,omitempty"`
	// Rows is the number of rows a migrate batch covers, committed by this
	// attempt or an earlier one; 0 for other jobs and failed attempts.
	Rows int64 `json:"rows,omitempty"`
}

// Duration is how long the attempt ran, zero when it has not ended.
func (a Attempt) Duration() time.Duration {
	if a.End.IsZero() || a.End.Before(a.Start) {
		return 0
	}
	return a.End.Sub(a.Start)
}

// final reports whether this attempt decides its task: no other attempt
// follows it, nor was its task's result taken from another.
func (a Attempt) final() bool { return !a.Retried && !a.Superseded }

// Observer receives events. Implementations are safe for concurrent use.
type Observer interface {
	// JobStarted opens a job (or one stage of it). totalTasks is -1 while
	// unknown; totalBytes is 0 when unknown.
	JobStarted(job, stage string, totalTasks int64, totalBytes int64, slots int)
	// TasksPublished says n tasks are known so far; total is true once
	// splitting is done and n is the final count.
	TasksPublished(job, stage string, n int64, total bool)
	AttemptStarted(a Attempt)
	AttemptEnded(a Attempt)
	JobEnded(job, stage string, err error)
}

// RowsObserver is an Observer that also follows the rows of a migrate
// job: the job calls RowsEstimated after JobStarted with the estimated
// number of rows it will migrate (an estimate: the rows done may pass it),
// and each final attempt's Attempt.Rows says how many it did. [Multi]
// passes the call to those of its observers that implement it.
type RowsObserver interface {
	Observer
	RowsEstimated(job, stage string, total int64)
}

// CounterObserver is an Observer that also follows the user counters of
// a job (reporter:counter:GROUP,NAME,AMOUNT lines of its commands,
// counter.Add of its functions): Counted is called with the counters and
// the status message (reporter:status:MSG) of each task result the job
// merges, each task's once, so that summing them gives the job's
// counters. [Multi] passes the call to those of its observers that
// implement it.
type CounterObserver interface {
	Observer
	Counted(job, stage string, counters []schema.Counter, status string)
}

// PauseObserver is an Observer that also hears when a job holds back new
// tasks and why: Paused is called with the cause ("pause-when",
// "memfree") and a reason for people as a pause starts, and with the same
// cause and an empty reason as it ends. [Multi] passes the call to those
// of its observers that implement it.
type PauseObserver interface {
	Observer
	Paused(job, stage, cause, reason string)
}

// DropObserver is an Observer that also hears of attempts whose start it
// was told of and whose end it will never be told of: an attempt that ran
// in another process and whose end announcement was lost (its worker was
// killed, or a connection failed), dropped once the job knows it is over
// (its task was merged or runs again, its worker is gone, the job ended).
// AttemptDropped takes the attempt out of those running; it had no
// outcome the job knows of, so it counts in no total, duration, job log
// or trace. [Multi] passes the call to those of its observers that
// implement it.
type DropObserver interface {
	Observer
	AttemptDropped(a Attempt)
}

// Multi returns an Observer that passes every event to each of obs in turn,
// skipping nil ones. The result also implements io.Closer: Close closes
// those of obs that implement io.Closer, in reverse order, and joins their
// errors.
func Multi(obs ...Observer) Observer {
	var m multi
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multi:
			m = append(m, o...)
		default:
			m = append(m, o)
		}
	}
	return m
}

type multi []Observer

var (
	_ io.Closer       = multi(nil)
	_ RowsObserver    = multi(nil)
	_ PauseObserver   = multi(nil)
	_ CounterObserver = multi(nil)
	_ DropObserver    = multi(nil)
)

func (m multi) Counted(job, stage string, counters []schema.Counter, status string) {
	for _, o := range m {
		if c, ok := o.(CounterObserver); ok {
			c.Counted(job, stage, counters, status)
		}
	}
}

func (m multi) JobStarted(job, stage string, totalTasks, totalBytes int64, slots int) {
	for _, o := range m {
		o.JobStarted(job, stage, totalTasks, totalBytes, slots)
	}
}

func (m multi) TasksPublished(job, stage string, n int64, total bool) {
	for _, o := range m {
		o.TasksPublished(job, stage, n, total)
	}
}

func (m multi) RowsEstimated(job, stage string, total int64) {
	for _, o := range m {
		if r, ok := o.(RowsObserver); ok {
			r.RowsEstimated(job, stage, total)
		}
	}
}

func (m multi) Paused(job, stage, cause, reason string) {
	for _, o := range m {
		if p, ok := o.(PauseObserver); ok {
			p.Paused(job, stage, cause, reason)
		}
	}
}

func (m multi) AttemptStarted(a Attempt) {
	for _, o := range m {
		o.AttemptStarted(a)
	}
}

func (m multi) AttemptEnded(a Attempt) {
	for _, o := range m {
		o.AttemptEnded(a)
	}
}

func (m multi) AttemptDropped(a Attempt) {
	for _, o := range m {
		if d, ok := o.(DropObserver); ok {
			d.AttemptDropped(a)
		}
	}
}

func (m multi) JobEnded(job, stage string, err error) {
	for _, o := range m {
		o.JobEnded(job, stage, err)
	}
}

func (m multi) Close() error {
	var errs []error
	for i := len(m) - 1; i >= 0; i-- {
		if c, ok := m[i].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// jobKey names one stage of one job.
type jobKey struct{ job, stage string }

// label is how progress output names a job stage.
func (k jobKey) label() string {
	if k.stage == "" {
		return "job " + k.job
	}
	return "job " + k.job + " stage " + k.stage
}

// flusher is implemented by buffered writers such as *bufio.Writer.
type flusher interface{ Flush() error }
