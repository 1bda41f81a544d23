package mapper

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

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
// database errors are retried like any failure; others (a constraint
// violation, a syntax error) are permanent: the batch is a dead letter at
// once, naming its key range and the database's error.
func (p *processor) processBatch(ctx context.Context, t schema.Task) (output, error) {
	rec := p.job.Record
	var b migrate.Batch
	if err := msgpack.Unmarshal(t.Inline, &b); err != nil {
		return output{}, &schema.TaskError{Message: fmt.Sprintf("decoding batch of task %d: %v", t.Index, err), Permanent: true}
	}
	db, err := p.migrator.open(ctx, rec.DB)
	if err != nil {
		return output{}, &schema.TaskError{Message: err.Error()}
	}
	spec := migrate.Spec{Job: rec.ID, Table: rec.Table, Key: rec.Key, Where: rec.Where, SQL: rec.SQL}
	out, err := migrate.RunBatch(ctx, db, spec, b)
	if err != nil {
		return output{}, &schema.TaskError{Message: err.Error(), Permanent: !migrate.Retriable(err) && ctx.Err() == nil}
	}
	payload, err := msgpack.Marshal(&BatchOutcome{Range: b.Range(), Rows: out.Rows, AlreadyDone: out.AlreadyDone})
	if err != nil {
		return output{}, err
	}
	return output{payload: payload, size: int64(len(payload))}, nil
}

// BatchOutcome is the result payload of a migrate task.
type BatchOutcome struct {
	Range       string `msgpack:"range"`
	Rows        int64  `msgpack:"rows"`
	AlreadyDone bool   `msgpack:"done,omitempty"`
}
