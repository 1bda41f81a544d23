package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
)

var (
	// ErrInvalid matches every error in a job file found before anything
	// runs. Such errors also match job.ErrBadInput.
	ErrInvalid = errors.New("invalid job file")
	// ErrStageFailed matches the error of a pipeline some stage of which
	// failed; a *StageError names it.
	ErrStageFailed = errors.New("stage failed")
)

// Error is a problem in a job file, at a line of it.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Is reports whether target is ErrInvalid or job.ErrBadInput.
func (e *Error) Is(target error) bool { return target == ErrInvalid || target == job.ErrBadInput }

// StageError is the failure of one stage of a pipeline run. It matches
// ErrStageFailed, and job.ErrBadInput when the stage's job failed as bad
// input (no live worker has its map function, say: its job is dropped,
// and the stage wrote nothing), job.ErrTasksFailed otherwise (whatever
// else made the stage fail).
type StageError struct {
	Stage string
	// Job is the stage's job ID, for jetmr status and --resume.
	Job string
	// Skipped names the stages not run because they depend on Stage.
	Skipped []string
	Err     error
}

func (e *StageError) Error() string {
	msg := fmt.Sprintf("stage %s failed: %s", e.Stage, failure(e.Err))
	if len(e.Skipped) > 0 {
		msg += "; not run: " + strings.Join(e.Skipped, ", ")
	}
	return msg
}

// failure says why a stage's job failed. Failed tasks are counted, not
// told as the job's own message is, which says how to rerun the job
// alone: a pipeline is resumed as a whole.
func failure(err error) string {
	var tf *job.TasksFailedError
	if errors.As(err, &tf) {
		return fmt.Sprintf("%d task(s) of job %s failed for good", len(tf.Dead), tf.Job)
	}
	return errs.Translate(err.Error(), optionKeys)
}

// optionKeys translates the job settings that errors name into the job
// file's keys.
var optionKeys = map[string]string{
	"Config.ID":              "--job",
	"Config.Resume":          "--resume",
	"Config.RetryFailed":     "--retry-failed",
	"Config.Partitions":      "partitions",
	"Config.Combiner":        "combiner",
	"Config.KeyFields":       "key_fields",
	"Config.PartitionFields": "partition_fields",
	"Config.KeyOrder":        "key_order",
	"Config.ChunkSize":       "chunk_size",
	"Config.TaskTime":        "task_time",
	"Config.Timeout":         "timeout",
	"Config.OkExit":          "ok_exit",
	"Config.Transport":       "--transport",
	"Config.DataListen":      "--data-listen",
	"Config.LocalWorkers":    "--local-workers",
	"Config.Broker.URL":      "--nats",
	"Config.Join":            "join",
	"Config.Shell":           "shell",
	"Config.Output":          "output",
	"Config.Broker.StoreDir": "--store",
	"Config.SkipBadRecords":  "skip_bad_records",
	"Config.Rejects":         "the rejects file (OUTPUT.rejected)",
}

// Is reports whether target is ErrStageFailed, or job.ErrBadInput or
// job.ErrTasksFailed as the stage's error is bad input or not.
func (e *StageError) Is(target error) bool {
	bad := errors.Is(e.Err, job.ErrBadInput)
	switch target {
	case ErrStageFailed:
		return true
	case job.ErrBadInput:
		return bad
	case job.ErrTasksFailed:
		return !bad
	}
	return false
}

// sortedErrors joins problems as joinErrors does, flattened and in file
// order: those without a line first, then every *Error by its line.
func sortedErrors(problems []error) error {
	flat := flatten(problems...)
	slices.SortStableFunc(flat, func(a, b error) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return joinErrors(flat)
}

// flatten lists the errors joined in errs (errors.Join), those joined in
// them and so on; nil ones are left out.
func flatten(errs ...error) []error {
	var flat []error
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, flatten(j.Unwrap()...)...)
		} else if err != nil {
			flat = append(flat, err)
		}
	}
	return flat
}

// lineOf is the line of an *Error, -1 for other errors.
func lineOf(err error) int {
	if e, ok := err.(*Error); ok {
		return e.Line
	}
	return -1
}

// joinErrors is nil for no errors, the error itself for one, and all of
// them, one a line, for more.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
