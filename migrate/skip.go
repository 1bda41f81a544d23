package migrate

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrTooManyFailing means that a batch holds more keys whose rows its SQL
// fails on than [SkipFailingKeys] allows: the batch stopped at the one
// over the limit, its parts before it committed.
var ErrTooManyFailing = errors.New("more keys fail than may be skipped")

// SkippedKey is a key of a batch whose rows the SQL fails on alone, left
// out of the migration by [SkipFailingKeys].
type SkippedKey struct {
	Key Key
	// Err is the failure of the SQL on the key's rows alone, in a
	// transaction rolled back; nil when it no longer fails (a key skipped
	// by an earlier run, whose rows changed since).
	Err error
	// Earlier means that an earlier run of the batch skipped it: this run
	// found its progress row.
	Earlier bool
}

// findKeyTries bounds the rolled-back runs that look for a failing key:
// two per halving, enough to get from a million rows down to one.
const findKeyTries = 40

// SkipFailingKeys makes a part whose SQL fails (see [SQLFailed]) leave out
// the rows of the key they fail on instead of failing the batch: the key
// is found by [FailingKey], confirmed to fail alone, and then the rows
// below it run as their own part, the range of the key itself (up to the
// next key of the table, whatever the where clause selects) is claimed
// without running the SQL (see [DB.SkipPart]), and the rest of the batch
// runs on, skipping further keys the same way. Outcome.Skipped lists the
// keys, those that earlier runs skipped included. More than limit keys
// fail the batch with an error wrapping [ErrTooManyFailing], and the
// Outcome then lists the keys found. A part that fails but on no key
// alone fails the batch as without the option.
func SkipFailingKeys(limit int) RunOption {
	return func(o *runOptions) { o.skip = limit }
}

// skipPoint decides whether a part that failed with err leaves out the
// rows of a key: with SkipFailingKeys, when its SQL failed and a key of
// it fails alone. It returns the key, the end of its range and its error
// alone.
func (r *batchRun) skipPoint(ctx context.Context, part Batch, err error) (k, next Key, kerr error, ok bool) {
	if r.opts.skip <= 0 || ctx.Err() != nil || !SQLFailed(err) {
		return Key{}, Key{}, nil, false
	}
	k, ok, ferr := FailingKey(ctx, r.db, r.spec, part, r.opts.timeout, findKeyTries)
	if !ok || ferr != nil {
		return Key{}, Key{}, nil, false
	}
	mctx, cancel := withTimeout(ctx, r.opts.timeout)
	next, found, nerr := r.db.NextKey(mctx, r.spec, k, part.Hi)
	cancel()
	switch {
	case nerr != nil:
		return Key{}, Key{}, nil, false
	case found:
	case part.Hi.Unbounded && k.Kind == KindInteger && k.Int < math.MaxInt64:
		// The largest key of the last batch: its range ends right above
		// it, so that rows appended later are not skipped with it.
		next = Key{Kind: KindInteger, Int: k.Int + 1}
	default:
		next = part.Hi
	}
	kerr = r.db.TryPart(ctx, r.spec, Batch{Index: r.b.Index, Lo: k, Hi: next}, r.opts.timeout)
	if kerr == nil || !SQLFailed(kerr) {
		return Key{}, Key{}, nil, false // no key fails alone
	}
	return k, next, kerr, true
}

// earlierSkip describes a key an earlier run of the batch skipped, with
// the error its rows give now.
func (r *batchRun) earlierSkip(ctx context.Context, part Batch) SkippedKey {
	err := r.db.TryPart(ctx, r.spec, part, r.opts.timeout)
	if err != nil && !SQLFailed(err) {
		err = fmt.Errorf("left out by an earlier run of the batch (its SQL failed on these rows): %w", err)
	}
	return SkippedKey{Key: part.Lo, Err: err, Earlier: true}
}

// tooMany is the error of a batch with more failing keys than allowed.
func (r *batchRun) tooMany(part Batch, err error) error {
	return &BatchError{Batch: r.b, Part: part, Op: opSQL,
		Err: fmt.Errorf("%w: %d keys, more than %d: %w", ErrTooManyFailing, r.opts.skip+1, r.opts.skip, err)}
}
