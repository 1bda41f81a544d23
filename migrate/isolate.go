package migrate

import (
	"context"
	"errors"
	"time"
)

// SQLFailed reports whether err is the failure of a batch's own SQL that
// running it again will not cure: not a timeout, not a transient error,
// not a failure to reach the database. Such an error is most often caused
// by one row (a constraint it breaks, a value the SQL cannot convert),
// which [FailingKey] can find.
func SQLFailed(err error) bool {
	var be *BatchError
	return errors.As(err, &be) && be.Op == opSQL && !Retriable(err) && !IsTimeout(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, ErrUnreachable)
}

// FailingKey looks for the key of the rows that make the SQL of b, a batch
// or part whose SQL failed (see [SQLFailed]), fail: it runs the SQL on the
// first half of b by rows (see DB.Middle), then on the second if the first
// went through, each in a transaction that is rolled back, and goes on in
// a half that fails, down to a single key. Nothing is committed or
// claimed. At most tries runs are made, each bounded by timeout when
// positive; ok is false when no single key fails alone (the error needs
// rows of both halves, or a run timed out, or the tries ran out).
func FailingKey(ctx context.Context, db DB, spec Spec, b Batch, timeout time.Duration, tries int) (k Key, ok bool, err error) {
	if err := spec.validate(); err != nil {
		return Key{}, false, err
	}
	if err := b.validate(); err != nil {
		return Key{}, false, badInput("%v", err)
	}
	part := b
	for tries > 0 {
		mctx, cancel := withTimeout(ctx, timeout)
		mid, split, err := db.Middle(mctx, spec, part.Lo, part.Hi)
		cancel()
		if err != nil {
			return Key{}, false, err
		}
		if !split {
			return part.Lo, true, nil // one key left, whose rows fail
		}
		next := Batch{Index: b.Index, Lo: part.Lo, Hi: mid}
		if err := db.TryPart(ctx, spec, next, timeout); err == nil {
			tries--
			next = Batch{Index: b.Index, Lo: mid, Hi: part.Hi}
			err = db.TryPart(ctx, spec, next, timeout)
			if err == nil || !SQLFailed(err) {
				return Key{}, false, ctx.Err()
			}
		} else if !SQLFailed(err) {
			return Key{}, false, ctx.Err()
		}
		tries--
		part = next
	}
	return Key{}, false, nil
}
