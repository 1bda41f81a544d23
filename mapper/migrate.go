package mapper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/schema"
)

// migrator runs the batches of a migrate job on one connection pool per
// worker, opened at the first batch.
type migrator struct {
	once sync.Once
	db   migrate.DB
	err  error
}

func (m *migrator) open(ctx context.Context, url string) (migrate.DB, error) {
	m.once.Do(func() { m.db, m.err = migrate.Open(ctx, url) })
	return m.db, m.err
}

func (m *migrator) close() {
	if m.db != nil {
		m.db.Close()
	}
}

// processBatch runs one batch: its SQL and its progress row commit in one
// transaction, and a batch already committed is not run again. Transient
// database errors and timeouts are retried like any failure; others (a
// constraint violation, a syntax error) are permanent: the batch is a dead
// letter at once, naming its key range and the database's error, and the
// key whose rows fail alone when there is one (see [migrate.FailingKey]).
//
// The job's timeout bounds each transaction rather than the attempt. From
// the second attempt on, a transaction whose SQL times out is split in
// half by rows, recursively, down to a single key (see
// [migrate.RunBatch]): the parts run one after the other within the
// attempt, each with the whole timeout, and each commits with its own
// progress row, so that a later attempt, after a crash or a failure, runs
// only the parts that did not commit.
func (p *processor) processBatch(ctx context.Context, t schema.Task, attempt int) (output, error) {
	rec := p.job.Record
	var b migrate.Batch
	if err := msgpack.Unmarshal(t.Inline, &b); err != nil {
		return output{}, &schema.TaskError{Message: fmt.Sprintf("decoding batch of task %d: %v", t.Index, err), Permanent: true}
	}
	db, err := p.migrator.open(ctx, rec.DB)
	if err != nil {
		return output{}, &schema.TaskError{Message: err.Error()}
	}
	spec := migrate.Spec{Job: rec.ID, Run: rec.MigrationRun, Table: rec.Table, Key: rec.Key, Where: rec.Where, SQL: rec.SQL}
	opts := []migrate.RunOption{migrate.PartTimeout(time.Duration(rec.TimeoutNanos)), migrate.OnPart(partCommitted)}
	if attempt >= splitFromAttempt {
		opts = append(opts, migrate.SplitOnTimeout())
	}
	if rec.SkipBad > 0 {
		opts = append(opts, migrate.SkipFailingKeys(rec.SkipBad))
	}
	out, err := migrate.RunBatch(ctx, db, spec, b, opts...)
	if errors.Is(err, migrate.ErrTooManyFailing) {
		return output{}, &keyFailed{te: &schema.TaskError{Message: err.Error(), Permanent: true},
			iso: schema.Isolation{Outcome: schema.IsolatedTooMany, Records: skippedKeys(out.Skipped)}}
	}
	if err != nil {
		permanent := !migrate.Retriable(err) && !migrate.IsTimeout(err) && ctx.Err() == nil
		te := &schema.TaskError{Message: err.Error(), Permanent: permanent}
		if permanent && migrate.SQLFailed(err) {
			if k, ok := failingKey(ctx, db, spec, err, time.Duration(rec.TimeoutNanos)); ok {
				te.Message += fmt.Sprintf("; the SQL fails on key %v alone", k)
				return output{}, &keyFailed{te: te, iso: schema.Isolation{Outcome: schema.IsolatedKey,
					Records: []schema.BadRecord{{Key: k.String(), Err: schema.TaskError{Message: err.Error()}}}}}
			}
		}
		return output{}, te
	}
	bo := BatchOutcome{
		Range: b.Range(), Rows: out.Rows, Earlier: out.Earlier, Parts: out.Parts, Splits: out.Splits, AlreadyDone: out.AlreadyDone,
	}
	for _, u := range out.Unchanged {
		bo.Unchanged = append(bo.Unchanged, u.String())
	}
	payload, err := msgpack.Marshal(&bo)
	if err != nil {
		return output{}, err
	}
	o := output{payload: payload, size: int64(len(payload)), rows: out.Rows + out.Earlier}
	if len(out.Skipped) > 0 {
		return output{}, &keysSkipped{out: o, skipped: skippedKeys(out.Skipped)}
	}
	return o, nil
}

