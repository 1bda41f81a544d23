package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeout is how long a connection waits for another's lock.
const sqliteBusyTimeout = 10 * time.Second

// sqliteDB is the SQLite implementation of DB, on database/sql. SQLite
// accepts PostgreSQL's $1-style parameters as they are.
//
// SQLite lets one transaction write at a time, and its busy handler is not
// fair: a writer polling for the lock can starve while others take turns.
// So the batches of one process queue for the write lock on writer, in
// order, and only batches of other processes meet the busy timeout.
type sqliteDB struct {
	db       *sql.DB
	path     string
	writer   chan struct{} // a semaphore of 1, FIFO
	readOnly bool
}

func openSQLite(ctx context.Context, path string, readOnly bool) (DB, error) {
	path = strings.TrimPrefix(path, "//")
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, badInput("--db sqlite:%s: name an existing database file, e.g. sqlite:/var/lib/app.db", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, badInput("--db sqlite:%s: %v", path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, badInput("SQLite database %s does not exist: check --db (jetmr migrate never creates a database)", abs)
	case err != nil:
		return nil, badInput("SQLite database %s: %v: check --db", abs, err)
	case fi.IsDir():
		return nil, badInput("SQLite database %s is a directory: --db sqlite:PATH must name the database file", abs)
	}
	// A file: URI so that mode=rw refuses to create the file should it
	// vanish now, and so that any character in the path is escaped.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() +
		fmt.Sprintf("?mode=rw&_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)",
			sqliteBusyTimeout.Milliseconds())
	if readOnly {
		// Nothing is written, the journal mode included.
		dsn = "file:" + (&url.URL{Path: abs}).EscapedPath() + fmt.Sprintf("?mode=ro&_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, badInput("opening SQLite database %s: %v", abs, err)
	}
	db.SetMaxIdleConns(8)
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.Close()
		err = withContext(ctx, err)
		code, _ := sqliteCode(err)
		switch code & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return nil, badInput("%s is not a SQLite database: check --db", abs)
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH:
			return nil, badInput("opening SQLite database %s: %v: check the permissions of the file and of its directory (WAL mode writes %s-wal and %s-shm next to it)", abs, err, abs, abs)
		}
		return nil, fmt.Errorf("%w: opening SQLite database %s: %w", ErrUnreachable, abs, err)
	}
	return &sqliteDB{db: db, path: abs, writer: make(chan struct{}, 1), readOnly: readOnly}, nil
}

func (s *sqliteDB) Driver() string { return "sqlite" }

func (s *sqliteDB) Close() error { return s.db.Close() }

