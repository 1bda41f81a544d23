package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DB is a database a migration runs on. [Open] returns one of its two
// implementations, SQLite or PostgreSQL; the package's functions ([Check],
// [Batches], [EstimateRows], [RunBatch], [DoneBatches]) validate their
// arguments and call it, and are what callers should use. A DB is safe for
// concurrent use.
//
// Every method that takes a Spec expects one that passed [Check]'s name
// checks. Errors caused by the Spec wrap [ErrBadInput]; failures to reach
// the database wrap [ErrUnreachable].
type DB interface {
	// Driver names the implementation: "sqlite" or "postgres".
	Driver() string
	// Inspect returns the kind of spec's key column, or an error wrapping
	// ErrBadInput naming what is wrong when the table or the column does
	// not exist or the column is neither integer nor text.
	Inspect(ctx context.Context, spec Spec) (KeyKind, error)
	// Prepare compiles spec's where clause and SQL without running them,
	// and creates the progress table if it is missing, unless the DB was
	// opened read-only.
	Prepare(ctx context.Context, spec Spec) error
	// EstimateRows estimates how many rows spec's where clause selects.
	EstimateRows(ctx context.Context, spec Spec) (int64, error)
	// NullKeys counts the rows spec's where clause selects whose key is
	// NULL: no key range holds them, so no batch migrates them.
	NullKeys(ctx context.Context, spec Spec) (int64, error)
	// Seek returns the key that comes skip rows after the first row whose
	// key is greater than after (first key overall when after is
	// Unbounded), in key order, among the rows of spec's table that spec's
	// where clause selects; ok is false when no row is there. after.Kind
	// is the key column's kind.
	Seek(ctx context.Context, spec Spec, after Key, skip int) (k Key, ok bool, err error)
	// RunPart runs spec's SQL for the key range of b in one transaction
	// that first claims the progress row (spec.Job, spec.Run, b.Lo) and then records
	// b.Hi and the rows affected in it. The SQL receives $1 = b.Lo and
	// $2 = b.Hi, or when b.Hi is Unbounded a real key above every key of
	// the table, read in the transaction (see Part.Bound). When the SQL
	// changes no row, RunPart counts the rows of its range (Part.Held).
	// If the row is there already, it
	// runs nothing and returns the row's Hi and Rows with Found set. Two
	// runs of one part serialize on the claim. A positive timeout bounds
	// the transaction, from when it may begin: on SQLite, once the
	// process's turn for the write lock has come, so that parts queued
	// behind one another do not time out for waiting. A failure is a
	// *BatchError for b, and commits nothing. See the package function
	// RunBatch.
	RunPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) (Part, error)
	// TryPart runs spec's SQL for the key range of b, with the $1 and $2
	// RunPart would give it, in a transaction that it always rolls back:
	// nothing is committed or claimed. Its error is the *BatchError that
	// RunPart would have returned. See FailingKey.
	TryPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) error
	// Middle returns a key that splits the rows of [lo, hi) that spec's
	// where clause selects into two halves: the first key above lo at or
	// past the middle row, so that lo < mid < hi. ok is false when the
	// range holds fewer than two distinct keys.
	Middle(ctx context.Context, spec Spec, lo, hi Key) (mid Key, ok bool, err error)
	// NextKey returns the smallest key above k and below hi (Unbounded: no
	// bound) among all the rows of spec's table, whatever spec's where
	// clause selects; ok is false when there is none.
	NextKey(ctx context.Context, spec Spec, k, hi Key) (next Key, ok bool, err error)
	// SkipPart claims the progress row (spec.Job, spec.Run, b.Lo) for the range of
	// b without running the SQL: the range is done, its rows left out
	// (see SkipFailingKeys). Its row records no rows affected, and Found
	// parts read from it later have Skipped set. If the row is there
	// already, SkipPart returns it as RunPart does, with Found set.
	SkipPart(ctx context.Context, spec Spec, b Batch) (Part, error)
	// DoneBatches calls yield for each committed batch of spec's job and
	// run, in commit order, and returns yield's error unchanged.
	DoneBatches(ctx context.Context, spec Spec, yield func(Done) error) error
	// Healthy runs a health query, one that returns a single boolean (the
	// --pause-when query), and reports its value.
	Healthy(ctx context.Context, query string) (bool, error)
	// Close releases the connections.
	Close() error
}

// Outcome is what RunBatch did.
type Outcome struct {
	// AlreadyDone means the batch had been committed before (by this job),
	// all of it: nothing ran and nothing was committed.
	AlreadyDone bool
	// Rows is the number of rows the SQL affected in this call; 0 when
	// AlreadyDone.
	Rows int64
	// Earlier is the number of rows the parts of the batch committed
	// before this call had affected: Rows + Earlier is the batch's total.
	Earlier int64
	// Parts is the number of parts the batch is committed in, counting
	// those found committed: 1 unless it was ever split.
	Parts int
	// Splits is the number of times this call split a part.
	Splits int
	// Skipped lists the keys whose rows were left out (see
	// SkipFailingKeys), in key order, those earlier runs skipped included.
	Skipped []SkippedKey
	// Unchanged lists the parts run in this call whose range held rows
	// but whose SQL changed none: most likely SQL that does not select
	// its rows with $1 and $2 as documented.
	Unchanged []Unchanged
}

