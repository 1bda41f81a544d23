package reducer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// Span is the task indices [From, To) a sink retired: it no longer needs
// their results, which frees their places in the splitter's window.
type Span struct{ From, To uint64 }

// one is the span of a single task.
func one(i uint64) Span { return Span{i, i + 1} }

// Sink merges results into a job's output.
type Sink interface {
	// Merge merges one result. The reducer calls it at most once per task
	// index and partition, from one goroutine.
	Merge(ctx context.Context, r *schema.Result) (Span, error)
	// Fail records that a task failed for good.
	Fail(ctx context.Context, r *schema.Result) (Span, error)
	// Commit completes the output once every task is merged or failed. With
	// failed tasks it publishes nothing and keeps what a resume needs.
	Commit(ctx context.Context, failed bool) error
	// Suspend keeps the output as far as it got for a later resume: the job
	// was interrupted.
	Suspend(ctx context.Context) error
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
	// Session is the job the reducer merges for. Default: a NopSession,
	// which fetches no output objects and retries no task.
	Session Session
	// Start is when the job started, for its wall time. Default: now.
	Start time.Time
	// Counters sums the user counters of the merged results; the job's
	// reduce may add its own to the same set. Default: a set of the
	// reducer's own.
	Counters *counter.Set
	// Logger receives the reducer's logs. Zero value: none.
	Logger zerolog.Logger
	// StopContext gives the context of the writes that keep the sink's
	// state for a resume once Run stops early, when ctx has ended.
	// Default: 30 s from then.
	StopContext func(ctx context.Context) (context.Context, context.CancelFunc)
}

// Reducer consumes a job's results and merges them through a Sink.
//
// Where its truth lives: the results stream holds every task's result until
// the job is deleted, so a reducer that restarts replays it from the first
// message and rebuilds its state, dropping duplicates by task index and
// partition. The only state kept elsewhere is an ordered output file's
// checkpoint (see [OrderedSink]).
type Reducer struct {
	cfg        Config
	parts      int
	merged     map[uint64][]bool // task index -> partitions merged, for incomplete tasks
	mergedOut  map[uint64]int64  // task index -> bytes of output merged, for incomplete tasks
	done       doneSet
	nDone      uint64
	completed  atomic.Uint64 // nDone, for other goroutines
	taken      atomic.Uint64 // stream sequence of the last result message taken in
	busy       atomic.Bool   // a result is being handled (a merge may block on a slow reader)
	stats      *report.Stats
	dead       []report.DeadLetter
	dropped    int
	skipped    int              // bad records left out of the output (skip mode)
	replayEnd  uint64           // last stream sequence stored before this run
	stream     jetstream.Stream // the results stream, once Prepare found it
	donePrefix string           // the subjects of partitions' done messages
	mu         sync.Mutex       // held by the loop while it handles a message, for Progress
}

// Progress is what a reducer has merged so far, the figures of its
// [Report] while the job runs.
type Progress struct {
	// Completed counts the tasks merged or failed; Failed those that failed.
	Completed, Failed uint64
	// Malformed counts the messages dropped as malformed.
	Malformed uint64
	// Skipped counts the bad records left out of the output (skip mode).
	Skipped           uint64
	BytesIn, BytesOut int64
	// Counters are the user counters so far; Status the last status
	// message.
	Counters []schema.Counter
	Status   string
}

// Progress is safe to call while Run runs.
func (r *Reducer) Progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, out := r.stats.Bytes()
	return Progress{
		Completed: r.nDone, Failed: uint64(len(r.dead)), Malformed: uint64(len(r.stats.Malformed)),
		Skipped: uint64(r.skipped), BytesIn: in, BytesOut: out, Counters: r.stats.Counters.List(), Status: r.stats.Status,
	}
}

// New returns a reducer for cfg.
func New(cfg Config) (*Reducer, error) {
	if cfg.JS == nil || cfg.Sink == nil || cfg.Total == nil {
		return nil, errors.New("reducer.New: JS, Sink and Total are required")
	}
	if cfg.Session == nil {
		cfg.Session = NopSession{}
	}
	stats := report.NewStats()
	if cfg.Counters != nil {
		stats.Counters = cfg.Counters
	}
	if !cfg.Start.IsZero() {
		stats.Start = cfg.Start
	}
	return &Reducer{
		cfg: cfg, parts: max(cfg.Job.Partitions, 1),
		merged: make(map[uint64][]bool), mergedOut: make(map[uint64]int64), done: doneSet{above: make(map[uint64]struct{})},
		stats: stats, donePrefix: strings.TrimSuffix(schema.DoneSubjects(cfg.Job.ID), ">"),
	}, nil
}

// Completed is the number of tasks merged or failed so far. It is safe to
// call while Run runs.
func (r *Reducer) Completed() uint64 { return r.completed.Load() }

