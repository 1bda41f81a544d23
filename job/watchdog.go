package job

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ErrTasksLost means tasks of the job are neither queued nor done: their
// messages were removed from the task stream without a result (by hand,
// or by a fault outside jetmr). Without this check the job would wait for
// them forever.
var ErrTasksLost = errors.New("tasks lost")

// defaultLossCheck is how often the watchdog looks by default.
const defaultLossCheck = 5 * time.Second

// watchdog fails the job when splitting is done, tasks remain, and for two
// looks in a row nothing has progressed: no task completed, none is queued
// or running, no result is stored that the reducer has still to merge, and
// the reducer is not in the middle of a merge (which may wait on a slow
// reader of the output). Every task still to come must then be in the task
// stream (queued, running or waiting for a retry) or in the results stream
// until the reducer takes it in.
func (s *session) watchdog(ctx context.Context, red *reducer.Reducer, total *atomic.Int64) error {
	every := s.cfg.LossCheck
	if every <= 0 {
		every = defaultLossCheck
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, stalls := uint64(0), 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, done := total.Load(), red.Completed()
		if n < 0 || done >= uint64(n) || done != last {
			last, stalls = done, 0
			continue
		}
		if s.progressing(ctx, red) {
			stalls = 0
			continue
		}
		if stalls++; stalls >= 2 {
			return fmt.Errorf("%w: job %s: %d of %d tasks are neither queued nor done; their task messages were removed from stream %s without a result",
				ErrTasksLost, s.record.ID, uint64(n)-done, n, schema.TaskStream(s.record.ID))
		}
	}
}

// progressing reports whether tasks not complete yet may still complete:
// the reducer is merging, results wait to be merged, or tasks are queued
// or running. When the broker cannot tell, it says yes: it may be failing
// over, and the watchdog looks again later.
func (s *session) progressing(ctx context.Context, red *reducer.Reducer) bool {
	taken, busy := red.Position()
	if busy {
		return true
	}
	results, err := s.b.JS.Stream(ctx, schema.ResultStream(s.record.ID))
	if err != nil || results.CachedInfo().State.LastSeq > taken {
		return true
	}
	if _, busy := red.Position(); busy {
		return true // took in a result while the stream was read
	}
	tasks, err := s.b.JS.Stream(ctx, schema.TaskStream(s.record.ID))
	return err != nil || tasks.CachedInfo().State.Msgs > 0
}
