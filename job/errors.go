package job

import (
	"errors"
	"fmt"

	"github.com/jetmr/jetmr/reducer"
)

var (
	// ErrBadInput wraps every error caused by the job's configuration or
	// inputs. Nothing was started and nothing was written.
	ErrBadInput = errors.New("bad input")
	// ErrOutputExists means the job's output exists and Force was not
	// given. Its errors match ErrBadInput too.
	ErrOutputExists = errors.New("output exists")
	// ErrTasksFailed means the job ran to the end but some tasks failed on
	// every attempt; no output was published.
	ErrTasksFailed = errors.New("tasks failed")
)

// TasksFailedError carries the dead letters of a job whose tasks failed.
// It matches [ErrTasksFailed] with errors.Is.
type TasksFailedError struct {
	Job  string
	Kind string
	Dead []reducer.DeadLetter
	// Streamed is set for a pipe job writing to stdout, which got the
	// outputs of the tasks before the first failure.
	Streamed bool
}

func (e *TasksFailedError) Error() string {
	if e.Kind == "migrate" {
		return fmt.Sprintf("job %s: %d batch(es) failed; the other batches committed", e.Job, len(e.Dead))
	}
	if e.Kind == "each" {
		return fmt.Sprintf("job %s: items failed on every attempt in %d task(s)", e.Job, len(e.Dead))
	}
	if e.Streamed {
		return fmt.Sprintf("job %s: %d task(s) failed on every attempt; stdout got the output of the tasks before the first failure", e.Job, len(e.Dead))
	}
	return fmt.Sprintf("job %s: %d task(s) failed on every attempt; no output was published", e.Job, len(e.Dead))
}

// Is reports whether target is ErrTasksFailed.
func (e *TasksFailedError) Is(target error) bool { return target == ErrTasksFailed }

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// outputExistsError refuses an output that exists.
type outputExistsError struct{ path string }

func (e *outputExistsError) Error() string {
	return fmt.Sprintf("output %s already exists: remove it, choose another -o, or add --force to replace it", e.path)
}

// Is reports whether target is ErrOutputExists or ErrBadInput.
func (e *outputExistsError) Is(target error) bool {
	return target == ErrOutputExists || target == ErrBadInput
}
