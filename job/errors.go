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
	// ErrTasksFailed means the job ran to the end but some tasks failed on
	// every attempt; no output was published.
	ErrTasksFailed = errors.New("tasks failed")
)

// TasksFailedError carries the dead letters of a job whose tasks failed.
// It matches [ErrTasksFailed] with errors.Is.
type TasksFailedError struct {
	Job  string
	Kind schema.Kind
	Dead []report.DeadLetter
}

func (e *TasksFailedError) Error() string {
	if e.Kind.Traits().Rows {
		return fmt.Sprintf("job %s: %d batch(es) failed; the other batches committed; fix the cause and run again with --resume --retry-failed", e.Job, len(e.Dead))
	}
	if e.Kind.Traits().PerItem {
		return fmt.Sprintf("job %s: items failed on every attempt in %d task(s); run them again with --job %s --resume --retry-failed", e.Job, len(e.Dead), e.Job)
	}
	return fmt.Sprintf("job %s: %d task(s) failed on every attempt; no output was published", e.Job, len(e.Dead))
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
