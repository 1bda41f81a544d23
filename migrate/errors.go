package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/jetmr/jetmr/errs"
)

var (
	// ErrBadInput is matched by every error caused by the migration's
	// parameters: the --db URL, the table, the key column, the where clause
	// or the SQL. Nothing was changed in the database except, possibly, the
	// creation of the progress table. It is [errs.ErrBadInput].
	ErrBadInput = errs.ErrBadInput
	// ErrUnreachable wraps every failure to reach the database: connection
	// refused or timed out, authentication failed, connection lost. It is
	// infrastructure, not input; [Retriable] reports true for it.
	ErrUnreachable = errors.New("database unreachable")
)

// badInput is a *errs.BadInputError with a formatted message; %w in
// format wraps a cause.
func badInput(format string, args ...any) error {
	return errs.BadInput("", format, args...)
}

// BatchError is the failure of one batch. Nothing of the failing part was
// committed (see [RunBatch] for parts). Its message names the batch's key
// range, the part's when it is smaller, and carries the database's error
// text; Unwrap gives the database's error, so that [Retriable],
// [IsTimeout] and errors.As see it.
type BatchError struct {
	Batch Batch
	// Part is the part of Batch that failed, when the batch was run in
	// parts and this one is not the whole batch; zero otherwise.
	Part Batch
	// Op is what failed: "claiming the batch", "running the SQL",
	// "recording the batch" or "committing".
	Op  string
	Err error
}

// Ops of a BatchError: the batch's own SQL, and finding the $2 of the
// last batch.
const (
	opSQL   = "running the SQL"
	opBound = "finding the last batch's $2"
)

func (e *BatchError) Error() string {
	msg := fmt.Sprintf("batch %d %s: %s: %v", e.Batch.Index, e.Batch.Range(), e.Op, e.Err)
	if e.Part != (Batch{}) {
		msg = fmt.Sprintf("batch %d %s: part %s: %s: %v", e.Batch.Index, e.Batch.Range(), e.Part.Range(), e.Op, e.Err)
	}
	var pe *pgconn.PgError
	if errors.As(e.Err, &pe) && pe.Detail != "" {
		msg += " (" + pe.Detail + ")"
	}
	return msg
}

func (e *BatchError) Unwrap() error { return e.Err }

// PostgreSQL error codes (SQLSTATE) that a retry can cure.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgLockNotAvailable     = "55P03"
	pgQueryCanceled        = "57014"
	pgIdleInTxTimeout      = "25P03"
	pgUniqueViolation      = "23505"
	pgDuplicateTable       = "42P07"
	pgInvalidPassword      = "28P01"
	pgInvalidAuthorization = "28000"
	pgInvalidCatalogName   = "3D000"
	pgAdminShutdown        = "57P01"
	pgCrashShutdown        = "57P02"
	pgCannotConnectNow     = "57P03"
	pgTooManyConnections   = "53300"
	pgClassConnection      = "08" // connection_exception and its subclasses
	pgClassAuthorization   = "28" // invalid_authorization_specification, invalid_password
)

// Retriable reports whether err is transient: running the same batch
// again, as is, may well succeed. It is true for PostgreSQL's
// serialization_failure (40001), deadlock_detected (40P01),
// lock_not_available (55P03) and query_canceled (57014: statement_timeout,
// or an administrator's pg_cancel_backend), for SQLite's BUSY and LOCKED
// (with their extended codes), and for [ErrUnreachable] and the server's
// own infrastructure errors: connection exceptions (class 08),
// admin_shutdown, crash_shutdown, cannot_connect_now (57P01-57P03) and
// too_many_connections (53300). Retrying a batch is always safe, whatever
// the error: a batch commits at most once.
//
// It is false for refused credentials (class 28), which stay wrong, and
// for a context's cancellation or deadline: the caller decided that, see
// [IsTimeout].
func Retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	code, isPg := pgCode(err)
	if errors.Is(err, ErrUnreachable) {
		return !isPg || !strings.HasPrefix(code, pgClassAuthorization)
	}
	if isPg {
		return pgRetriable(code)
	}
	if code, ok := sqliteCode(err); ok {
		return sqliteRetriable(code)
	}
	return false
}

// IsTimeout reports whether err means that time ran out: a context
// deadline, a network timeout, PostgreSQL's statement_timeout (57014) or
// lock_timeout (55P03 "canceling statement due to lock timeout"), or
// SQLite's busy timeout (BUSY: the database stayed locked by another
// writer for the whole busy_timeout).
func IsTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgQueryCanceled, pgIdleInTxTimeout:
			return !errors.Is(err, context.Canceled)
		case pgLockNotAvailable:
			return strings.Contains(pe.Message, "timeout")
		}
		return false
	}
	if code, ok := sqliteCode(err); ok {
		return code&0xff == sqlite3.SQLITE_BUSY
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func pgCode(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return "", false
}

func pgRetriable(code string) bool {
	switch code {
	case pgSerializationFailure, pgDeadlockDetected, pgLockNotAvailable, pgQueryCanceled,
		pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgTooManyConnections:
		return true
	}
	return strings.HasPrefix(code, pgClassConnection)
}

func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

// sqliteRetriable reports whether an SQLite result code, primary or
// extended, is BUSY or LOCKED.
func sqliteRetriable(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// pgConnectionLost reports whether err, from a PostgreSQL call, means that
// the connection failed rather than the statement.
func pgConnectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// withContext attaches ctx's error to err when ctx ended: a driver
// interrupted by a cancelled context does not always say so.
func withContext(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}