// Position is the stream sequence of the last result message the reducer
// took in, and whether it is handling one now (a merge that waits for a
// slow output reader is busy). A results stream whose last sequence is
// past the position holds results the reducer has still to merge. It is
// safe to call while Run runs.
func (r *Reducer) Position() (seq uint64, busy bool) {
	return r.taken.Load(), r.busy.Load()
}

// Run merges results until every task is complete, then commits the sink.
// It returns the statistics of the job's tasks. With failed tasks the
// output is not published and the dead letters are in the stats. When ctx
// is cancelled the sink is suspended for a resume and ctx's error returned.
func (r *Reducer) Run(ctx context.Context) (*report.Stats, error) {
	iter, err := r.results(ctx)
	if err != nil {
		return nil, errors.Join(err, r.suspend(ctx))
	}
	msgs := make(chan jetstream.Msg)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return readResults(gctx, iter, msgs) })
	g.Go(func() error {
		defer func() {
			for range msgs {
			}
		}() // after Stop: unblock readResults, which may hold a message nobody needs
		defer iter.Stop()
		return r.loop(gctx, msgs)
	})
	if err := g.Wait(); err != nil {
		r.stats.Dead = r.dead // a halted job lists its failures too
		return r.stats, errors.Join(err, r.suspend(ctx))
	}
	r.stats.Dead = r.dead
	if len(r.dead) == 0 {
		if err := r.cfg.Session.Committing(ctx); err != nil {
			return r.stats, errors.Join(err, r.suspend(ctx))
		}
		crashpoint.Hit("commit.marked")
	}
	err = r.cfg.Sink.Commit(ctx, len(r.dead) > 0)
	r.stats.End = time.Now() // the wall time includes writing the output
	return r.stats, err
}

// Prepare reads where the job's results stream ends now: the results
// stored up to there are replayed from earlier runs (counted as already
// committed, and not reported as this run's attempts), those stored after
// it come from this run. Call it before this run publishes any task, or a
// worker that is quick to answer makes its result look replayed; Run
// calls it when it was not called.
func (r *Reducer) Prepare(ctx context.Context) error {
	stream, err := r.cfg.JS.Stream(ctx, schema.ResultStream(r.cfg.Job.ID))
	if err != nil {
		return fmt.Errorf("opening results of job %s: %w", r.cfg.Job.ID, err)
	}
	r.stream, r.replayEnd = stream, stream.CachedInfo().State.LastSeq
	return nil
}

