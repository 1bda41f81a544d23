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

// watchdogEvery is how often the watchdog looks; it reports a loss after
// two looks in a row found no progress and nothing queued.
var watchdogEvery = 5 * time.Second

// watchdog fails the job when splitting is done, tasks remain, and none is
// queued or running while nothing completes: every task still to come must
// be in the task stream (queued, running or waiting for a retry) until its
// result is stored.
func (s *session) watchdog(ctx context.Context, red *reducer.Reducer, total *atomic.Int64) error {
	t := time.NewTicker(watchdogEvery)
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
		stream, err := s.b.JS.Stream(ctx, schema.TaskStream(s.record.ID))
		if err != nil {
			continue // the broker may be failing over: look again later
		}
		if stream.CachedInfo().State.Msgs > 0 {
			stalls = 0
			continue
		}
		if stalls++; stalls >= 2 {
			return fmt.Errorf("%w: job %s: %d of %d tasks are neither queued nor done; their task messages were removed from stream %s without a result",
				ErrTasksLost, s.record.ID, uint64(n)-done, n, schema.TaskStream(s.record.ID))
		}
	}
}