// Unchanged is a part whose SQL changed no row although its range held
// some.
type Unchanged struct {
	// Lo and Bound are the $1 and $2 the SQL received.
	Lo, Bound Key
	// Held is the number of rows of [Lo, Bound) that the where clause
	// selects (all of them without one).
	Held int64
}

// String says what happened: "[1, 501) holds 500 rows but the SQL changed 0".
func (u Unchanged) String() string {
	return fmt.Sprintf("[%v, %v) holds %d rows but the SQL changed 0", u.Lo, u.Bound, u.Held)
}

// Part is what DB.RunPart did with one part of a batch.
type Part struct {
	// Hi is the upper key of the range committed at the part's lower key:
	// the part's own Hi when it ran now, the recorded one when Found.
	Hi Key
	// Rows is the number of rows the part's SQL affected, now or when it
	// was committed.
	Rows int64
	// Found means that the part's claim was there already: it was
	// committed before, and nothing ran.
	Found bool
	// Skipped means that the part's rows were left out: its range is
	// the rows of one key that the SQL fails on (see SkipFailingKeys).
	Skipped bool
	// Bound is the $2 the SQL received: the part's Hi, or for a part
	// without one (the last batch's) a key above every key of the table,
	// found in the part's transaction. Zero when Found.
	Bound Key
	// Held is, when the SQL ran now and changed no row, the number of
	// rows of [lo, Bound) that the where clause selects; 0 otherwise.
	Held int64
}

// Done is one committed batch, as the progress table records it.
type Done struct {
	// Lo and Hi are the batch's keys in text form; Hi is "" and Open true
	// for the last batch.
	Lo, Hi string
	Open   bool
	// Rows is the number of rows the batch's SQL affected.
	Rows int64
	// Skipped marks the range of a key whose rows were left out (see
	// SkipFailingKeys): no SQL ran for it.
	Skipped bool
	// At is the commit time.
	At time.Time
}

const urlForms = "sqlite:PATH (an existing SQLite file), postgres://USER:PASSWORD@HOST:PORT/DATABASE or postgresql://..."

// Open connects to the database named by url:
//
//   - sqlite:PATH opens an existing SQLite file (sqlite://PATH and
//     sqlite:///ABS/PATH also work); a missing file is an error wrapping
//     ErrBadInput: Open never creates a database. Connections use WAL
//     journaling, a 10 s busy timeout and foreign keys. SQLite has one
//     writer at a time: batches begin their transactions IMMEDIATE, and the
//     batches of one process take turns in order, so that concurrent
//     batches queue for the write lock instead of failing.
//   - postgres://... and postgresql://... connect to PostgreSQL with a
//     connection pool (pgx); every libpq URL parameter works, and
//     pool_max_conns sizes the pool (default: the larger of 4 and the
//     number of CPUs). Without connect_timeout, connecting times out after
//     10 s.
//
// Open checks that the database answers. An unknown scheme or a malformed
// URL is an error wrapping ErrBadInput; a server that cannot be reached or
// rejects the credentials, an error wrapping ErrUnreachable. Error messages
// never include the password.
func Open(ctx context.Context, url string) (DB, error) {
	return open(ctx, url, false)
}

// OpenReadOnly connects like [Open] for a look that changes nothing (a
// dry run): SQLite opens the file read-only and leaves its journal mode
// as it is; PostgreSQL sessions default to read-only transactions, so
// that a role with only CONNECT and SELECT is enough. [Check] then
// compiles the SQL without creating the progress table, and
// DB.RunPart always fails.
func OpenReadOnly(ctx context.Context, url string) (DB, error) {
	return open(ctx, url, true)
}

func open(ctx context.Context, url string, readOnly bool) (DB, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"), readOnly)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, readOnly)
	}
	if keywordForm.MatchString(url) {
		return nil, badInput("--db %q is a keyword/value connection string: write it as a URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=... (other settings go in the query)", Redact(url))
	}
	scheme, _, found := strings.Cut(url, ":")
	if !found || strings.ContainsAny(scheme, "/ ") {
		return nil, badInput("--db %q is not a database URL: use %s", Redact(url), urlForms)
	}
	return nil, badInput("--db: unknown database scheme %q: use %s", scheme, urlForms)
}

// foundPart is the Part for a progress row found at b.Lo, whose hi is
// recorded (nil for NULL: the open end).
func foundPart(b Batch, recorded *string, rows int64) (Part, error) {
	p := Part{Hi: Unbounded(b.Lo.Kind), Rows: rows, Found: true}
	if rows == skippedRows {
		p.Rows, p.Skipped = 0, true
	}
	if recorded != nil {
		hi, err := parseKey(b.Lo.Kind, *recorded)
		if err != nil {
			return Part{}, &BatchError{Batch: b, Op: "reading the batch's progress row", Err: err}
		}
		p.Hi = hi
	}
	return p, nil
}

// skippedRows is the "rows" of a progress row that SkipPart claimed: no
// SQL ran, so no count of rows affected can be negative.
const skippedRows = -1

// middleOffset is where the middle of a range of n rows, atLo of them
// with the range's lowest key lo, falls among the rows above lo: the row
// at index n/2 of the range, or the first row above lo when lo's rows
// reach past the middle.
func middleOffset(n, atLo int64) int64 {
	return max(n/2-atLo, 0)
}

// errReadOnly is the failure of a batch on a DB opened read-only.
var errReadOnly = errors.New("the database was opened read-only (a dry run): no batch runs")

// withTimeout bounds ctx by timeout when it is positive.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}
