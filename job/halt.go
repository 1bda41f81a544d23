package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ParseHalt reads a --halt value: never, soon,fail=N or now,fail=N (GNU
// parallel's syntax; "soon" and "now" alone mean fail=1).
func ParseHalt(s string) (Halt, error) {
	when, rest, _ := strings.Cut(s, ",")
	h := Halt{When: when, Fail: 1}
	if rest != "" {
		v, ok := strings.CutPrefix(rest, "fail=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 {
			return Halt{}, badInput("--halt %q is not valid: use never, soon,fail=N or now,fail=N with N >= 1", s)
		}
		h.Fail = n
	}
	if h.When == HaltNever && rest != "" {
		return Halt{}, badInput("--halt never takes no fail=N")
	}
	return h, h.validate()
}

// haltSoonPoll is how often a job halting soon looks whether its running
// tasks are done.
const haltSoonPoll = 50 * time.Millisecond

// soonHalt is the state of --halt soon: once the policy is reached, no
// task starts; the job halts when the tasks already running are done and
// their results merged.
type soonHalt struct {
	once      sync.Once
	triggered chan struct{} // closed when the policy is reached
	stopPull  context.CancelFunc
	paused    atomic.Bool  // the task consumer was paused
	failed    atomic.Int64 // tasks failed for good so far
}

func newSoonHalt(stopPull context.CancelFunc) *soonHalt {
	return &soonHalt{triggered: make(chan struct{}), stopPull: stopPull}
}

// trigger stops this process's workers from taking tasks, those fetched
// ahead included (they are handed back unstarted).
func (h *soonHalt) trigger() {
	h.once.Do(func() {
		h.stopPull()
		close(h.triggered)
	})
}

// settle waits for the policy; then it pauses the task consumer, so that
// workers of other processes start no task either, and halts the job once
// no task is running and the reducer has merged every stored result.
// workerDone is closed when this process's worker has returned (nil when
// it runs none).
func (s *session) settle(ctx context.Context, h *soonHalt, red *reducer.Reducer, workerDone <-chan struct{}, halt context.CancelCauseFunc) error {
	select {
	case <-ctx.Done():
		return nil
	case <-h.triggered:
	}
	stream, consumer := schema.TaskStream(s.record.ID), schema.MapperConsumer
	if _, err := s.b.JS.PauseConsumer(ctx, stream, consumer, time.Now().Add(365*24*time.Hour)); err == nil {
		h.paused.Store(true)
	} else {
		s.cfg.Logger.Debug().Err(err).Str("job", s.record.ID).Msg("pausing the task consumer")
	}
	if workerDone != nil {
		select {
		case <-ctx.Done():
			return nil
		case <-workerDone:
		}
	}
	t := time.NewTicker(haltSoonPoll)
	defer t.Stop()
	since, last := time.Now(), uint64(0)
	for {
		// A task handed back while the consumer is paused stays pending,
		// so with workers elsewhere, results that stop coming for a while
		// mean that the running tasks are done.
		if seq, _ := red.Position(); seq != last {
			since, last = time.Now(), seq
		}
		if s.settled(ctx, red, time.Since(since) >= remoteQuiet) {
			halt(fmt.Errorf("%w: %d task(s) failed; the tasks that had not started did not run", ErrHalted, h.failed.Load()))
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// remoteQuiet is how long a job halting soon with workers elsewhere waits
// for results once some task is still pending.
const remoteQuiet = 30 * time.Second

// settled reports whether no task of the job is running and the reducer
// has merged every stored result. With the embedded server every worker is
// this process's, done once it returned; with workers elsewhere no task
// may be pending (running, or fetched ahead and handed back), unless
// results have not come for a while (quiet).
func (s *session) settled(ctx context.Context, red *reducer.Reducer, quiet bool) bool {
	if s.cfg.Broker.URL != "" && !quiet {
		c, err := s.b.JS.Consumer(ctx, schema.TaskStream(s.record.ID), schema.MapperConsumer)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return false
		}
		if err == nil {
			info, err := c.Info(ctx)
			if err != nil || info.NumAckPending > 0 {
				return false
			}
		}
	}
	taken, busy := red.Position()
	if busy {
		return false
	}
	results, err := s.b.JS.Stream(ctx, schema.ResultStream(s.record.ID))
	if err != nil || results.CachedInfo().State.LastSeq > taken {
		return false
	}
	_, busy = red.Position()
	return !busy
}

// unpause lets workers take the job's tasks again after a halt, so that a
// resume runs them. Once ctx has ended, the request is bounded as
// [stopWrites] says.
func (s *session) unpause(ctx context.Context) error {
	ctx, cancel := s.stop.context(ctx, 10*time.Second)
	defer cancel()
	_, err := s.b.JS.ResumeConsumer(ctx, schema.TaskStream(s.record.ID), schema.MapperConsumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("letting workers take the tasks of job %s again: %w", s.record.ID, err)
	}
	return nil
}

// awaitCounted returns, for a job with a --halt policy, what a local
// worker calls after storing a task's failure result: it waits until the
// reducer has taken that result in (and so applied the policy), so that
// the worker's slot starts no task the policy would have stopped. It
// returns nil for a job that never halts.
func (s *session) awaitCounted(red *reducer.Reducer) func(ctx context.Context, seq uint64) {
	if h := s.cfg.Halt; h.When == "" || h.When == HaltNever {
		return nil
	}
	return func(ctx context.Context, seq uint64) {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if taken, busy := red.Position(); taken > seq || (taken == seq && !busy) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}
