package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the tests' own queries
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/migrate/migratetest"
	"github.com/jetmr/jetmr/migrate/pgtest"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// Migrate jobs run through job.Run against real databases: SQLite files
// and a throwaway PostgreSQL (pgtest). The same conformance functions run
// on both.

// migUpdate is the non-idempotent statement of the tests: a row touched
// twice would end with n = 2.
const migUpdate = "UPDATE t SET n = n + 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)"

// migTimeout bounds every migrate job these tests run.
const migTimeout = 45 * time.Second

// migBackend is a kind of database the suite runs on.
type migBackend struct {
	open func(t *testing.T) *migratetest.DB
	// rows is the size of the big conformance table.
	rows int
	// checkViolation is in the database's error for a CHECK violation.
	checkViolation string
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	// SQLite (modernc, pure Go) is slow under -race: 20,000 rows there,
	// 100,000 without it.
	rows := 100_000
	if migratetest.RaceEnabled() {
		rows = 20_000
	}
	migrateSuite(t, migBackend{open: migratetest.OpenSQLite, rows: rows, checkViolation: "CHECK constraint failed"})
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	migrateSuite(t, migBackend{open: migratetest.PostgresOpener(srv), rows: 100_000, checkViolation: "violates check constraint"})
}

// migrateSuite is the conformance suite of migrate jobs on one database.
func migrateSuite(t *testing.T, b migBackend) {
	t.Run("IntKeys", func(t *testing.T) {
		t.Parallel()
		testMigrateRun(t, b.open(t), migratetest.IntKeys(b.rows, 1), 1000, 3)
	})
	t.Run("TextKeys", func(t *testing.T) {
		t.Parallel()
		testMigrateRun(t, b.open(t), migratetest.TextKeys(5000, 2), 100, 2)
	})
	t.Run("FailingBatch", func(t *testing.T) {
		t.Parallel()
		testMigrateFailingBatch(t, b.open(t), b.checkViolation)
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		testMigrateBadInput(t, b.open(t))
	})
	t.Run("SplitSlowBatches", func(t *testing.T) {
		t.Parallel()
		testMigrateSplit(t, b.open(t))
	})
	t.Run("TaskTime", func(t *testing.T) {
		t.Parallel()
		testMigrateTaskTime(t, b.open(t))
	})
}

// testMigrateTaskTime sizes batches by --task-time from 50 rows: batches
// of a cheap UPDATE take far less than the target, so they grow, and the
// job commits every row once in far fewer batches than at 50 rows.
func testMigrateTaskTime(t *testing.T, d *migratetest.DB) {
	rows, first := 20_000, int64(50)
	if migratetest.RaceEnabled() && d.Driver != "postgres" {
		rows, first = 4_000, 10 // SQLite runs many times slower under -race
	}
	ks := migratetest.IntKeys(rows, 7)
	d.CreateTable(t, ks, false)
	cfg := migConfig(t, d, "tasktime", migUpdate)
	cfg.ChunkSize, cfg.Slots, cfg.TaskTime = first, 2, 300*time.Millisecond
	rep, err := runMigrate(t, cfg)
	if err != nil {
		t.Fatalf("job.Run: %v", err)
	}
	if rep.Rows != int64(len(ks.Keys)) || rep.Failed != 0 {
		t.Errorf("report: rows %d, failed %d; want %d, 0", rep.Rows, rep.Failed, len(ks.Keys))
	}
	if fixed := len(ks.Keys) / int(first); rep.Tasks*4 > fixed {
		t.Errorf("%d batches, want well below the %d of %d rows each: the batches did not grow", rep.Tasks, fixed, first)
	}
	d.CheckAllOnce(t, len(ks.Keys))
}