// results opens an ordered consumer of the job's results from the first.
func (r *Reducer) results(ctx context.Context) (jetstream.MessagesContext, error) {
	if r.stream == nil {
		if err := r.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	cons, err := r.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("reading results of job %s: %w", r.cfg.Job.ID, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("reading results of job %s: %w", r.cfg.Job.ID, err)
	}
	return iter, nil
}

// suspend keeps the sink's state for a resume when Run stops early, even
// once ctx has ended.
func (r *Reducer) suspend(ctx context.Context) error {
	var sctx context.Context
	var cancel context.CancelFunc
	if r.cfg.StopContext != nil {
		sctx, cancel = r.cfg.StopContext(ctx)
	} else {
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	defer cancel()
	return r.cfg.Sink.Suspend(sctx)
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
			r.mu.Lock()
			err := r.handle(ctx, m)
			r.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	r.stats.End = time.Now()
	return nil
}

func (r *Reducer) handle(ctx context.Context, m jetstream.Msg) error {
	r.busy.Store(true)
	defer r.busy.Store(false)
	md, mdErr := m.Metadata()
	if mdErr == nil {
		r.taken.Store(md.Sequence.Stream)
	}
	if strings.HasPrefix(m.Subject(), r.donePrefix) {
		return nil // a partition reduced on a worker: its [PartsSink] reads it
	}
	if m.Subject() == schema.MalformedSubject(r.cfg.Job.ID) {
		r.stats.Malformed = append(r.stats.Malformed, string(m.Data()))
		return nil
	}
	res, err := schema.DecodeResult(m.Data())
	if err == nil && (res.Job != r.cfg.Job.ID || res.Partition >= r.parts) {
		err = fmt.Errorf("%w: result of job %q, partition %d", schema.ErrMalformed, res.Job, res.Partition)
	}
	if err != nil {
		r.dropped++
		r.stats.Malformed = append(r.stats.Malformed, fmt.Sprintf("result message on %s: %v", m.Subject(), err))
		r.cfg.Logger.Error().Err(err).Msg("dropping a malformed result message")
		return nil
	}
	if r.done.has(res.Index) {
		return nil // a duplicate of a task already complete
	}
	replayed := mdErr == nil && md.Sequence.Stream <= r.replayEnd
	if res.Err != nil {
		if err := r.fetch(ctx, &res); err != nil {
			return err
		}
		return r.fail(ctx, &res, replayed)
	}
	seen := r.merged[res.Index]
	if seen == nil {
		if len(res.Skipped) > 0 && !r.acceptSkipped(&res) {
			n := len(r.dead)
			err := r.fail(ctx, &res, replayed)
			if len(r.dead) > n {
				r.dead[n].OverLimit = true
			}
			return err
		}
		seen = make([]bool, r.parts)
		r.merged[res.Index] = seen
	}
	if seen[res.Partition] {
		return nil // this partition of this task is already merged
	}
	if err := r.fetch(ctx, &res); err != nil {
		return err
	}
	span, err := r.cfg.Sink.Merge(ctx, &res)
	if err != nil {
		return fmt.Errorf("merging result of task %d: %w", res.Index, err)
	}
	seen[res.Partition] = true
	r.mergedOut[res.Index] += res.BytesOut
	r.stats.AddOutput(&res)
	if len(res.Counters) > 0 || res.Status != "" {
		r.cfg.Session.Counted(res.Counters, res.Status)
	}
	if allTrue(seen) {
		r.complete(&res, replayed)
		r.cfg.Session.Merged(&res)
	}
	r.cfg.Session.Retired(span)
	return nil
}

// fetch makes a result's output object a local spill file, unless the
// sink says it will not read it.
func (r *Reducer) fetch(ctx context.Context, res *schema.Result) error {
	if res.Object == "" {
		return nil
	}
	if sk, ok := r.cfg.Sink.(interface{ Skips(*schema.Result) bool }); ok && sk.Skips(res) {
		return nil
	}
	if err := r.cfg.Session.Fetch(ctx, res); err != nil {
		return fmt.Errorf("fetching the output of task %d from object %s: %w", res.Index, res.Object, err)
	}
	return nil
}

func (r *Reducer) fail(ctx context.Context, res *schema.Result, replayed bool) error {
	if res.Round < r.cfg.Job.Round {
		// Failed in an earlier round: this round runs it again.
		retried, err := r.cfg.Session.Retry(res)
		if err != nil {
			return fmt.Errorf("retrying task %d: %w", res.Index, err)
		}
		if retried {
			return nil
		}
	}
	span, err := r.cfg.Sink.Fail(ctx, res)
	if err != nil {
		return fmt.Errorf("recording failure of task %d: %w", res.Index, err)
	}
	dl := report.DeadLetter{
		Index: res.Index, Attempts: res.Attempt, Worker: res.Worker,
		Path: res.Path, Offset: res.Offset, Length: res.Length, Error: *res.Err,
	}
	if iso := res.Isolation; iso != nil {
		dl.Isolation, dl.IsolationRuns = iso.Outcome, iso.Attempts
		dl.Records = report.BadRecords(res.Index, res.Path, iso.Records)
	}
	r.dead = append(r.dead, dl)
	r.complete(res, replayed)
	r.cfg.Session.Retired(span)
	r.cfg.Session.Failed(len(r.dead))
	return nil
}

// acceptSkipped counts the bad records the first result of a task left
// out (skip mode), once per task: a duplicate or another partition's
// result of the task is not counted again. It returns false, and makes
// res the task's failure, when they are more than the job may skip.
func (r *Reducer) acceptSkipped(res *schema.Result) bool {
	n := len(res.Skipped)
	if r.skipped+n <= r.cfg.Job.SkipBad {
		r.skipped += n
		r.stats.Skipped = append(r.stats.Skipped, report.BadRecords(res.Index, res.Path, res.Skipped)...)
		return true
	}
	RefuseSkipped(res, r.skipped, r.cfg.Job.SkipBad)
	return false
}

// RefuseSkipped makes res, a result that left bad records out, the
// failure of its task: with before records skipped by the tasks merged
// earlier, its own would be more than limit. The failure names them as
// the task's bad records. jetmr status counts the refused tasks of a job
// whose process died with it, as the reducer did.
func RefuseSkipped(res *schema.Result, before, limit int) {
	res.Err = &schema.TaskError{Permanent: true, Message: fmt.Sprintf(
		"%d bad record(s) in this task, %d skipped before: more than --skip-bad-records %d", len(res.Skipped), before, limit)}
	first := res.Skipped[0].Err
	res.Err.ExitStatus, res.Err.Signal, res.Err.StderrTail = first.ExitStatus, first.Signal, first.StderrTail
	runs, outcome := 0, schema.IsolatedRecords
	if res.Isolation != nil {
		runs, outcome = res.Isolation.Attempts, cmp.Or(res.Isolation.Outcome, outcome)
	}
	res.Isolation = &schema.Isolation{Records: res.Skipped, Outcome: outcome, Attempts: runs}
	res.Skipped = nil
}

func (r *Reducer) complete(res *schema.Result, replayed bool) {
	out := r.mergedOut[res.Index]
	if res.Err != nil {
		out = res.BytesOut // a failed each task's output: its items' groups
	}
	if !replayed {
		r.cfg.Session.Ended(res, out)
	}
	delete(r.mergedOut, res.Index)
	delete(r.merged, res.Index)
	r.done.add(res.Index)
	r.nDone++
	r.completed.Store(r.nDone)
	r.stats.Add(res, replayed)
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
