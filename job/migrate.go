package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// Migration describes a migrate job: the SQL runs once per key-range batch
// of the table, each batch committed exactly once together with its row in
// the database's progress table.
type Migration struct {
	// DB is the database URL: sqlite:PATH or postgres://...
	DB string
	// Table and Key name the table and the integer or text column its
	// batches are ranges of.
	Table, Key string
	// Where restricts the rows the batches are sized by (optional).
	Where string
	// SQL runs per batch with $1 = the batch's low key (inclusive) and
	// $2 = its high key (exclusive; for the last batch, a key above every
	// key of the table, read in the batch's transaction), never NULL.
	SQL string
	// MaxRate bounds how many batches start per second (0: no bound).
	MaxRate float64
	// PauseWhen is a health query returning one boolean: while it returns
	// true, no new batch starts (it is asked before each batch).
	PauseWhen string
}

func (m Migration) spec(job string) migrate.Spec {
	return migrate.Spec{Job: job, Table: m.Table, Key: m.Key, Where: m.Where, SQL: m.SQL}
}

// newMigrationRun names a fresh run of a migrate job, created at created
// (Unix nanoseconds): its time, readable in the progress table, and
// random bits, so that two runs started at once from two stores differ.
func newMigrationRun(created int64) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails
	return time.Unix(0, created).UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}

// batchSource is the Source of a migrate job: batches of about chunkSize
// rows, found by keyset pagination, carried in the task messages.
type batchSource struct {
	db   migrate.DB
	spec migrate.Spec
	name string
}

func (b batchSource) Split(ctx context.Context, rows int64, yield func(splitter.Chunk) error) error {
	return migrate.Batches(ctx, b.db, b.spec, int(rows), func(bt migrate.Batch) error { return yieldBatch(bt, yield) })
}

func (b batchSource) SplitAfter(ctx context.Context, last splitter.Chunk, rows int64, yield func(splitter.Chunk) error) error {
	var bt migrate.Batch
	if err := msgpack.Unmarshal(last.Data, &bt); err != nil {
		return fmt.Errorf("decoding the checkpointed batch: %w", err)
	}
	return migrate.BatchesAfter(ctx, b.db, b.spec, int(rows), bt, func(bt migrate.Batch) error { return yieldBatch(bt, yield) })
}

// SplitSized implements [splitter.AdaptiveSource]: --task-time sizes the
// batches, in rows.
func (b batchSource) SplitSized(ctx context.Context, last *splitter.Chunk, rows func() int64, yield func(splitter.Chunk) error) error {
	var after *migrate.Batch
	if last != nil {
		after = new(migrate.Batch)
		if err := msgpack.Unmarshal(last.Data, after); err != nil {
			return fmt.Errorf("decoding the checkpointed batch: %w", err)
		}
	}
	size := func() int { return int(min(rows(), math.MaxInt32)) }
	return migrate.BatchesSized(ctx, b.db, b.spec, size, after, func(bt migrate.Batch) error { return yieldBatch(bt, yield) })
}

// Describe names the table: a resume must migrate the same one.
func (b batchSource) Describe() ([]string, []int64) { return []string{b.name}, []int64{0} }

func yieldBatch(bt migrate.Batch, yield func(splitter.Chunk) error) error {
	data, err := msgpack.Marshal(&bt)
	if err != nil {
		return err
	}
	return yield(splitter.Chunk{Data: data})
}