// testMigrateSplit runs batches whose SQL is too slow for the timeout
// unless their range holds at most 100 rows: each batch times out twice,
// is split until its parts fit, and the job ends with every row updated
// once, the rows reported and observed once each.
func testMigrateSplit(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(1000, 6)
	const chunk = 250
	d.CreateTable(t, ks, false)
	cfg := migConfig(t, d, "split", migratetest.SlowUpdate(d.Driver, 100))
	cfg.ChunkSize, cfg.Slots, cfg.Timeout = chunk, 2, 400*time.Millisecond
	rows := &rowCounter{Observer: observe.Multi()}
	cfg.Observer = rows
	rep, err := runMigrate(t, cfg)
	if err != nil {
		t.Fatalf("job.Run: %v", err)
	}
	want := len(ks.Batches(chunk))
	if rep.Rows != int64(len(ks.Keys)) || rep.Tasks != want || rep.Failed != 0 || rep.BatchesSplit != int64(want) {
		t.Errorf("report: rows %d, tasks %d, failed %d, split %d; want %d, %d, 0, %d",
			rep.Rows, rep.Tasks, rep.Failed, rep.BatchesSplit, len(ks.Keys), want, want)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	if split := d.CheckChains(t, "split", ks, chunk); split != want {
		t.Errorf("%d batches committed in parts, want all %d", split, want)
	}
	if est, done := rows.get(); est < int64(len(ks.Keys))*9/10 || done != int64(len(ks.Keys)) {
		t.Errorf("observed %d rows done of an estimated %d; want %d of about as many", done, est, len(ks.Keys))
	}
}

// rowCounter is an observer of a migrate job's rows.
type rowCounter struct {
	observe.Observer // ignores the other events
	mu               sync.Mutex
	est, done        int64
}

func (r *rowCounter) RowsEstimated(_, _ string, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.est = total
}

func (r *rowCounter) AttemptEnded(a observe.Attempt) {
	if a.Retried {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += a.Rows
}

func (r *rowCounter) get() (est, done int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.est, r.done
}

// testMigrateRun dry-runs, then runs, the update over every key of ks,
// and checks that each row was touched exactly once and that the
// progress table holds exactly one row per batch.
func testMigrateRun(t *testing.T, d *migratetest.DB, ks migratetest.KeySet, chunk, slots int) {
	start := time.Now()
	d.CreateTable(t, ks, false)
	t.Logf("%s: %d rows inserted in %v", d.Driver, len(ks.Keys), time.Since(start).Round(time.Millisecond))
	want := ks.Batches(chunk)
	cfg := migConfig(t, d, "conformance", migUpdate)
	cfg.ChunkSize, cfg.Slots = int64(chunk), slots

	// The dry run lists the batches the run will commit, and changes
	// nothing.
	var out bytes.Buffer
	if err := job.DryRun(context.Background(), cfg, &out); err != nil {
		t.Fatalf("DryRun: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "batch ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("the dry run lists %d batches, want %d:\n%.2000s", len(lines), len(want), out.String())
	}
	for i := range min(len(lines), len(want)) {
		if w := fmt.Sprintf("batch %d: %s", i, ks.RangeString(want[i])); lines[i] != w {
			t.Errorf("dry run line %d = %q, want %q", i, lines[i], w)
			break
		}
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
		t.Errorf("the dry run changed %d rows", n)
	}
	if n := d.ProgressRows(t, "conformance"); n != 0 {
		t.Errorf("the dry run recorded %d batches", n)
	}

	start = time.Now()
	rep, err := runMigrate(t, cfg)
	if err != nil {
		t.Fatalf("job.Run: %v", err)
	}
	t.Logf("%s: %d batches on %d slots in %v", d.Driver, len(want), slots, time.Since(start).Round(time.Millisecond))
	if rep.Rows != int64(len(ks.Keys)) || rep.Tasks != len(want) || rep.Failed != 0 || rep.BatchesAlreadyDone != 0 || rep.Kind != schema.KindMigrate {
		t.Errorf("report: kind %s, rows %d, tasks %d, failed %d, already done %d; want migrate, %d, %d, 0, 0",
			rep.Kind, rep.Rows, rep.Tasks, rep.Failed, rep.BatchesAlreadyDone, len(ks.Keys), len(want))
	}
	d.CheckAllOnce(t, len(ks.Keys))
	d.CheckProgress(t, "conformance", ks, chunk, -1)
}

// testMigrateFailingBatch checks that a batch the database rejects is a
// dead letter naming its key range and the database's error, committed
// nothing, and that every other batch committed.
func testMigrateFailingBatch(t *testing.T, d *migratetest.DB, violation string) {
	ks := migratetest.IntKeys(10_000, 3)
	const chunk, bad = 1000, 4321 // the key at index 4321 is in batch 4
	d.CreateTable(t, ks, true)
	badKey := ks.Keys[bad]
	d.Exec(t, "UPDATE t SET n = 1 WHERE id = "+badKey) // n + 1 = 2 violates CHECK (n < 2)
	want := ks.Batches(chunk)

	cfg := migConfig(t, d, "failing", migUpdate)
	cfg.ChunkSize, cfg.Slots = chunk, 3
	rep, err := runMigrate(t, cfg)
	var tf *job.TasksFailedError
	if !errors.Is(err, job.ErrTasksFailed) || !errors.As(err, &tf) {
		t.Fatalf("job.Run = %v, want a TasksFailedError", err)
	}
	if rep == nil {
		t.Fatal("no report with ErrTasksFailed")
	}
	if len(tf.Dead) != 1 || rep.Failed != 1 || len(rep.DeadLetters) != 1 {
		t.Fatalf("%d dead letters (report: %d failed), want exactly 1: %+v", len(tf.Dead), rep.Failed, tf.Dead)
	}
	dl := tf.Dead[0]
	rng := ks.RangeString(want[4])
	if dl.Index != 4 || !strings.Contains(dl.Error.Message, rng) || !strings.Contains(dl.Error.Message, violation) {
		t.Errorf("dead letter: task %d, %q; want task 4 naming the range %s and the database's %q", dl.Index, dl.Error.Message, rng, violation)
	}
	if dl.Attempts != 1 || !dl.Error.Permanent {
		t.Errorf("dead letter after %d attempt(s), permanent %v: a constraint violation is permanent, want 1 attempt", dl.Attempts, dl.Error.Permanent)
	}
	if rep.Rows != int64(len(ks.Keys)-chunk) || rep.Tasks != len(want) {
		t.Errorf("report: rows %d, tasks %d; want %d, %d", rep.Rows, rep.Tasks, len(ks.Keys)-chunk, len(want))
	}
	lo, hi := want[4][0], want[4][1]
	inBatch := fmt.Sprintf("(id >= %s AND id < %s)", lo, hi)
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 1 AND NOT "+inBatch); n != 0 {
		t.Errorf("%d rows outside the failed batch do not have n = 1", n)
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0 AND "+inBatch); n != 1 {
		t.Errorf("%d rows of the failed batch changed (counting the preset one), want only the preset row: the batch must commit nothing", n)
	}
	if n := d.Int(t, "SELECT n FROM t WHERE id = "+badKey); n != 1 {
		t.Errorf("the violating row has n = %d, want its preset 1", n)
	}
	d.CheckProgress(t, "failing", ks, chunk, 4)
}

// testMigrateBadInput checks that mistakes in the migration are
// ErrBadInput before anything runs.
func testMigrateBadInput(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(2000, 4)
	d.CreateTable(t, ks, false)
	for _, c := range []struct {
		name       string
		table, key string
		sql        string
		mention    string
	}{
		{"missing table", "no_such_table", "id", migUpdate, "no_such_table"},
		{"missing key column", "t", "no_such_key", migUpdate, "no_such_key"},
		{"SQL without $1", "t", "id", "UPDATE t SET n = n + 1 WHERE $2 IS NULL OR id < $2", "$1"},
		{"SQL without $2", "t", "id", "UPDATE t SET n = n + 1 WHERE id >= $1", "$2"},
		{"SQL that does not compile", "t", "id", "UPDATE t SET no_such_column = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)", "no_such_column"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := migConfig(t, d, "bad", c.sql)
			cfg.Migration.Table, cfg.Migration.Key = c.table, c.key
			store := filepath.Join(t.TempDir(), "store")
			cfg.Broker.StoreDir = store
			started := false
			cfg.Started = func(string) { started = true }
			rep, err := runMigrate(t, cfg)
			if !errors.Is(err, job.ErrBadInput) {
				t.Fatalf("job.Run = %v, want ErrBadInput", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("the error does not mention %q: %v", c.mention, err)
			}
			if rep != nil || started {
				t.Errorf("report %v, started %v: a rejected job must not start", rep, started)
			}
			if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the broker store was created for a rejected job (stat: %v)", err)
			}
			if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
				t.Errorf("%d rows changed", n)
			}
			if n := d.ProgressRows(t, ""); n != 0 {
				t.Errorf("%d batches recorded", n)
			}
		})
	}
}

