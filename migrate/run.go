package migrate

import (
	"context"
	"errors"
	"time"
)

// RunOption tunes one call of [RunBatch].
type RunOption func(*runOptions)

type runOptions struct {
	timeout time.Duration
	split   bool
	skip    int
	onPart  func(Batch, Part)
}

// PartTimeout bounds each transaction of the batch: one that runs longer
// fails with a timeout (see [IsTimeout]). 0 sets no bound. On SQLite the
// time spent waiting for the process's turn to write does not count.
func PartTimeout(d time.Duration) RunOption {
	return func(o *runOptions) { o.timeout = d }
}

// SplitOnTimeout makes a transaction whose SQL times out split in half
// instead of failing the batch: see [RunBatch].
func SplitOnTimeout() RunOption {
	return func(o *runOptions) { o.split = true }
}

// OnPart calls f after each part of the batch is committed, or found
// committed, in key order. It runs on RunBatch's goroutine.
func OnPart(f func(part Batch, p Part)) RunOption {
	return func(o *runOptions) { o.onPart = f }
}

// RunBatch runs spec's SQL for batch b, exactly once per run of the job
// (Spec.Job and Spec.Run) and row.
//
// A batch is committed in one or more parts, each a key range [lo, hi) of
// b run as one transaction that also claims its row (spec.Job, spec.Run, lo) in the
// [ProgressTable] and records hi and the number of rows the SQL affected.
// The parts of b tile it: the first starts at b.Lo, each next one where
// the one before ends, the last ends at b.Hi. Normally b is one part.
//
// RunBatch runs only what is not committed yet. It follows the chain of
// progress rows from b.Lo: a claim that is there says its range is done
// and where the next part starts; the rest of b runs from there. So a
// redelivered batch runs nothing (Outcome.AlreadyDone), and a batch that
// was split, and stopped (an error, a crash) after some of its parts
// committed, runs only the parts that remain. Two runs of the same batch
// at the same moment serialize on each claim: the second waits for the
// first and then follows its row, or claims the part itself if the first
// failed. Since a part's claim and its SQL's changes commit together or
// not at all, retrying a batch after any error is always safe.
//
// With [SplitOnTimeout], a part whose SQL times out (see [PartTimeout];
// [IsTimeout]) is split in half by its rows, at the middle key that
// [DB.Middle] finds, and its halves run one after the other in key order,
// each in its own transaction, each split again should it time out. A
// part that holds fewer than two distinct keys cannot be split: its
// timeout fails the batch. Nothing of a split needs storing beyond the
// progress rows of the parts that committed: the next run of the batch
// finds them and goes on after them.
//
// Outcome.Rows counts the rows the SQL affected in this call,
// Outcome.Earlier those of the parts found committed, so that Rows +
// Earlier is the batch's total however many runs it took.
//
// With [SkipFailingKeys], a part whose SQL fails on the rows of one key
// alone leaves them out and goes on with the rest of the batch.
//
// A failure returns a *[BatchError] naming b's key range, and the failing
// part's when it is smaller, and wrapping the database's error. The parts
// committed before it stay committed. An error wrapping [ErrTooManyFailing] comes
// with the Outcome so far, whose Skipped lists the keys found. [Retriable] says whether trying
// again may help. Errors in spec or b wrap [ErrBadInput].
func RunBatch(ctx context.Context, db DB, spec Spec, b Batch, opts ...RunOption) (Outcome, error) {
	if err := spec.validate(); err != nil {
		return Outcome{}, err
	}
	if err := b.validate(); err != nil {
		return Outcome{}, badInput("%v", err)
	}
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	r := batchRun{db: db, spec: spec, b: b, opts: o}
	return r.run(ctx)
}

// batchRun runs the parts of one batch that are not committed.
type batchRun struct {
	db   DB
	spec Spec
	b    Batch
	opts runOptions
}

