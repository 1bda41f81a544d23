package job_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the tests' own queries
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/migrate/pgtest"
	"github.com/jetmr/jetmr/reducer"
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

// migDB is a fresh database a migrate job runs on, with the test's own
// connection to it.
type migDB struct {
	driver string // "sqlite" or "postgres"
	url    string // the job's Migration.DB
	conn   *sql.DB
}

// migBackend is a kind of database the suite runs on.
type migBackend struct {
	open func(t *testing.T) *migDB
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
	if raceEnabled() {
		rows = 20_000
	}
	migrateSuite(t, migBackend{open: openSQLiteMig, rows: rows, checkViolation: "CHECK constraint failed"})
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	migrateSuite(t, migBackend{open: postgresOpener(srv), rows: 100_000, checkViolation: "violates check constraint"})
}

// migrateSuite is the conformance suite of migrate jobs on one database.
func migrateSuite(t *testing.T, b migBackend) {
	t.Run("IntKeys", func(t *testing.T) {
		t.Parallel()
		testMigrateRun(t, b.open(t), intKeys(b.rows, 1), 1000, 3)
	})
	t.Run("TextKeys", func(t *testing.T) {
		t.Parallel()
		testMigrateRun(t, b.open(t), textKeys(5000, 2), 100, 2)
	})
	t.Run("FailingBatch", func(t *testing.T) {
		t.Parallel()
		testMigrateFailingBatch(t, b.open(t), b.checkViolation)
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		testMigrateBadInput(t, b.open(t))
	})
}

// testMigrateRun dry-runs, then runs, the update over every key of ks,
// and checks that each row was touched exactly once and that the
// progress table holds exactly one row per batch.
func testMigrateRun(t *testing.T, d *migDB, ks keySet, chunk, slots int) {
	start := time.Now()
	d.createTable(t, ks, false)
	t.Logf("%s: %d rows inserted in %v", d.driver, len(ks.keys), time.Since(start).Round(time.Millisecond))
	want := ks.batches(chunk)
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
		if w := fmt.Sprintf("batch %d: %s", i, ks.rangeString(want[i])); lines[i] != w {
			t.Errorf("dry run line %d = %q, want %q", i, lines[i], w)
			break
		}
	}
	if n := d.int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
		t.Errorf("the dry run changed %d rows", n)
	}
	if n := d.progressRows(t, "conformance"); n != 0 {
		t.Errorf("the dry run recorded %d batches", n)
	}

	start = time.Now()
	rep, err := runMigrate(t, cfg)
	if err != nil {
		t.Fatalf("job.Run: %v", err)
	}
	t.Logf("%s: %d batches on %d slots in %v", d.driver, len(want), slots, time.Since(start).Round(time.Millisecond))
	if rep.Rows != int64(len(ks.keys)) || rep.Tasks != len(want) || rep.Failed != 0 || rep.BatchesAlreadyDone != 0 || rep.Kind != schema.KindMigrate {
		t.Errorf("report: kind %s, rows %d, tasks %d, failed %d, already done %d; want migrate, %d, %d, 0, 0",
			rep.Kind, rep.Rows, rep.Tasks, rep.Failed, rep.BatchesAlreadyDone, len(ks.keys), len(want))
	}
	d.checkAllOnce(t, len(ks.keys))
	d.checkProgress(t, "conformance", ks, chunk, -1)
}

// testMigrateFailingBatch checks that a batch the database rejects is a
// dead letter naming its key range and the database's error, committed
// nothing, and that every other batch committed.
func testMigrateFailingBatch(t *testing.T, d *migDB, violation string) {
	ks := intKeys(10_000, 3)
	const chunk, bad = 1000, 4321 // the key at index 4321 is in batch 4
	d.createTable(t, ks, true)
	badKey := ks.keys[bad]
	d.exec(t, "UPDATE t SET n = 1 WHERE id = "+badKey) // n + 1 = 2 violates CHECK (n < 2)
	want := ks.batches(chunk)

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
	rng := ks.rangeString(want[4])
	if dl.Index != 4 || !strings.Contains(dl.Error.Message, rng) || !strings.Contains(dl.Error.Message, violation) {
		t.Errorf("dead letter: task %d, %q; want task 4 naming the range %s and the database's %q", dl.Index, dl.Error.Message, rng, violation)
	}
	if dl.Attempts != 1 || !dl.Error.Permanent {
		t.Errorf("dead letter after %d attempt(s), permanent %v: a constraint violation is permanent, want 1 attempt", dl.Attempts, dl.Error.Permanent)
	}
	if rep.Rows != int64(len(ks.keys)-chunk) || rep.Tasks != len(want) {
		t.Errorf("report: rows %d, tasks %d; want %d, %d", rep.Rows, rep.Tasks, len(ks.keys)-chunk, len(want))
	}
	lo, hi := want[4][0], want[4][1]
	inBatch := fmt.Sprintf("(id >= %s AND id < %s)", lo, hi)
	if n := d.int(t, "SELECT count(*) FROM t WHERE n <> 1 AND NOT "+inBatch); n != 0 {
		t.Errorf("%d rows outside the failed batch do not have n = 1", n)
	}
	if n := d.int(t, "SELECT count(*) FROM t WHERE n <> 0 AND "+inBatch); n != 1 {
		t.Errorf("%d rows of the failed batch changed (counting the preset one), want only the preset row: the batch must commit nothing", n)
	}
	if n := d.int(t, "SELECT n FROM t WHERE id = "+badKey); n != 1 {
		t.Errorf("the violating row has n = %d, want its preset 1", n)
	}
	d.checkProgress(t, "failing", ks, chunk, 4)
}

