package reducer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/schema"
)

// Sink merges results into a job's output.
type Sink interface {
	// Merge merges one result. The reducer calls it at most once per task
	// index and partition, from one goroutine. It returns how many tasks it
	// retired: tasks whose results it no longer needs, which frees their
	// place in the splitter's window.
	Merge(ctx context.Context, r *schema.Result) (retired int, err error)
	// Fail records that a task failed for good. It returns the tasks retired.
	Fail(ctx context.Context, r *schema.Result) (retired int, err error)
	// Commit completes the output once every task is merged or failed. With
	// failed tasks it discards the output instead.
	Commit(ctx context.Context, failed bool) error
	// Abort discards any partial output.
	Abort()
}

// Config configures a [Reducer].
type Config struct {
	// JS is the JetStream connection. Required.
	JS jetstream.JetStream
	// Job is the job's record. Required.
	Job schema.JobRecord
	// Sink merges results. Required.
	Sink Sink
	// Total delivers the number of tasks once the splitter has published
	// them all. Required.
	Total <-chan uint64
	// Retired is called with the number of tasks retired by each merge, so
	// the splitter can publish more. Optional.
	Retired func(n int)
	// Start is when the job started, for its wall time. Default: now.
	Start time.Time
	// Logger receives the reducer's logs. Zero value: none.
	Logger zerolog.Logger
}

// Reducer consumes a job's results and merges them through a Sink.
type Reducer struct {
	cfg     Config
	parts   int
	merged  map[uint64][]bool // task index -> partitions merged, for incomplete tasks
	done    doneSet
	nDone   uint64
	stats   *Stats
	dead    []DeadLetter
	dropped int
}

// New returns a reducer for cfg.
func New(cfg Config) (*Reducer, error) {
	if cfg.JS == nil || cfg.Sink == nil || cfg.Total == nil {
		return nil, errors.New("reducer.New: JS, Sink and Total are required")
	}
	if cfg.Retired == nil {
		cfg.Retired = func(int) {}
	}
	parts := max(cfg.Job.Partitions, 1)
	stats := NewStats()
	if !cfg.Start.IsZero() {
		stats.Start = cfg.Start
	}
	return &Reducer{
		cfg: cfg, parts: parts,
		merged: make(map[uint64][]bool), done: doneSet{above: make(map[uint64]struct{})},
		stats: stats,
	}, nil
}

// Run merges results until every task is complete, then commits the sink.
// It returns the statistics of the merged tasks. With failed tasks the
// output is discarded and the dead letters are in the stats.
func (r *Reducer) Run(ctx context.Context) (*Stats, error) {
	cons, err := r.cfg.JS.OrderedConsumer(ctx, schema.ResultStream(r.cfg.Job.ID), jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("reading results of job %s: %w", r.cfg.Job.ID, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("reading results of job %s: %w", r.cfg.Job.ID, err)
	}
	msgs := make(chan jetstream.Msg)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return readResults(gctx, iter, msgs) })
	g.Go(func() error {
		defer iter.Stop()
		return r.loop(gctx, msgs)
	})
	if err := g.Wait(); err != nil {
		r.cfg.Sink.Abort()
		return r.stats, err
	}
	r.stats.Dead = r.dead
	if err := r.cfg.Sink.Commit(ctx, len(r.dead) > 0); err != nil {
		return r.stats, err
	}
	return r.stats, nil
}

// readResults moves messages from the iterator to msgs until it is stopped.
func readResults(ctx context.Context, iter jetstream.MessagesContext, msgs chan<- jetstream.Msg) error {
	defer close(msgs)
	for {
		m, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading results: %w", err)
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

func (r *Reducer) loop(ctx context.Context, msgs <-chan jetstream.Msg) error {
	total, haveTotal := uint64(0), false
	totalCh := r.cfg.Total
	for !haveTotal || r.nDone < total {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n, ok := <-totalCh:
			if !ok {
				return errors.New("splitting stopped before it counted the tasks")
			}
			total, haveTotal, totalCh = n, true, nil
		case m, ok := <-msgs:
			if !ok {
				return fmt.Errorf("results stream of job %s closed with %d of %d tasks merged", r.cfg.Job.ID, r.nDone, total)
			}
			if err := r.handle(ctx, m.Data()); err != nil {
				return err
			}
		}
	}
	r.stats.End = time.Now()
	return nil
}

func (r *Reducer) handle(ctx context.Context, data []byte) error {
	res, err := schema.DecodeResult(data)
	if err != nil || res.Job != r.cfg.Job.ID || res.Partition >= r.parts {
		r.dropped++
		r.cfg.Logger.Error().Err(err).Str("result_job", res.Job).Msg("dropping a malformed result message")
		return nil
	}
	if r.done.has(res.Index) {
		return nil // a duplicate of a task already complete
	}
	if res.Err != nil {
		return r.fail(ctx, &res)
	}
	seen := r.merged[res.Index]
	if seen == nil {
		seen = make([]bool, r.parts)
		r.merged[res.Index] = seen
	}
	if seen[res.Partition] {
		return nil // this partition of this task is already merged
	}
	retired, err := r.cfg.Sink.Merge(ctx, &res)
	if err != nil {
		return fmt.Errorf("merging result of task %d: %w", res.Index, err)
	}
	seen[res.Partition] = true
	r.stats.AddOutput(&res)
	if allTrue(seen) {
		r.complete(&res)
	}
	r.cfg.Retired(retired)
	return nil
}

func (r *Reducer) fail(ctx context.Context, res *schema.Result) error {
	retired, err := r.cfg.Sink.Fail(ctx, res)
	if err != nil {
		return fmt.Errorf("recording failure of task %d: %w", res.Index, err)
	}
	r.dead = append(r.dead, DeadLetter{
		Index: res.Index, Attempts: res.Attempt, Worker: res.Worker,
		Path: res.Path, Offset: res.Offset, Length: res.Length, Error: *res.Err,
	})
	r.complete(res)
	r.cfg.Retired(retired)
	return nil
}

func (r *Reducer) complete(res *schema.Result) {
	delete(r.merged, res.Index)
	r.done.add(res.Index)
	r.nDone++
	r.stats.Add(res)
}

func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// doneSet holds the indices of complete tasks in memory bounded by the
// splitter's window: every index below the watermark is complete, and only
// the complete ones above it are kept individually.
type doneSet struct {
	below uint64
	above map[uint64]struct{}
}

func (d *doneSet) has(i uint64) bool {
	if i < d.below {
		return true
	}
	_, ok := d.above[i]
	return ok
}

func (d *doneSet) add(i uint64) {
	if i < d.below {
		return
	}
	d.above[i] = struct{}{}
	for {
		if _, ok := d.above[d.below]; !ok {
			return
		}
		delete(d.above, d.below)
		d.below++
	}
}
