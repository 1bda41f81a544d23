package job

import (
	"errors"
	"fmt"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

var (
	// ErrBadInput is matched by every error caused by the job's
	// configuration or inputs: a *errs.BadInputError naming the setting at
	// fault. Nothing was started and nothing was written. It is
	// [errs.ErrBadInput], which the splitter's and migrate's bad input
	// match too.
	ErrBadInput = errs.ErrBadInput
	// ErrOutputExists means the job's output exists and Force was not
	// given. Its errors match ErrBadInput too.
	ErrOutputExists = errors.New("output exists")
	// ErrJobExists means a new job (no Config.Resume) was given the ID of
	// a job the store holds. Its errors match ErrBadInput too.
	ErrJobExists = errors.New("job exists")
	// ErrUnresumable means Config.Resume named a job that cannot be
	// resumed: it wrote to stdout. Its errors match ErrBadInput too.
	ErrUnresumable = errors.New("job cannot be resumed")
	// ErrTasksFailed means the job ran to the end but some tasks failed on
	// every attempt; no output was published.
	ErrTasksFailed = errors.New("tasks failed")
	// ErrUploadFailed means the job completed but uploading its s3://
	// output failed: the output is kept in its staging folder, and a
	// resume of the job (Config.Resume, with the same settings) uploads
	// it without running anything again, even for a job that read
	// standard input. Its errors are an [*UploadError].
	ErrUploadFailed = errors.New("upload failed")
	// ErrCommandChanged means a --retry-failed resume changed a command of
	// a job that has tasks left that never ran: they would run under the
	// new command next to those the old one finished. Its errors match
	// ErrBadInput too.
	ErrCommandChanged = errors.New("the command changed while tasks are left to run")
)

// UploadError is the failure to upload the output of a job that
// completed. It matches [ErrUploadFailed] with errors.Is, and the
// object store's error that it wraps.
type UploadError struct {
	Job string
	// What failed: "uploading its output to s3://..." or "listing the
	// objects under s3://...".
	What string
	// Staged is the staged output, kept for the resume that uploads it.
	Staged string
	Err    error
}

func (e *UploadError) Error() string {
	return fmt.Sprintf("job %s completed, but %s failed; the output is kept in %s: %v", e.Job, e.What, e.Staged, e.Err)
}

func (e *UploadError) Unwrap() error { return e.Err }

// Is matches [ErrUploadFailed].
func (e *UploadError) Is(target error) bool { return target == ErrUploadFailed }

// TasksFailedError carries the dead letters of a job whose tasks failed.
// It matches [ErrTasksFailed] with errors.Is.
type TasksFailedError struct {
	Job  string
	Kind schema.Kind
	Dead []report.DeadLetter
	// Streamed is set for a pipe job writing to stdout, which got the
	// outputs of the tasks before the first failure.
	Streamed bool
	// Halted is the --halt policy that stopped the job before it ran every
	// task ("" when it ran to the end): the tasks that had not started
	// did not run, nor, with "now", did those it stopped.
	Halted string
	// Counted is set when Committed and CommittedRows hold what the run
	// of a halted migrate job committed, as its database's progress table
	// records it: the batches (the parts of split ones each count) and
	// the rows their SQL affected, those whose results were on their way
	// when the job halted included.
	Counted       bool
	Committed     int
	CommittedRows int64
}

func (e *TasksFailedError) Error() string {
	halted := ""
	if e.Halted != "" {
		halted = " and --halt " + e.Halted + " stopped the job"
	}
	switch {
	case e.Kind.Traits().Rows && e.Halted != "" && e.Counted:
		return fmt.Sprintf("job %s: %d batch(es) failed%s: %d batch(es) had committed (%d rows) when it stopped, no other batch had; a resume with --retry-failed runs the failed batches and those that did not run",
			e.Job, len(e.Dead), halted, e.Committed, e.CommittedRows)
	case e.Kind.Traits().Rows && e.Halted != "":
		return fmt.Sprintf("job %s: %d batch(es) failed%s: the batches that had not started did not run; a resume with --retry-failed runs them and the failed ones", e.Job, len(e.Dead), halted)
	case e.Kind.Traits().Rows:
		return fmt.Sprintf("job %s: %d batch(es) failed; the other batches committed", e.Job, len(e.Dead))
	case e.Kind.Traits().PerItem:
		return fmt.Sprintf("job %s: items failed on every attempt in %d task(s)%s", e.Job, len(e.Dead), halted)
	case e.Streamed:
		return fmt.Sprintf("job %s: %d task(s) failed on every attempt%s; stdout got the output of the tasks before the first failure", e.Job, len(e.Dead), halted)
	}
	return fmt.Sprintf("job %s: %d task(s) failed on every attempt%s; no output was published", e.Job, len(e.Dead), halted)
}

// Is reports whether target is ErrTasksFailed.
func (e *TasksFailedError) Is(target error) bool { return target == ErrTasksFailed }

// badSetting is bad input in setting ("Config.Field"), which the message
// names the same way; %w in format wraps a cause.
func badSetting(setting, format string, args ...any) error {
	return errs.BadInput(setting, format, args...)
}

// badInput is bad input that names no one setting; %w in format wraps a
// cause.
func badInput(format string, args ...any) error {
	return errs.BadInput("", format, args...)
}

// outputExistsError refuses an output that exists.
type outputExistsError struct {
	path string
	// setting names the setting that chose the path ("": the output, -o).
	setting string
}

func (e *outputExistsError) Error() string {
	if e.setting != "" {
		return fmt.Sprintf("%s %s already exists: remove it, choose another %s, or add --force to replace it", e.setting, e.path, e.setting)
	}
	return fmt.Sprintf("output %s already exists: remove it, choose another -o, or add --force to replace it", e.path)
}

// Is reports whether target is ErrOutputExists or ErrBadInput.
func (e *outputExistsError) Is(target error) bool {
	return target == ErrOutputExists || target == ErrBadInput
}