// testMigrateBadInput checks that mistakes in the migration are
// ErrBadInput before anything runs.
func testMigrateBadInput(t *testing.T, d *migDB) {
	ks := intKeys(2000, 4)
	d.createTable(t, ks, false)
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
			if n := d.int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
				t.Errorf("%d rows changed", n)
			}
			if n := d.progressRows(t, ""); n != 0 {
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
func runMigrate(t *testing.T, cfg job.Config) (*reducer.Report, error) {
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
func migConfig(t *testing.T, d *migDB, id, sql string) job.Config {
	return job.Config{
		ID: id, Kind: schema.KindMigrate,
		Broker:    broker.Config{StoreDir: t.TempDir()},
		Migration: &job.Migration{DB: d.url, Table: "t", Key: "id", SQL: sql},
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func openSQLiteMig(t *testing.T) *migDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil { // an empty file is an empty database
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &migDB{driver: "sqlite", url: "sqlite:" + path, conn: conn}
}

var migDatabases atomic.Int64

func postgresOpener(srv *pgtest.Server) func(t *testing.T) *migDB {
	return func(t *testing.T) *migDB {
		t.Helper()
		url, err := srv.CreateDatabase(context.Background(), fmt.Sprintf("mig%d", migDatabases.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return &migDB{driver: "postgres", url: url, conn: conn}
	}
}

func (d *migDB) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := d.conn.Exec(q, args...); err != nil {
		t.Fatalf("%.200s: %v", q, err)
	}
}

func (d *migDB) int(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.conn.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// progressRows counts the rows of the progress table (of job, unless
// ""), 0 when the table does not exist.
func (d *migDB) progressRows(t testing.TB, job string) int64 {
	t.Helper()
	exists := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jetmr_batches'"
	if d.driver == "postgres" {
		exists = "SELECT count(*) FROM pg_tables WHERE tablename = 'jetmr_batches'"
	}
	if d.int(t, exists) == 0 {
		return 0
	}
	if job == "" {
		return d.int(t, "SELECT count(*) FROM jetmr_batches")
	}
	return d.int(t, "SELECT count(*) FROM jetmr_batches WHERE job = $1", job)
}

// createTable creates t (id PRIMARY KEY, n = 0) holding the keys of ks;
// check adds CHECK (n < 2). The keys go in as one JSON array: SQLite
// (pure Go) under -race takes seconds for 100,000 rows otherwise.
func (d *migDB) createTable(t testing.TB, ks keySet, check bool) {
	t.Helper()
	typ, constraint := "INTEGER", "" // SQLite: the rowid
	switch {
	case ks.text:
		typ = "TEXT"
	case d.driver == "postgres":
		typ = "BIGINT"
	}
	if check {
		constraint = " CHECK (n < 2)"
	}
	d.exec(t, fmt.Sprintf("CREATE TABLE t (id %s PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0%s)", typ, constraint))
	keys := ks.keys
	if ks.text { // in an order that owes nothing to the key order
		keys = slices.Clone(keys)
		rand.New(rand.NewPCG(uint64(len(keys)), 5)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	var array string
	if ks.text {
		b, err := json.Marshal(keys)
		if err != nil {
			t.Fatal(err)
		}
		array = string(b)
	} else {
		array = "[" + strings.Join(keys, ",") + "]"
	}
	insert := "INSERT INTO t (id) SELECT value FROM json_each($1)"
	if d.driver == "postgres" {
		insert = "INSERT INTO t (id) SELECT value::" + typ + " FROM json_array_elements_text($1::json)"
	}
	d.exec(t, insert, array)
	if n := d.int(t, "SELECT count(*) FROM t"); n != int64(len(keys)) {
		t.Fatalf("the table holds %d rows, want %d", n, len(keys))
	}
	if d.driver == "postgres" {
		d.exec(t, "ANALYZE t")
	}
}

// checkAllOnce checks that the table holds rows rows, each with n = 1.
func (d *migDB) checkAllOnce(t testing.TB, rows int) {
	t.Helper()
	var count, ones, minN, maxN int64
	err := d.conn.QueryRow("SELECT count(*), coalesce(sum(CASE WHEN n = 1 THEN 1 ELSE 0 END), 0), coalesce(min(n), -1), coalesce(max(n), -1) FROM t").
		Scan(&count, &ones, &minN, &maxN)
	if err != nil {
		t.Fatal(err)
	}
	if count != int64(rows) || ones != count {
		t.Errorf("%d rows, %d of them with n = 1 (n from %d to %d); want %d rows, all with n = 1", count, ones, minN, maxN, rows)
	}
}

// checkProgress checks that the progress table holds, for job, exactly
// one row per batch of ks (except batch failed, unless -1), with the
// batch's range and row count: no batch missing, doubled or overlapping.
func (d *migDB) checkProgress(t testing.TB, job string, ks keySet, chunk, failed int) {
	t.Helper()
	rows, err := d.conn.Query(`SELECT lo, hi, "rows" FROM jetmr_batches WHERE job = $1`, job)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type rec struct {
		hi   sql.NullString
		rows int64
	}
	got := map[string]rec{}
	for rows.Next() {
		var lo string
		var r rec
		if err := rows.Scan(&lo, &r.hi, &r.rows); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[lo]; dup {
			t.Errorf("batch at %s recorded twice", lo)
		}
		got[lo] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := ks.batches(chunk)
	var sum int64
	for i, w := range want {
		r, ok := got[w[0]]
		delete(got, w[0])
		if i == failed {
			if ok {
				t.Errorf("the failed batch %d %s is recorded as done", i, ks.rangeString(w))
			}
			continue
		}
		if !ok {
			t.Errorf("batch %d %s is not recorded", i, ks.rangeString(w))
			continue
		}
		wantRows := int64(min(chunk, len(ks.keys)-i*chunk))
		if r.hi.Valid != (w[1] != "") || r.hi.String != w[1] || r.rows != wantRows {
			t.Errorf("batch %d at %s: recorded hi %v (valid %v), rows %d; want %s, %d rows",
				i, w[0], r.hi.String, r.hi.Valid, r.rows, ks.rangeString(w), wantRows)
		}
		sum += r.rows
	}
	for lo, r := range got {
		t.Errorf("unexpected batch recorded: lo %s, hi %v, rows %d", lo, r.hi, r.rows)
	}
	wantSum := int64(len(ks.keys))
	if failed >= 0 {
		wantSum -= int64(min(chunk, len(ks.keys)-failed*chunk))
	}
	if sum != wantSum {
		t.Errorf("the recorded batches hold %d rows, want %d", sum, wantSum)
	}
}

// keySet is the keys of a test table, in the databases' key order (both
// compare text bytewise: SQLite's BINARY collation, pgtest's C locale).
type keySet struct {
	text bool
	keys []string // text form
}

// intKeys returns n increasing keys from 1 with random steps of 1 to 3.
func intKeys(n int, seed uint64) keySet {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := make([]string, n)
	k := int64(0)
	for i := range keys {
		k += 1 + r.Int64N(3)
		keys[i] = strconv.FormatInt(k, 10)
	}
	return keySet{keys: keys}
}

// textKeys returns n distinct text keys of 1 to 12 characters, some
// non-ASCII, some with quotes or spaces, sorted bytewise.
func textKeys(n int, seed uint64) keySet {
	r := rand.New(rand.NewPCG(seed, 2))
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_'.éßΩ日本")
	seen := map[string]bool{}
	keys := make([]string, 0, n)
	for len(keys) < n {
		rs := make([]rune, 1+r.IntN(12))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		if s := string(rs); !seen[s] {
			seen[s] = true
			keys = append(keys, s)
		}
	}
	slices.Sort(keys)
	return keySet{text: true, keys: keys}
}

// literal is key i as an SQL literal.
func (ks keySet) literal(i int) string {
	if ks.text {
		return "'" + strings.ReplaceAll(ks.keys[i], "'", "''") + "'"
	}
	return ks.keys[i]
}

// batches is the split of ks into batches of chunk keys: {lo, hi}, hi ""
// for the open end.
func (ks keySet) batches(chunk int) [][2]string {
	var out [][2]string
	for i := 0; i < len(ks.keys); i += chunk {
		hi := ""
		if i+chunk < len(ks.keys) {
			hi = ks.keys[i+chunk]
		}
		out = append(out, [2]string{ks.keys[i], hi})
	}
	return out
}

// rangeString formats a batch as jetmr does: [lo, hi) or [lo, end), text
// keys quoted.
func (ks keySet) rangeString(b [2]string) string {
	f := func(k string) string {
		if ks.text {
			return strconv.Quote(k)
		}
		return k
	}
	hi := "end"
	if b[1] != "" {
		hi = f(b[1])
	}
	return "[" + f(b[0]) + ", " + hi + ")"
}