// run walks b from b.Lo. ends is a stack of the upper keys of the parts
// planned: the next part to try is [lo, top); the bottom is b.Hi, and each
// split pushes a middle key, so the stack's keys decrease towards its
// top. Keys are only ever compared for equality, never ordered, since
// text keys follow the database's collation.
func (r *batchRun) run(ctx context.Context) (Outcome, error) {
	out := Outcome{AlreadyDone: true}
	lo, ends := r.b.Lo, []Key{r.b.Hi}
	bad := map[Key]Key{} // keys to skip, and the end of their ranges
	skips := 0           // parts that are skipped keys, new or found
	for {
		part := Batch{Index: r.b.Index, Lo: lo, Hi: ends[len(ends)-1]}
		var p Part
		var err error
		if next, ok := bad[lo]; ok {
			part.Hi = next
			p, err = r.db.SkipPart(ctx, r.spec, part)
			if err == nil && p.Found && !p.Skipped {
				// Another run of the batch ran the key's rows meanwhile.
				out.Skipped = out.Skipped[:len(out.Skipped)-1]
			}
			p.Found = p.Found && !p.Skipped // skipped now, by this run
		} else {
			p, err = r.db.RunPart(ctx, r.spec, part, r.opts.timeout)
		}
		if err != nil {
			if mid, ok := r.splitPoint(ctx, part, err); ok {
				ends = append(ends, mid)
				out.Splits++
				continue
			}
			k, next, kerr, ok := r.skipPoint(ctx, part, err)
			if !ok {
				return Outcome{}, r.batchError(err)
			}
			out.Skipped = append(out.Skipped, SkippedKey{Key: k, Err: kerr})
			if len(out.Skipped) > r.opts.skip {
				return out, r.tooMany(part, kerr)
			}
			bad[k] = next
			if k != lo {
				ends = append(ends, k) // the rows below it first
			}
			continue
		}
		out.Parts++
		if p.Skipped {
			skips++
		}
		if p.Skipped && p.Found {
			out.Skipped = append(out.Skipped, r.earlierSkip(ctx, Batch{Index: r.b.Index, Lo: lo, Hi: p.Hi}))
		}
		if p.Skipped {
			out.AlreadyDone = out.AlreadyDone && p.Found
		} else if p.Found {
			out.Earlier += p.Rows
		} else {
			out.Rows += p.Rows
			out.AlreadyDone = false
			if p.Rows == 0 && p.Held > 0 {
				out.Unchanged = append(out.Unchanged, Unchanged{Lo: lo, Bound: p.Bound, Held: p.Held})
			}
		}
		if r.opts.onPart != nil {
			r.opts.onPart(Batch{Index: r.b.Index, Lo: lo, Hi: p.Hi}, p)
		}
		if p.Hi == r.b.Hi {
			if skips > 0 {
				// A skipped key cuts a batch in parts without a split:
				// only parts beyond those count as one.
				out.Parts = max(1, out.Parts-2*skips)
			}
			return out, nil
		}
		if p.Found && p.Hi == lo {
			return Outcome{}, &BatchError{Batch: r.b, Part: part, Op: "following the progress table", Err: errors.New("a progress row ends where it starts")}
		}
		// Done up to p.Hi: drop the plan's ends up to it. A part found
		// committed by another run may end at a key this run never
		// planned; then the rest of the batch is tried whole again.
		lo = p.Hi
		ends = dropThrough(ends, p.Hi)
	}
}

// dropThrough removes from the stack ends the key k and every key above
// it on the stack (they are below k), or all but the bottom when k is not
// on the stack.
func dropThrough(ends []Key, k Key) []Key {
	for i := len(ends) - 1; i > 0; i-- {
		if ends[i] == k {
			return ends[:i]
		}
	}
	return ends[:1]
}

// splitPoint decides whether a part that failed with err is split, and
// where: only with SplitOnTimeout, only when its SQL ran out of time
// (rather than waiting for a lock to start), and only when it holds two
// distinct keys or more.
func (r *batchRun) splitPoint(ctx context.Context, part Batch, err error) (Key, bool) {
	var be *BatchError
	if !r.opts.split || ctx.Err() != nil || !IsTimeout(err) || !errors.As(err, &be) || be.Op != opSQL {
		return Key{}, false
	}
	ctx, cancel := withTimeout(ctx, r.opts.timeout)
	defer cancel()
	mid, ok, merr := r.db.Middle(ctx, r.spec, part.Lo, part.Hi)
	return mid, ok && merr == nil
}

// batchError names the whole batch in a part's error.
func (r *batchRun) batchError(err error) error {
	var be *BatchError
	if errors.As(err, &be) && be.Batch != r.b {
		be.Part, be.Batch = be.Batch, r.b
	}
	return err
}

// DoneBatches calls yield for each batch of spec's job and run (Spec.Job,
// Spec.Run) that is committed, as the [ProgressTable] records it, in
// commit order, and returns yield's error unchanged. A batch committed in
// parts appears once per part.
func DoneBatches(ctx context.Context, db DB, spec Spec, yield func(Done) error) error {
	return db.DoneBatches(ctx, spec, yield)
}
