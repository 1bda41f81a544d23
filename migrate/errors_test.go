package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestRetriableTable(t *testing.T) {
	pg := func(code, msg string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg} }
	batch := func(err error) error {
		return &BatchError{Batch: Batch{Index: 3, Lo: IntKey(10), Hi: IntKey(20)}, Op: "running the SQL", Err: err}
	}
	for _, tc := range []struct {
		name             string
		err              error
		retriable, timer bool
	}{
		{"nil", nil, false, false},
		{"serialization_failure", pg("40001", "could not serialize access due to concurrent update"), true, false},
		{"deadlock_detected", pg("40P01", "deadlock detected"), true, false},
		{"lock_not_available NOWAIT", pg("55P03", `could not obtain lock on row in relation "t"`), true, false},
		{"lock_not_available lock_timeout", pg("55P03", "canceling statement due to lock timeout"), true, true},
		{"statement timeout", pg("57014", "canceling statement due to statement timeout"), true, true},
		{"check_violation", pg("23514", `new row for relation "t" violates check constraint "t_n_check"`), false, false},
		{"unique_violation", pg("23505", "duplicate key value violates unique constraint"), false, false},
		{"syntax_error", pg("42601", "syntax error"), false, false},
		{"admin_shutdown", pg("57P01", "terminating connection due to administrator command"), true, false},
		{"cannot_connect_now", pg("57P03", "the database system is starting up"), true, false},
		{"too_many_connections", pg("53300", "sorry, too many clients already"), true, false},
		{"connection_failure", pg("08006", "connection failure"), true, false},
		{"disk_full", pg("53100", "could not extend file"), false, false},
		{"wrapped in a BatchError", batch(pg("40001", "could not serialize")), true, false},
		{"wrapped with %w", fmt.Errorf("running: %w", pg("40P01", "deadlock detected")), true, false},
		{"unreachable", fmt.Errorf("%w: connecting: %w", ErrUnreachable, io.ErrUnexpectedEOF), true, false},
		{"bad input", badInput("table %q does not exist", "t"), false, false},
		{"context deadline", batch(context.DeadlineExceeded), false, true},
		{"context canceled", batch(context.Canceled), false, false},
		{"network timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, false, true},
		{"plain error", errors.New("boom"), false, false},
	} {
		if got := Retriable(tc.err); got != tc.retriable {
			t.Errorf("%s: Retriable(%v) = %v, want %v", tc.name, tc.err, got, tc.retriable)
		}
		if got := IsTimeout(tc.err); got != tc.timer {
			t.Errorf("%s: IsTimeout(%v) = %v, want %v", tc.name, tc.err, got, tc.timer)
		}
	}
	// SQLite result codes, primary and extended.
	for _, tc := range []struct {
		code      int
		retriable bool
	}{
		{sqlite3.SQLITE_BUSY, true},
		{sqlite3.SQLITE_BUSY_SNAPSHOT, true},
		{sqlite3.SQLITE_BUSY_RECOVERY, true},
		{sqlite3.SQLITE_LOCKED, true},
		{sqlite3.SQLITE_LOCKED_SHAREDCACHE, true},
		{sqlite3.SQLITE_CONSTRAINT, false},
		{sqlite3.SQLITE_CONSTRAINT_CHECK, false},
		{sqlite3.SQLITE_ERROR, false},
		{sqlite3.SQLITE_READONLY, false},
		{sqlite3.SQLITE_FULL, false},
	} {
		if got := sqliteRetriable(tc.code); got != tc.retriable {
			t.Errorf("SQLite code %d: retriable = %v, want %v", tc.code, got, tc.retriable)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestBatchErrorMessage(t *testing.T) {
	err := &BatchError{Batch: Batch{Index: 7, Lo: TextKey("a"), Hi: Unbounded(KindText)}, Op: "running the SQL",
		Err: &pgconn.PgError{Severity: "ERROR", Code: "23514", Message: "new row violates check constraint \"c\"", Detail: "Failing row contains (5, 2)."}}
	want := `batch 7 ["a", end): running the SQL: ERROR: new row violates check constraint "c" (SQLSTATE 23514) (Failing row contains (5, 2).)`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err.Error(), want)
	}
}

// testRetriableErrors provokes the transient errors for real.
func testRetriableErrors(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", []int64{1, 2, 3})
	check := func(name string, err error, retriable, timeout bool) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		if Retriable(err) != retriable || IsTimeout(err) != timeout {
			t.Errorf("%s: %v: Retriable %v, IsTimeout %v; want %v, %v", name, err, Retriable(err), IsTimeout(err), retriable, timeout)
		}
	}
	switch db.Driver() {
	case "sqlite":
		raw := sqliteRaw(t, db)
		release := lockRow(t, db, 1)
		_, err := raw.ExecContext(ctx, "BEGIN IMMEDIATE")
		release()
		check("BUSY", err, true, true)
	case "postgres":
		a, b := pgRaw(t, db), pgRaw(t, db)
		// 55P03 from NOWAIT: not a timeout.
		release := lockRow(t, db, 2)
		_, err := a.Exec(ctx, "SELECT 1 FROM t WHERE id = 2 FOR UPDATE NOWAIT")
		check("lock_not_available (NOWAIT)", err, true, false)
		// 55P03 from lock_timeout.
		a.Exec(ctx, "SET lock_timeout = 50")
		_, err = a.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 2")
		check("lock_not_available (lock_timeout)", err, true, true)
		a.Exec(ctx, "SET lock_timeout = 0")
		release()
		// 57014 from statement_timeout.
		a.Exec(ctx, "SET statement_timeout = 50")
		_, err = a.Exec(ctx, "SELECT pg_sleep(2)")
		check("query_canceled (statement_timeout)", err, true, true)
		a.Exec(ctx, "SET statement_timeout = 0")
		// 40001: a repeatable-read transaction updates a row changed since
		// its snapshot.
		a.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ")
		a.Exec(ctx, "SELECT n FROM t WHERE id = 1")
		b.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 1")
		_, err = a.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 1")
		check("serialization_failure", err, true, false)
		a.Exec(ctx, "ROLLBACK")
		// 40P01: two transactions lock two rows in opposite orders.
		a.Exec(ctx, "SET deadlock_timeout = 50")
		b.Exec(ctx, "SET deadlock_timeout = 50")
		a.Exec(ctx, "BEGIN")
		b.Exec(ctx, "BEGIN")
		a.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 1")
		b.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 2")
		errA := make(chan error, 1)
		go func() { _, err := a.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 2"); errA <- err }()
		_, errB := b.Exec(ctx, "UPDATE t SET n = n + 1 WHERE id = 1")
		b.Exec(ctx, "ROLLBACK")
		err = <-errA
		a.Exec(ctx, "ROLLBACK")
		if errB != nil {
			err = errB
		}
		check("deadlock_detected", err, true, false)
	}
}