// openMigration connects to the database and checks the migration before
// anything runs.
func (p *plan) openMigration(ctx context.Context) error {
	m := p.cfg.Migration
	if m == nil {
		return badInput("a migrate job needs a Migration (--db, --table, --key, --sql)")
	}
	if m.MaxRate < 0 || math.IsNaN(m.MaxRate) || math.IsInf(m.MaxRate, 0) {
		return badSetting("Migration.MaxRate", "Migration.MaxRate %v is not valid: use a positive number of batches per second, or 0 for no limit", m.MaxRate)
	}
	if path, ok := strings.CutPrefix(m.DB, "sqlite:"); ok && path != "" && !strings.HasPrefix(path, "/") {
		// One database, one name: a resume may give the path another way.
		if abs, err := filepath.Abs(path); err == nil {
			m.DB = "sqlite:" + abs
		}
	}
	open := migrate.Open
	if p.cfg.dryRun {
		open = migrate.OpenReadOnly
	}
	db, err := open(ctx, m.DB)
	if err != nil {
		return migrateError(err)
	}
	spec := m.spec(p.cfg.ID)
	if err := migrate.Check(ctx, db, spec); err != nil {
		db.Close()
		return migrateError(err)
	}
	if m.PauseWhen != "" {
		// Once now, so that a query that cannot work stops the job before
		// anything starts, rather than when the first batch waits on it.
		if _, err := migrate.CheckHealthQuery(ctx, db, m.PauseWhen); err != nil {
			db.Close()
			return migrateError(err)
		}
	}
	p.db = db
	p.source = batchSource{db: db, spec: spec, name: migrate.Redact(m.DB) + " " + m.Table + "." + m.Key}
	if est, err := migrate.EstimateRows(ctx, db, spec); err == nil {
		p.total = est
	}
	if n, err := db.NullKeys(ctx, spec); err != nil {
		p.cfg.Logger.Warn().Err(err).Msg("counting the rows whose key is NULL")
	} else {
		p.nullKeys = n
	}
	return nil
}

// countCommitted reads, for a migrate job that halted, what its run
// committed from the progress table into tf and r: a batch that committed
// as the job halted may have no result in the run's counts. A job
// recorded before runs were (MigrationRun "") shares its progress rows
// with every earlier run of its ID, so it is not counted.
func (s *session) countCommitted(ctx context.Context, r *report.Report, tf *TasksFailedError) {
	if s.record.Kind != schema.KindMigrate || s.db == nil || s.record.MigrationRun == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), countCommittedTimeout)
	defer cancel()
	spec := migrate.Spec{Job: s.record.ID, Run: s.record.MigrationRun, Table: s.record.Table, Key: s.record.Key, SQL: s.record.SQL}
	var n int
	var rows int64
	err := migrate.DoneBatches(ctx, s.db, spec, func(d migrate.Done) error {
		if !d.Skipped {
			n++
			rows += d.Rows
		}
		return nil
	})
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Str("job", s.record.ID).Msg("counting the batches committed before the halt")
		return
	}
	tf.Counted, tf.Committed, tf.CommittedRows = true, n, rows
	r.Rows = max(r.Rows, rows)
}

// countCommittedTimeout bounds the reading of the progress table after a
// halt.
const countCommittedTimeout = 10 * time.Second

// migrateError maps the database layer's errors onto the job's.
func migrateError(err error) error {
	switch {
	case errors.Is(err, migrate.ErrBadInput):
		return badInput("%w", err)
	case errors.Is(err, migrate.ErrUnreachable):
		return fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	return err
}

// DryRun validates a migrate job and prints its batches and SQL to w
// without running anything: no broker, and no change to the database,
// which is opened read-only (see [migrate.OpenReadOnly]); a role that may
// only read the table is enough.
func DryRun(ctx context.Context, cfg Config, w io.Writer) error {
	cfg.Kind, cfg.dryRun = schema.KindMigrate, true
	p, err := validate(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	fmt.Fprintf(w, "-- job %s: %s, about %d rows, %d rows per batch\n", p.record.ID, p.record.Inputs[0], p.total, p.record.ChunkSize)
	fmt.Fprintf(w, "-- each batch runs, in one transaction with its row in %s:\n%s\n", migrate.ProgressTable, cfg.Migration.SQL)
	fmt.Fprintf(w, "-- with $1 = the batch's first key and $2 = the next batch's; the last batch's $2 is a key above every key, read when it runs\n")
	if p.nullKeys > 0 {
		fmt.Fprintf(w, "-- warning: %s\n", report.NullKeysWarning(p.nullKeys, cfg.Migration.Key))
	}
	n := 0
	err = p.source.Split(ctx, p.record.ChunkSize, func(c splitter.Chunk) error {
		var b migrate.Batch
		if err := msgpack.Unmarshal(c.Data, &b); err != nil {
			return err
		}
		n++
		_, err := fmt.Fprintf(w, "batch %d: %s\n", b.Index, b.Range())
		return err
	})
	if err != nil {
		return migrateError(err)
	}
	fmt.Fprintf(w, "-- %d batches; nothing was run\n", n)
	return nil
}
