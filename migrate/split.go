package migrate

import (
	"context"
	"fmt"
)

// Batches splits the rows of spec's table that spec's where clause
// selects into batches of about rows rows each, in key order, and calls
// yield for each. It returns yield's error unchanged, ctx.Err() when ctx
// ends, and nothing (no batch) for an empty table.
//
// Splitting is keyset pagination over the keys that exist: each batch's
// upper key is found by an index range scan starting at the batch's
// lower key ("key > lo ORDER BY key LIMIT 1 OFFSET rows-1"), so a split
// costs one scan of the keys in all, and gaps in the keys do not make
// empty or small batches. With unique keys every batch holds exactly
// rows rows when split, the last one at most rows. A key shared by many
// rows is never split across batches: its batch holds all of them and
// rows-1 more keys. Memory is constant whatever the table's size.
//
// See [Batch] for what the batches cover. The split is only as stable as
// the table: rows inserted or deleted between two splits move the
// boundaries, so a job's batches must all come from one split; to go on
// with a split that stopped, use [BatchesAfter].
func Batches(ctx context.Context, db DB, spec Spec, rows int, yield func(Batch) error) error {
	size, err := fixed(rows)
	if err != nil {
		return err
	}
	return split(ctx, db, spec, size, nil, yield)
}

// BatchesAfter goes on with a split after its batch last: it yields the
// batches Batches would have yielded after last, had the table not
// changed, starting at last.Hi with index last.Index+1. It yields nothing
// when last was the final batch.
func BatchesAfter(ctx context.Context, db DB, spec Spec, rows int, last Batch, yield func(Batch) error) error {
	if err := last.validate(); err != nil {
		return badInput("%v", err)
	}
	size, err := fixed(rows)
	if err != nil {
		return err
	}
	return split(ctx, db, spec, size, &last, yield)
}

// BatchesSized splits like [Batches], or like [BatchesAfter] when last is
// not nil, but asks size for the rows of each batch just before finding
// its upper key: a job sized by --task-time grows or shrinks its batches
// as they finish. Sizes below 1 count as 1.
func BatchesSized(ctx context.Context, db DB, spec Spec, size func() int, last *Batch, yield func(Batch) error) error {
	if last != nil {
		if err := last.validate(); err != nil {
			return badInput("%v", err)
		}
	}
	return split(ctx, db, spec, func() int { return max(size(), 1) }, last, yield)
}

// fixed is the size of batches of a fixed number of rows.
func fixed(rows int) (func() int, error) {
	if rows < 1 {
		return nil, badInput("a batch must hold at least 1 row, not %d", rows)
	}
	return func() int { return rows }, nil
}

func split(ctx context.Context, db DB, spec Spec, size func() int, last *Batch, yield func(Batch) error) error {
	if err := spec.validateTarget(); err != nil {
		return err
	}
	kind, err := db.Inspect(ctx, spec)
	if err != nil {
		return err
	}
	var lo Key
	var index uint64
	if last == nil {
		var ok bool
		if lo, ok, err = db.Seek(ctx, spec, Unbounded(kind), 0); err != nil || !ok {
			return err
		}
	} else {
		if last.Lo.Kind != kind {
			return badInput("batch %d has %v keys but column %q is %v: it was split for another key", last.Index, last.Lo.Kind, spec.Key, kind)
		}
		if last.Hi.Unbounded {
			return nil
		}
		lo, index = last.Hi, last.Index+1
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi, ok, err := db.Seek(ctx, spec, lo, size()-1)
		if err != nil {
			return fmt.Errorf("splitting batch %d: %w", index, err)
		}
		if !ok {
			hi = Unbounded(kind)
		}
		if err := yield(Batch{Index: index, Lo: lo, Hi: hi}); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		lo, index = hi, index+1
	}
}

// EstimateRows estimates how many rows spec's where clause selects, to
// size a migration: SQLite counts them; PostgreSQL asks the planner,
// which costs nothing and is as good as the table's statistics (ANALYZE
// refreshes them).
func EstimateRows(ctx context.Context, db DB, spec Spec) (int64, error) {
	if err := spec.validateTarget(); err != nil {
		return 0, err
	}
	return db.EstimateRows(ctx, spec)
}