// wrap classifies an error of a query outside a batch: an SQL error
// (SQLITE_ERROR: syntax, unknown table or column) is the spec's fault;
// anything else is returned as it is, with what for context.
func (s *sqliteDB) wrap(ctx context.Context, err error, what string) error {
	err = withContext(ctx, err)
	if ctx.Err() == nil {
		if code, ok := sqliteCode(err); ok && code&0xff == sqlite3.SQLITE_ERROR {
			return badInput("%s: %w", what, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (s *sqliteDB) Inspect(ctx context.Context, spec Spec) (KeyKind, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return 0, err
	}
	// table_xinfo lists generated columns too; hidden = 1 marks the
	// hidden columns of virtual tables.
	q := `SELECT name, type FROM pragma_table_xinfo($1) WHERE hidden <> 1`
	args := []any{t.table.name}
	if t.table.schema != "" {
		q = `SELECT name, type FROM pragma_table_xinfo($1, $2) WHERE hidden <> 1`
		args = append(args, t.table.schema)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		if code, ok := sqliteCode(err); ok && code&0xff == sqlite3.SQLITE_ERROR && ctx.Err() == nil {
			// "unknown database": the schema is missing.
			return 0, badInput("table %q does not exist (%v): check --table", t.table.String(), err)
		}
		return 0, s.wrap(ctx, err, fmt.Sprintf("inspecting table %q", t.table.String()))
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		found = true
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return 0, s.wrap(ctx, err, fmt.Sprintf("inspecting table %q", t.table.String()))
		}
		if strings.EqualFold(name, t.key) {
			return sqliteKind(t, name, typ)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, s.wrap(ctx, err, fmt.Sprintf("inspecting table %q", t.table.String()))
	}
	if !found {
		return 0, badInput("table %q does not exist: check --table", t.table.String())
	}
	return 0, badInput("table %q has no column %q: check --key", t.table.String(), t.key)
}

// sqliteKind maps a declared column type to a key kind by SQLite's
// affinity rules.
func sqliteKind(t target, column, declared string) (KeyKind, error) {
	u := strings.ToUpper(declared)
	switch {
	case strings.Contains(u, "INT"):
		return KindInteger, nil
	case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"):
		return KindText, nil
	case declared == "":
		return 0, badInput("column %q of table %q has no declared type: jetmr migrate splits on INTEGER or TEXT keys: choose another --key", column, t.table.String())
	}
	return 0, badInput("column %q of table %q has type %s: jetmr migrate splits on INTEGER or TEXT keys: choose another --key", column, t.table.String(), declared)
}

func (s *sqliteDB) Prepare(ctx context.Context, spec Spec) error {
	t, err := parseTarget(spec, false)
	if err != nil {
		return err
	}
	if strings.TrimSpace(spec.Where) != "" {
		rows, err := s.db.QueryContext(ctx, "SELECT 1 FROM "+t.table.quoted()+" WHERE ("+spec.Where+") LIMIT 0")
		if err != nil {
			return s.wrap(ctx, err, fmt.Sprintf("checking --where %q", spec.Where))
		}
		rows.Close()
	}
	stmt, err := s.db.PrepareContext(ctx, spec.SQL)
	if err != nil {
		return s.wrap(ctx, err, "checking --sql")
	}
	stmt.Close()
	if s.readOnly {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, progressDDL); err != nil {
		return s.wrap(ctx, err, "creating the progress table "+ProgressTable)
	}
	return s.upgradeProgress(ctx)
}

// upgradeProgress adds the run column to a progress table of the first
// layout, keyed by (job, lo): SQLite cannot change a primary key, so the
// table is copied into one of the current layout, in one transaction,
// its rows with run ”.
func (s *sqliteDB) upgradeProgress(ctx context.Context) error {
	const has = `SELECT count(*) FROM pragma_table_info('` + ProgressTable + `') WHERE name = 'run'`
	var n int
	if err := s.db.QueryRowContext(ctx, has).Scan(&n); err != nil {
		return s.wrap(ctx, err, "inspecting the progress table "+ProgressTable)
	}
	if n > 0 {
		return nil
	}
	what := "upgrading the progress table " + ProgressTable + " to record runs"
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	tx, err := s.db.BeginTx(ctx, nil) // IMMEDIATE: one process upgrades
	if err != nil {
		return s.wrap(ctx, err, what)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, has).Scan(&n); err != nil {
		return s.wrap(ctx, err, what)
	}
	if n > 0 {
		return nil // another process upgraded it
	}
	const next = ProgressTable + "_upgrade"
	for _, q := range []string{
		progressTableDDL(next),
		`INSERT INTO ` + next + ` (job, run, lo, hi, "rows", done_at) SELECT job, '', lo, hi, "rows", done_at FROM ` + ProgressTable,
		`DROP TABLE ` + ProgressTable,
		`ALTER TABLE ` + next + ` RENAME TO ` + ProgressTable,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.wrap(ctx, err, what)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(ctx, err, what)
	}
	return nil
}

// progressDDL creates the progress table; the same text works on SQLite
// and PostgreSQL.
var progressDDL = progressTableDDL(ProgressTable)

// progressTableDDL creates a progress table named name.
func progressTableDDL(name string) string {
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
	job TEXT NOT NULL,
	run TEXT NOT NULL DEFAULT '',
	lo TEXT NOT NULL,
	hi TEXT,
	"rows" BIGINT NOT NULL,
	done_at TIMESTAMP NOT NULL,
	PRIMARY KEY (job, run, lo)
)`
}

// whereClause is " AND (where)", or "".
func whereClause(where string) string {
	if strings.TrimSpace(where) == "" {
		return ""
	}
	return " AND (" + where + ")"
}

func (s *sqliteDB) EstimateRows(ctx context.Context, spec Spec) (int64, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return 0, err
	}
	var n int64
	q := "SELECT count(*) FROM " + t.table.quoted() + " WHERE true" + whereClause(spec.Where)
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, s.wrap(ctx, err, fmt.Sprintf("counting the rows of %q", t.table.String()))
	}
	return n, nil
}

func (s *sqliteDB) NullKeys(ctx context.Context, spec Spec) (int64, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return 0, err
	}
	var n int64
	q := "SELECT count(*) FROM " + t.table.quoted() + " WHERE " + quoteIdent(t.key) + " IS NULL" + whereClause(spec.Where)
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, s.wrap(ctx, err, fmt.Sprintf("counting the rows of %q with a NULL key", t.table.String()))
	}
	return n, nil
}

func (s *sqliteDB) Seek(ctx context.Context, spec Spec, after Key, skip int) (Key, bool, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	q := "SELECT " + key + " FROM " + t.table.quoted()
	var args []any
	if after.Unbounded {
		q += " WHERE " + key + " IS NOT NULL"
		args = []any{skip}
	} else {
		q += " WHERE " + key + " > $2"
		args = []any{skip, after.value()}
	}
	q += whereClause(spec.Where) + " ORDER BY " + key + " LIMIT 1 OFFSET $1"
	var v any
	err = s.db.QueryRowContext(ctx, q, args...).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, false, nil
	}
	if err != nil {
		return Key{}, false, s.wrap(ctx, err, fmt.Sprintf("finding the keys of %q after %v", t.table.String(), after))
	}
	return s.keyOf(t, v, after.Kind)
}

// keyOf turns a value read from the key column into a Key of kind kind.
func (s *sqliteDB) keyOf(t target, v any, kind KeyKind) (Key, bool, error) {
	switch x := v.(type) {
	case int64:
		if kind == KindInteger {
			return IntKey(x), true, nil
		}
	case string:
		if kind == KindText {
			return TextKey(x), true, nil
		}
	}
	return Key{}, false, badInput("column %q of table %q holds %T value %v where %s keys were expected (SQLite lets any column hold any type): fix the row or choose another --key",
		t.key, t.table.String(), v, v, kind)
}

// lockWriter takes the database's one write lock for batch b, or returns
// the BatchError of a read-only database or of ctx ending first.
func (s *sqliteDB) lockWriter(ctx context.Context, b Batch) (release func(), err error) {
	if s.readOnly {
		return nil, &BatchError{Batch: b, Op: "beginning", Err: errReadOnly}
	}
	select {
	case s.writer <- struct{}{}:
		return func() { <-s.writer }, nil
	case <-ctx.Done():
		return nil, &BatchError{Batch: b, Op: "waiting for the write lock", Err: ctx.Err()}
	}
}

func (s *sqliteDB) RunPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) (Part, error) {
	release, err := s.lockWriter(ctx, b)
	if err != nil {
		return Part{}, err
	}
	defer release()
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	fail := func(op string, err error) (Part, error) {
		err = withContext(ctx, err)
		return Part{}, &BatchError{Batch: b, Op: op, Err: err}
	}
	// _txlock=immediate: BEGIN IMMEDIATE takes the write lock now, waiting
	// up to the busy timeout, so the transaction never fails to upgrade.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail("beginning", err)
	}
	defer tx.Rollback()
	lo, _ := b.Lo.text()
	res, err := tx.ExecContext(ctx, sqliteClaim, spec.Job, spec.Run, lo, b.Hi.textOrNil())
	if err != nil {
		return fail("claiming the batch", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fail("claiming the batch", err)
	} else if n == 0 {
		var recorded sql.NullString
		var rows int64
		if err := tx.QueryRowContext(ctx, sqliteFound, spec.Job, spec.Run, lo).Scan(&recorded, &rows); err != nil {
			return fail("reading the batch's progress row", err)
		}
		var hi *string
		if recorded.Valid {
			hi = &recorded.String
		}
		return foundPart(b, hi, rows)
	}
	t, err := parseTarget(spec, false)
	if err != nil {
		return Part{}, err
	}
	q := sqliteTx{s: s, tx: tx, t: t}
	bound := b.Hi
	if b.Hi.Unbounded {
		if bound, err = openBound(ctx, q, b.Lo, math.MaxInt64); err != nil {
			return fail(opBound, err)
		}
	}
	res, err = tx.ExecContext(ctx, spec.SQL, b.Lo.value(), bound.value())
	if err != nil {
		return fail(opSQL, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return fail(opSQL, err)
	}
	var held int64
	if rows == 0 {
		if held, err = q.count(ctx, spec.Where, b.Lo, bound); err != nil {
			return fail("counting the rows of a batch the SQL did not change", err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqliteRecord, rows, spec.Job, spec.Run, lo); err != nil {
		return fail("recording the batch", err)
	}
	if err := tx.Commit(); err != nil {
		return fail("committing", err)
	}
	return Part{Hi: b.Hi, Rows: rows, Bound: bound, Held: held}, nil
}

func (s *sqliteDB) TryPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) error {
	if s.readOnly {
		return &BatchError{Batch: b, Op: "beginning", Err: errReadOnly}
	}
	t, err := parseTarget(spec, false)
	if err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return &BatchError{Batch: b, Op: "waiting for the write lock", Err: ctx.Err()}
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	fail := func(op string, err error) error {
		return &BatchError{Batch: b, Op: op, Err: withContext(ctx, err)}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail("beginning", err)
	}
	defer tx.Rollback() // always: a try commits nothing
	bound := b.Hi
	if b.Hi.Unbounded {
		if bound, err = openBound(ctx, sqliteTx{s: s, tx: tx, t: t}, b.Lo, math.MaxInt64); err != nil {
			return fail(opBound, err)
		}
	}
	if _, err := tx.ExecContext(ctx, spec.SQL, b.Lo.value(), bound.value()); err != nil {
		return fail(opSQL, err)
	}
	return nil
}

// sqliteTx runs the queries of a part about its keys in its transaction.
type sqliteTx struct {
	s  *sqliteDB
	tx *sql.Tx
	t  target
}

func (q sqliteTx) maxFrom(ctx context.Context, lo Key) (Key, bool, error) {
	key := quoteIdent(q.t.key)
	var v any
	err := q.tx.QueryRowContext(ctx, "SELECT "+key+" FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1 ORDER BY "+key+" DESC LIMIT 1", lo.value()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, false, nil
	}
	if err != nil {
		return Key{}, false, err
	}
	return q.s.keyOf(q.t, v, lo.Kind)
}

func (q sqliteTx) anyFrom(ctx context.Context, k Key) (bool, error) {
	key := quoteIdent(q.t.key)
	var found bool
	err := q.tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1)", k.value()).Scan(&found)
	return found, err
}

// count counts the rows of [lo, hi) that where selects.
func (q sqliteTx) count(ctx context.Context, where string, lo, hi Key) (int64, error) {
	key := quoteIdent(q.t.key)
	var n int64
	err := q.tx.QueryRowContext(ctx, "SELECT count(*) FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1 AND "+key+" < $2"+whereClause(where), lo.value(), hi.value()).Scan(&n)
	return n, err
}

func (s *sqliteDB) Middle(ctx context.Context, spec Spec, lo, hi Key) (Key, bool, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	from := " FROM " + t.table.quoted() + " WHERE " + key + " %s $1 AND ($2 IS NULL OR " + key + " < $2)" + whereClause(spec.Where)
	what := fmt.Sprintf("finding the middle key of %q in [%v, %v)", t.table.String(), lo, hi)
	var n, atLo int64
	count := "SELECT count(*), count(CASE WHEN " + key + " = $1 THEN 1 END)" + fmt.Sprintf(from, ">=")
	if err := s.db.QueryRowContext(ctx, count, lo.value(), hi.value()).Scan(&n, &atLo); err != nil {
		return Key{}, false, s.wrap(ctx, err, what)
	}
	if n-atLo < 1 {
		return Key{}, false, nil // no key but lo
	}
	q := "SELECT " + key + fmt.Sprintf(from, ">") + " ORDER BY " + key + " LIMIT 1 OFFSET $3"
	var v any
	if err := s.db.QueryRowContext(ctx, q, lo.value(), hi.value(), middleOffset(n, atLo)).Scan(&v); err != nil {
		return Key{}, false, s.wrap(ctx, err, what)
	}
	return s.keyOf(t, v, lo.Kind)
}

func (s *sqliteDB) NextKey(ctx context.Context, spec Spec, k, hi Key) (Key, bool, error) {
	t, err := parseTarget(spec, false)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	q := "SELECT " + key + " FROM " + t.table.quoted() + " WHERE " + key + " > $1 AND ($2 IS NULL OR " + key + " < $2) ORDER BY " + key + " LIMIT 1"
	var v any
	err = s.db.QueryRowContext(ctx, q, k.value(), hi.value()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, false, nil
	}
	if err != nil {
		return Key{}, false, s.wrap(ctx, err, fmt.Sprintf("finding the key after %v in %q", k, t.table.String()))
	}
	return s.keyOf(t, v, k.Kind)
}

func (s *sqliteDB) SkipPart(ctx context.Context, spec Spec, b Batch) (Part, error) {
	release, err := s.lockWriter(ctx, b)
	if err != nil {
		return Part{}, err
	}
	defer release()
	lo, _ := b.Lo.text()
	res, err := s.db.ExecContext(ctx, sqliteSkip, spec.Job, spec.Run, lo, b.Hi.textOrNil(), skippedRows)
	if err != nil {
		return Part{}, &BatchError{Batch: b, Op: "claiming a skipped key", Err: withContext(ctx, err)}
	}
	if n, err := res.RowsAffected(); err != nil {
		return Part{}, &BatchError{Batch: b, Op: "claiming a skipped key", Err: err}
	} else if n == 1 {
		return Part{Hi: b.Hi, Skipped: true}, nil
	}
	var recorded sql.NullString
	var rows int64
	if err := s.db.QueryRowContext(ctx, sqliteFound, spec.Job, spec.Run, lo).Scan(&recorded, &rows); err != nil {
		return Part{}, &BatchError{Batch: b, Op: "reading the batch's progress row", Err: withContext(ctx, err)}
	}
	var hi *string
	if recorded.Valid {
		hi = &recorded.String
	}
	return foundPart(b, hi, rows)
}

const (
	sqliteSkip = `INSERT INTO ` + ProgressTable + ` (job, run, lo, hi, "rows", done_at) VALUES ($1, $2, $3, $4, $5, ` + sqliteNow + `)
		ON CONFLICT (job, run, lo) DO NOTHING`
	sqliteNow   = `strftime('%Y-%m-%d %H:%M:%f', 'now')`
	sqliteClaim = `INSERT INTO ` + ProgressTable + ` (job, run, lo, hi, "rows", done_at) VALUES ($1, $2, $3, $4, 0, ` + sqliteNow + `)
		ON CONFLICT (job, run, lo) DO NOTHING`
	sqliteFound  = `SELECT hi, "rows" FROM ` + ProgressTable + ` WHERE job = $1 AND run = $2 AND lo = $3`
	sqliteRecord = `UPDATE ` + ProgressTable + ` SET "rows" = $1, done_at = ` + sqliteNow + ` WHERE job = $2 AND run = $3 AND lo = $4`
)

func (s *sqliteDB) DoneBatches(ctx context.Context, spec Spec, yield func(Done) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT lo, hi, "rows", done_at FROM `+ProgressTable+` WHERE job = $1 AND run = $2 ORDER BY done_at, lo`, spec.Job, spec.Run)
	if err != nil {
		return s.wrap(ctx, err, "reading the progress table "+ProgressTable)
	}
	defer rows.Close()
	for rows.Next() {
		var d Done
		var hi sql.NullString
		var at any
		if err := rows.Scan(&d.Lo, &hi, &d.Rows, &at); err != nil {
			return s.wrap(ctx, err, "reading the progress table "+ProgressTable)
		}
		if d.Rows == skippedRows {
			d.Rows, d.Skipped = 0, true
		}
		d.Hi, d.Open = hi.String, !hi.Valid
		switch x := at.(type) {
		case time.Time:
			d.At = x.UTC()
		case string:
			d.At, _ = time.Parse("2006-01-02 15:04:05.999999999", x)
		}
		if err := yield(d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(ctx, err, "reading the progress table "+ProgressTable)
	}
	return nil
}

// Healthy implements [DB]. SQLite has no boolean type: a comparison
// gives the integer 0 or 1, and only those are taken.
func (s *sqliteDB) Healthy(ctx context.Context, query string) (bool, error) {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return false, healthFailed(s.wrap(ctx, err, fmt.Sprintf("running --pause-when %q", query)))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, healthFailed(s.wrap(ctx, err, fmt.Sprintf("running --pause-when %q", query)))
	}
	var values []any
	for rows.Next() {
		var v any
		if len(cols) == 1 {
			if err := rows.Scan(&v); err != nil {
				return false, healthFailed(s.wrap(ctx, err, fmt.Sprintf("running --pause-when %q", query)))
			}
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return false, healthFailed(s.wrap(ctx, err, fmt.Sprintf("running --pause-when %q", query)))
	}
	if err := healthShape(query, len(cols), len(values)); err != nil {
		return false, err
	}
	switch v := values[0].(type) {
	case int64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case nil:
		return false, badHealth(query, "returned NULL")
	}
	return false, badHealth(query, fmt.Sprintf("returned %v, not a boolean (SQLite's are 0 and 1)", values[0]))
}
