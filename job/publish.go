package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// errSplitStopped ends splitting early, for --halt soon.
var errSplitStopped = errors.New("splitting stopped")

// checkpointEvery is the least time between splitter checkpoints.
const checkpointEvery = time.Second

// publishTasks splits the inputs and publishes one task per range, holding
// a place in the window for each until the reducer retires it. Tasks below
// the splitter checkpoint of a resumed job are skipped: they are in the
// task stream or done. It returns the number of tasks once the server has
// stored them all, or early when stop is closed.
func (s *session) publishTasks(ctx context.Context, win *window, stop <-chan struct{}) (uint64, error) {
	if s.splitState.Done {
		s.obs().TasksPublished(s.record.ID, "", int64(s.splitState.Published), true)
		return s.splitState.Published, nil
	}
	skip := s.splitState.Published
	if s.splitState.HasCursor() {
		skip = 0 // a write-ahead split resumes from its cursor, not by skipping
	}
	acks := make(chan pendingTask, 1024)
	g, gctx := errgroup.WithContext(ctx)
	stored := skip // tasks the server confirmed, owned by awaitAcks until Wait
	g.Go(func() error { return s.awaitAcks(gctx, acks, &stored) })
	var n uint64
	throttle := s.throttle()
	g.Go(func() error {
		defer close(acks)
		err := s.split(gctx, &n, func(c splitter.Chunk) error {
			select {
			case <-stop:
				return errSplitStopped
			default:
			}
			i := n
			n++
			if i < skip {
				return nil
			}
			if err := throttle(gctx); err != nil {
				return err
			}
			if s.writeAhead() {
				// Write ahead: a resume must find this chunk even if the
				// source changes, or is split differently, next time.
				ckpt := schema.SplitCheckpoint{Cursor: c.Data, CursorIndex: i,
					CursorPath: c.Path, CursorOffset: c.Offset, CursorLength: c.Length, CursorHeader: c.Header}
				if err := s.saveSplit(gctx, ckpt); err != nil {
					return err
				}
			}
			if err := win.acquire(gctx, i); err != nil {
				return err
			}
			if c.Path == "" && s.spools() {
				var err error
				if c, err = s.spool(i, c); err != nil {
					return err
				}
			}
			t := schema.Task{Job: s.record.ID, Index: i, Path: c.Path, Offset: c.Offset, Length: c.Length, Inline: c.Data, Sum: c.Sum, Header: c.Header}
			if err := s.ship(gctx, &t); err != nil {
				return err
			}
			s.spec.published(t)
			fut, err := s.publishTask(t, schema.TaskMsgID(s.record.ID, i))
			if err != nil {
				return err
			}
			if s.writeAhead() {
				// The next write-ahead checkpoint replaces this one: this
				// task must be stored before it, or a crash would lose it.
				select {
				case <-fut.Ok():
				case err := <-fut.Err():
					return fmt.Errorf("publishing task %d: %w", i, err)
				case <-gctx.Done():
					return gctx.Err()
				}
				fut = nil // confirmed; a future's Ok is delivered once
			}
			select {
			case acks <- pendingTask{index: i, fut: fut}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		if errors.Is(err, errSplitStopped) {
			return nil // n counts the ranges published: the one that saw the stop was not counted
		}
		return err
	})
	err := g.Wait()
	s.splitState.Published = stored
	ckpt := schema.SplitCheckpoint{Published: stored, Done: err == nil}
	if s.writeAhead() && !ckpt.Done {
		// Keep the write-ahead cursor: a resume starts from it.
		if err == nil {
			err = errSplitStopped
		}
		return 0, err
	}
	if err == nil {
		ckpt.Published = n
		select {
		case <-stop:
			ckpt.Done = false
		default:
		}
	}
	// Record how far splitting got even when stopping, so a resume goes on
	// from there.
	sctx, cancel := s.stop.context(ctx, 10*time.Second)
	defer cancel()
	if cerr := s.saveSplit(sctx, ckpt); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	s.obs().TasksPublished(s.record.ID, "", int64(n), ckpt.Done)
	return n, nil
}

// split runs the source: from the start, or, for a write-ahead split that
// a crashed run had started, from its cursor; n is set to the index of the
// first chunk yielded. A job sized by --task-time asks the sizer for each
// chunk's size.
func (s *session) split(ctx context.Context, n *uint64, yield func(splitter.Chunk) error) error {
	var last *splitter.Chunk
	if c := s.splitState; c.HasCursor() {
		last = &splitter.Chunk{Data: c.Cursor, Path: c.CursorPath, Offset: c.CursorOffset, Length: c.CursorLength, Header: c.CursorHeader}
		*n = c.CursorIndex
		if err := yield(*last); err != nil {
			return err
		}
	}
	if s.sizer != nil {
		return s.source.(splitter.AdaptiveSource).SplitSized(ctx, last, s.chunkSize, yield)
	}
	if t := s.taper(); t != nil && last == nil {
		return s.source.(splitter.AdaptiveSource).SplitSized(ctx, nil, t.Size, func(c splitter.Chunk) error {
			t.Took(c.Length)
			return yield(c)
		})
	}
	if last != nil {
		return s.source.(splitter.CursorSource).SplitAfter(ctx, *last, s.record.ChunkSize, yield)
	}
	return s.source.Split(ctx, s.record.ChunkSize, yield)
}

// throttle returns what waits before each task of a migrate job: the
// --max-rate bound and the --pause-when health query.
func (s *session) throttle() func(context.Context) error {
	m := s.cfg.Migration
	if m == nil || s.db == nil || (m.MaxRate <= 0 && m.PauseWhen == "") {
		return func(context.Context) error { return nil }
	}
	var lim *rate.Limiter
	if m.MaxRate > 0 {
		lim = rate.NewLimiter(rate.Limit(m.MaxRate), 1)
	}
	return func(ctx context.Context) error {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
		}
		var since time.Time // when the pause began; zero while not paused
		for m.PauseWhen != "" {
			pause, err := s.db.Healthy(ctx, m.PauseWhen)
			if err != nil {
				return fmt.Errorf("--pause-when: %w", err)
			}
			if !pause {
				if !since.IsZero() {
					s.cfg.Logger.Info().Str("job", s.record.ID).Dur("paused", time.Since(since)).Msg("--pause-when is false: batches start again")
					s.paused(pauseWhenCause, "")
				}
				return nil
			}
			if since.IsZero() {
				since = time.Now()
				reason := fmt.Sprintf("--pause-when %q is true", m.PauseWhen)
				s.cfg.Logger.Warn().Str("job", s.record.ID).Str("pause_when", m.PauseWhen).Msg("paused: --pause-when is true: no batch starts until it is false")
				s.paused(pauseWhenCause, reason)
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				s.paused(pauseWhenCause, "")
				return ctx.Err()
			}
		}
		return nil
	}
}

// pauseWhenCause names the pauses of --pause-when for observers.
const pauseWhenCause = "pause-when"

// paused tells the observers that new tasks are held back for reason, or
// no longer when reason is "".
func (s *session) paused(cause, reason string) {
	if o, ok := s.obs().(observe.PauseObserver); ok {
		o.Paused(s.record.ID, "", cause, reason)
	}
}

type pendingTask struct {
	index uint64
	fut   jetstream.PubAckFuture
}

func (s *session) publishTask(t schema.Task, msgID string) (jetstream.PubAckFuture, error) {
	data, err := schema.EncodeTask(t)
	if err != nil {
		return nil, fmt.Errorf("encoding task %d: %w", t.Index, err)
	}
	msg := &nats.Msg{Subject: schema.TaskSubject(s.record.ID), Data: data}
	fut, err := s.b.JS.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("publishing task %d: %w", t.Index, err)
	}
	return fut, nil
}

// awaitAcks checks that the server stored every published task, in order,
// and checkpoints how many are stored.
func (s *session) awaitAcks(ctx context.Context, acks <-chan pendingTask, stored *uint64) error {
	last := time.Now()
	for p := range acks {
		if p.fut != nil {
			select {
			case <-p.fut.Ok():
			case err := <-p.fut.Err():
				return fmt.Errorf("publishing task %d: %w", p.index, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		*stored = p.index + 1
		crashpoint.Hit("task.stored")
		s.obs().TasksPublished(s.record.ID, "", int64(*stored), false)
		if time.Since(last) >= checkpointEvery {
			if err := s.saveSplit(ctx, schema.SplitCheckpoint{Published: *stored}); err != nil {
				return err
			}
			last = time.Now()
		}
	}
	return nil
}

func (s *session) saveSplit(ctx context.Context, c schema.SplitCheckpoint) error {
	data, err := schema.EncodeCheckpoint(&c)
	if err != nil {
		return err
	}
	if _, err := s.jobs.Put(ctx, schema.CheckpointKey(s.record.ID, schema.CheckpointSplit), data); err != nil {
		return fmt.Errorf("saving the splitter checkpoint: %w", err)
	}
	crashpoint.Hit("split.checkpointed")
	return nil
}

// retryFunc publishes again, in this --retry-failed round, a task that
// failed in an earlier round.
func (s *session) retryFunc(ctx context.Context) func(r *schema.Result) error {
	if !s.cfg.RetryFailed {
		return nil
	}
	return func(r *schema.Result) error {
		if r.Path == "" && r.TaskData == nil && s.record.Kind.Traits().Split == schema.SplitFiles {
			// A chunk of a streamed input that travelled in its task
			// message and was too large to repeat in its failure: running
			// the task on nothing would drop its lines from the output.
			return fmt.Errorf("task %d read a chunk of a streamed input that was not kept with its failure, so it cannot run again: run the job again without --resume", r.Index)
		}
		t := schema.Task{Job: s.record.ID, Index: r.Index, Path: r.Path, Offset: r.Offset, Length: r.Length, Inline: r.TaskData, Header: r.TaskHeader}
		if err := s.ship(ctx, &t); err != nil {
			return err
		}
		data, err := schema.EncodeTask(t)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: schema.TaskSubject(s.record.ID), Data: data}
		_, err = s.b.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(schema.RetryMsgID(s.record.ID, r.Index, s.record.Round)))
		return err
	}
}
