package pipeline_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/pipeline"
)

// TestStageErrorMatches: a stage's failure matches job.ErrBadInput when
// its job was refused as bad input (exit 2, as the job alone would), and
// job.ErrTasksFailed for any other cause (exit 1); ErrStageFailed always.
func TestStageErrorMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		err         error
		badInput    bool
		tasksFailed bool
	}{
		{"tasks failed", fmt.Errorf("job p-a: %w", job.ErrTasksFailed), false, true},
		{"no worker", errs.BadInput("", "%w: job p-a: every live worker refused it", job.ErrNoWorker), true, false},
		{"broker gone", errors.New("loading job p-a: connection closed"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := error(&pipeline.StageError{Stage: "a", Job: "p-a", Err: tc.err})
			if !errors.Is(err, pipeline.ErrStageFailed) {
				t.Errorf("%v does not match ErrStageFailed", err)
			}
			if got := errors.Is(err, job.ErrBadInput); got != tc.badInput {
				t.Errorf("errors.Is(%v, job.ErrBadInput) = %v, want %v", err, got, tc.badInput)
			}
			if got := errors.Is(err, job.ErrTasksFailed); got != tc.tasksFailed {
				t.Errorf("errors.Is(%v, job.ErrTasksFailed) = %v, want %v", err, got, tc.tasksFailed)
			}
		})
	}
}