// TestMigrateMissingSQLiteFile checks that a missing SQLite file is bad
// input, and is not created.
func TestMigrateMissingSQLiteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.db")
	cfg := job.Config{
		ID: "missing", Kind: schema.KindMigrate, Broker: broker.Config{StoreDir: t.TempDir()},
		Migration: &job.Migration{DB: "sqlite:" + path, Table: "t", Key: "id", SQL: migUpdate},
	}
	_, err := runMigrate(t, cfg)
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "missing.db") {
		t.Errorf("job.Run = %v, want ErrBadInput naming missing.db", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job created %s (stat: %v)", path, err)
	}
}

// TestMigrateUnreachablePostgres checks that a PostgreSQL nothing listens
// for is broker.ErrUnreachable, quickly.
func TestMigrateUnreachablePostgres(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := job.Config{
		ID: "unreachable", Kind: schema.KindMigrate, Broker: broker.Config{StoreDir: t.TempDir()},
		Migration: &job.Migration{DB: fmt.Sprintf("postgres://postgres:secret@127.0.0.1:%d/postgres?sslmode=disable", port),
			Table: "t", Key: "id", SQL: migUpdate},
	}
	start := time.Now()
	_, err = runMigrate(t, cfg)
	took := time.Since(start)
	if !errors.Is(err, broker.ErrUnreachable) || errors.Is(err, job.ErrBadInput) {
		t.Errorf("job.Run = %v, want broker.ErrUnreachable", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	if took > 10*time.Second {
		t.Errorf("took %v to give up, want under 10s", took)
	}
}

// runMigrate runs cfg with a deadline.
func runMigrate(t *testing.T, cfg job.Config) (*report.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), migTimeout)
	defer cancel()
	rep, err := job.Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatalf("the migrate job did not finish within %v (err %v)", migTimeout, err)
	}
	return rep, err
}

// migConfig is a migrate job of table t, key id, on d.
func migConfig(t *testing.T, d *migratetest.DB, id, sql string) job.Config {
	return job.Config{
		ID: id, Kind: schema.KindMigrate,
		Broker:    broker.Config{StoreDir: t.TempDir()},
		Migration: &job.Migration{DB: d.URL, Table: "t", Key: "id", SQL: sql},
	}
}