// keysSkipped is the outcome of a migrate batch that committed all its
// rows but those of the keys its SQL fails on (skip mode): an error, so
// that the worker sends the batch's result with its skipped records.
type keysSkipped struct {
	out     output
	skipped []schema.BadRecord
}

func (e *keysSkipped) Error() string {
	return fmt.Sprintf("the SQL fails on the rows of %d key(s), left out", len(e.skipped))
}

// Unwrap makes the outcome final: the batch committed, no attempt follows.
func (e *keysSkipped) Unwrap() error { return schema.ErrPermanent }

// skippedKeys describes the keys a batch left out as bad records.
func skippedKeys(keys []migrate.SkippedKey) []schema.BadRecord {
	recs := make([]schema.BadRecord, len(keys))
	for i, k := range keys {
		msg := "left out by an earlier run of the batch"
		if k.Err != nil {
			msg = k.Err.Error()
		}
		recs[i] = schema.BadRecord{Key: k.Key.String(), Err: schema.TaskError{Message: msg}}
	}
	return recs
}

// failingKeyTries bounds the rolled-back runs that look for the row
// breaking a batch: two per halving, enough to get from a million rows
// down to one.
const failingKeyTries = 40

// failingKey finds, for a dead letter, the key of the rows that make the
// failed part of a batch fail on their own, by halving it in
// transactions that are rolled back; ok is false when no single key
// fails alone.
func failingKey(ctx context.Context, db migrate.DB, spec migrate.Spec, err error, timeout time.Duration) (migrate.Key, bool) {
	var be *migrate.BatchError
	if !errors.As(err, &be) {
		return migrate.Key{}, false
	}
	part := be.Batch
	if be.Part != (migrate.Batch{}) {
		part = be.Part
	}
	k, ok, ferr := migrate.FailingKey(ctx, db, spec, part, timeout, failingKeyTries)
	return k, ok && ferr == nil
}

// keyFailed is the error of a migrate batch whose SQL fails on the rows
// of one key alone: its dead letter names the key.
type keyFailed struct {
	te  *schema.TaskError
	iso schema.Isolation
}

func (e *keyFailed) Error() string { return e.te.Message }
func (e *keyFailed) Unwrap() error { return e.te }

// splitFromAttempt is the first attempt of a batch that splits it when
// its SQL times out: the first attempt's timeout may be bad luck (a lock,
// a busy moment), the second's says that the batch is too big.
const splitFromAttempt = 2

// partCommitted marks a crash point after each part of a batch commits.
func partCommitted(_ migrate.Batch, p migrate.Part) {
	if !p.Found {
		crashpoint.Hit("batch.part.committed")
	}
}

// BatchOutcome is the result payload of a migrate task.
type BatchOutcome struct {
	Range string `msgpack:"range"`
	// Rows were affected by this attempt's SQL; Earlier by parts of the
	// batch committed before it (by an attempt that then crashed or
	// failed): Rows + Earlier is the batch's total.
	Rows    int64 `msgpack:"rows"`
	Earlier int64 `msgpack:"earlier,omitempty"`
	// Parts is the number of transactions the batch committed in (1
	// unless split); Splits how many times this attempt split a part.
	Parts       int  `msgpack:"parts,omitempty"`
	Splits      int  `msgpack:"splits,omitempty"`
	AlreadyDone bool `msgpack:"done,omitempty"`
	// Unchanged says, for each part of the batch run by this attempt whose
	// range held rows but whose SQL changed none, "[lo, hi) holds N rows
	// but the SQL changed 0".
	Unchanged []string `msgpack:"unchanged,omitempty"`
}
