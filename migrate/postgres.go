package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgConnectTimeout bounds connecting when the URL has no connect_timeout.
const pgConnectTimeout = 10 * time.Second

// Type OIDs: bigint, for OFFSET's parameter, and boolean.
const (
	pgOIDInt8 = 20
	pgOIDBool = 16
)

// pgDB is the PostgreSQL implementation of DB, on a pgx pool.
//
// Key values travel as text, with their parameters declared to be of the
// key column's type (the base type of a domain). Declaring the type is
// what lets the user's SQL test "$2 IS NULL", and it keeps every
// comparison in the column's type and collation.
type pgDB struct {
	pool     *pgxpool.Pool
	readOnly bool

	mu      sync.Mutex
	columns map[[2]string]pgColumn // by Spec.Table, Spec.Key
}

// pgColumn is an inspected key column.
type pgColumn struct {
	kind   KeyKind
	oid    uint32 // parameter type: the column's type, or a domain's base type
	maxInt int64  // the largest value of an integer type
}

func openPostgres(ctx context.Context, url string, readOnly bool) (DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password from its message.
		return nil, badInput("--db: %v: use %s", err, urlForms)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	if readOnly {
		// The server refuses every write of these sessions.
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, badInput("--db: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, pgConnectError(ctx, cfg, err)
	}
	return &pgDB{pool: pool, readOnly: readOnly, columns: map[[2]string]pgColumn{}}, nil
}

// pgConnectError explains a failure to connect, and names the fix.
func pgConnectError(ctx context.Context, cfg *pgxpool.Config, err error) error {
	err = withContext(ctx, err)
	where := fmt.Sprintf("PostgreSQL at %s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	if code, ok := pgCode(err); ok {
		switch code {
		case pgInvalidPassword, pgInvalidAuthorization:
			return fmt.Errorf("%w: %s refused user %q: %w: check the user name and password in --db", ErrUnreachable, where, cfg.ConnConfig.User, err)
		case pgInvalidCatalogName:
			return badInput("%s has no database %q: check the database name in --db", where, cfg.ConnConfig.Database)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: connecting to %s timed out: %w: check that the server is running and that --db names its host and port", ErrUnreachable, where, err)
	}
	return fmt.Errorf("%w: connecting to %s: %w: check that the server is running and that --db names its host and port", ErrUnreachable, where, err)
}

func (p *pgDB) Driver() string { return "postgres" }

func (p *pgDB) Close() error {
	p.pool.Close()
	return nil
}

// wrap classifies an error outside a batch: a server's error about the
// statement is the spec's fault (ErrBadInput), a lost connection
// ErrUnreachable.
func (p *pgDB) wrap(ctx context.Context, err error, what string) error {
	err = withContext(ctx, err)
	var pe *pgconn.PgError
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &pe):
		// Syntax errors and undefined objects (class 42), bad data (22),
		// bad input to a function.
		if strings.HasPrefix(pe.Code, "42") || strings.HasPrefix(pe.Code, "22") {
			return badInput("%s: %w", what, err)
		}
	case pgConnectionLost(err):
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (p *pgDB) Inspect(ctx context.Context, spec Spec) (KeyKind, error) {
	col, err := p.column(ctx, spec)
	return col.kind, err
}

// column inspects spec's key column, once per DB.
func (p *pgDB) column(ctx context.Context, spec Spec) (pgColumn, error) {
	cacheKey := [2]string{spec.Table, spec.Key}
	p.mu.Lock()
	col, ok := p.columns[cacheKey]
	p.mu.Unlock()
	if ok {
		return col, nil
	}
	t, err := parseTarget(spec, true)
	if err != nil {
		return pgColumn{}, err
	}
	var relid *uint32
	if err := p.pool.QueryRow(ctx, `SELECT to_regclass($1)::oid`, t.table.quoted()).Scan(&relid); err != nil {
		return pgColumn{}, p.wrap(ctx, err, fmt.Sprintf("inspecting table %q", t.table.String()))
	}
	if relid == nil {
		return pgColumn{}, badInput("table %q does not exist: check --table", t.table.String())
	}
	var (
		baseOID      uint32
		baseName     string
		baseCategory string
		typeName     string
	)
	err = p.pool.QueryRow(ctx, `
		SELECT b.oid, b.typname, b.typcategory::text, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
		*relid, t.key).Scan(&baseOID, &baseName, &baseCategory, &typeName)
	if errors.Is(err, pgx.ErrNoRows) {
		return pgColumn{}, badInput("table %q has no column %q: check --key", t.table.String(), t.key)
	}
	if err != nil {
		return pgColumn{}, p.wrap(ctx, err, fmt.Sprintf("inspecting column %q of table %q", t.key, t.table.String()))
	}
	switch {
	case baseName == "int2":
		col = pgColumn{kind: KindInteger, oid: baseOID, maxInt: math.MaxInt16}
	case baseName == "int4":
		col = pgColumn{kind: KindInteger, oid: baseOID, maxInt: math.MaxInt32}
	case baseName == "int8":
		col = pgColumn{kind: KindInteger, oid: baseOID, maxInt: math.MaxInt64}
	case baseCategory == "S":
		col = pgColumn{kind: KindText, oid: baseOID}
	default:
		return pgColumn{}, badInput("column %q of table %q has type %s: jetmr migrate splits on integer or text keys: choose another --key", t.key, t.table.String(), typeName)
	}
	p.mu.Lock()
	p.columns[cacheKey] = col
	p.mu.Unlock()
	return col, nil
}

func (p *pgDB) Prepare(ctx context.Context, spec Spec) error {
	col, err := p.column(ctx, spec)
	if err != nil {
		return err
	}
	t, err := parseTarget(spec, true)
	if err != nil {
		return err
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return p.wrap(ctx, err, "connecting")
	}
	defer conn.Release()
	pg := conn.Conn().PgConn()
	// Parse and describe only: the unnamed statement is never executed.
	if strings.TrimSpace(spec.Where) != "" {
		if _, err := pg.Prepare(ctx, "", "SELECT 1 FROM "+t.table.quoted()+" WHERE ("+spec.Where+")", nil); err != nil {
			return p.wrap(ctx, err, fmt.Sprintf("checking --where %q", spec.Where))
		}
	}
	sd, err := pg.Prepare(ctx, "", spec.SQL, []uint32{col.oid, col.oid})
	if err != nil {
		return p.wrap(ctx, err, "checking --sql")
	}
	if len(sd.ParamOIDs) != 2 {
		return badInput("--sql takes %d parameters: only $1 and $2, the batch's key range, are passed to it", len(sd.ParamOIDs))
	}
	if p.readOnly {
		return nil
	}
	if _, err := conn.Exec(ctx, progressDDL); err != nil {
		code, _ := pgCode(err)
		switch {
		case code == pgUniqueViolation || code == pgDuplicateTable:
			// Another process created it at the same moment.
		case strings.HasPrefix(code, "42"):
			return badInput("creating the progress table %s: %w: grant CREATE on the first schema of the search_path, or create the table yourself:\n%s",
				ProgressTable, err, progressDDL)
		default:
			return p.wrap(ctx, err, "creating the progress table "+ProgressTable)
		}
	}
	return p.upgradeProgress(ctx, conn.Conn())
}

// upgradeProgress adds the run column to a progress table of the first
// layout, keyed by (job, lo), and makes (job, run, lo) its primary key,
// in one transaction that locks the table: its rows stay, with run ”.
func (p *pgDB) upgradeProgress(ctx context.Context, conn *pgx.Conn) error {
	const has = `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('` + ProgressTable + `') AND attname = 'run' AND NOT attisdropped)`
	var ok bool
	if err := conn.QueryRow(ctx, has).Scan(&ok); err != nil {
		return p.wrap(ctx, err, "inspecting the progress table "+ProgressTable)
	}
	if ok {
		return nil
	}
	const what = "upgrading the progress table " + ProgressTable + " to record runs"
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+ProgressTable+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, has).Scan(&ok); err != nil || ok {
			return err // ok: another process upgraded it
		}
		var pkey string
		err := tx.QueryRow(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('`+ProgressTable+`') AND contype = 'p'`).Scan(&pkey)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		alter := `ALTER TABLE ` + ProgressTable + ` ADD COLUMN run TEXT NOT NULL DEFAULT ''`
		if pkey != "" {
			alter += `, DROP CONSTRAINT ` + pgx.Identifier{pkey}.Sanitize()
		}
		_, err = tx.Exec(ctx, alter+`, ADD PRIMARY KEY (job, run, lo)`)
		return err
	})
	if err != nil {
		if code, _ := pgCode(err); strings.HasPrefix(code, "42") {
			return badInput("%s: %w: run it as the table's owner: ALTER TABLE %s ADD COLUMN run TEXT NOT NULL DEFAULT '', DROP CONSTRAINT %s_pkey, ADD PRIMARY KEY (job, run, lo)",
				what, err, ProgressTable, ProgressTable)
		}
		return p.wrap(ctx, err, what)
	}
	return nil
}

func (p *pgDB) EstimateRows(ctx context.Context, spec Spec) (int64, error) {
	t, err := parseTarget(spec, true)
	if err != nil {
		return 0, err
	}
	// The planner's estimate: free, and as good as the table's statistics.
	var plan string
	q := "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + t.table.quoted() + " WHERE true" + whereClause(spec.Where)
	if err := p.pool.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&plan); err != nil {
		return 0, p.wrap(ctx, err, fmt.Sprintf("estimating the rows of %q", t.table.String()))
	}
	var explained []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) == 0 {
		return 0, fmt.Errorf("estimating the rows of %q: reading the plan %q: %v", t.table.String(), plan, err)
	}
	return int64(explained[0].Plan.Rows), nil
}

func (p *pgDB) NullKeys(ctx context.Context, spec Spec) (int64, error) {
	t, err := parseTarget(spec, true)
	if err != nil {
		return 0, err
	}
	var n int64
	q := "SELECT count(*) FROM " + t.table.quoted() + " WHERE " + quoteIdent(t.key) + " IS NULL" + whereClause(spec.Where)
	if err := p.pool.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		return 0, p.wrap(ctx, err, fmt.Sprintf("counting the rows of %q with a NULL key", t.table.String()))
	}
	return n, nil
}

// target inspects spec's key column and parses its names.
func (p *pgDB) target(ctx context.Context, spec Spec) (pgColumn, target, error) {
	col, err := p.column(ctx, spec)
	if err != nil {
		return pgColumn{}, target{}, err
	}
	t, err := parseTarget(spec, true)
	return col, t, err
}

func (p *pgDB) Seek(ctx context.Context, spec Spec, after Key, skip int) (Key, bool, error) {
	col, t, err := p.target(ctx, spec)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	q := "SELECT " + key + " FROM " + t.table.quoted()
	values := [][]byte{[]byte(strconv.Itoa(skip))}
	oids := []uint32{pgOIDInt8}
	if after.Unbounded {
		q += " WHERE " + key + " IS NOT NULL"
	} else {
		s, _ := after.text()
		q += " WHERE " + key + " > $2"
		values, oids = append(values, []byte(s)), append(oids, col.oid)
	}
	q += whereClause(spec.Where) + " ORDER BY " + key + " LIMIT 1 OFFSET $1"

	found, ok, err := p.queryText(ctx, q, values, oids)
	if err != nil {
		return Key{}, false, p.wrap(ctx, err, fmt.Sprintf("finding the keys of %q after %v", t.table.String(), after))
	}
	if !ok {
		return Key{}, false, nil
	}
	k, err := parseKey(col.kind, found)
	return k, err == nil, err
}

// queryText runs a query of one column in text format, with parameters
// in text format, and returns the first column of its last row; ok is
// false when it returns no row.
func (p *pgDB) queryText(ctx context.Context, q string, values [][]byte, oids []uint32) (string, bool, error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return "", false, err
	}
	defer conn.Release()
	// Text in, text out: keys arrive in the column's text form.
	rr := conn.Conn().PgConn().ExecParams(ctx, q, values, oids, nil, nil)
	var found []byte
	ok := false
	for rr.NextRow() {
		found, ok = append(found[:0], rr.Values()[0]...), true
	}
	if _, err := rr.Close(); err != nil {
		return "", false, err
	}
	return string(found), ok, nil
}

func (p *pgDB) Middle(ctx context.Context, spec Spec, lo, hi Key) (Key, bool, error) {
	col, t, err := p.target(ctx, spec)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	from := " FROM " + t.table.quoted() + " WHERE " + key + " %s $1 AND ($2 IS NULL OR " + key + " < $2)" + whereClause(spec.Where)
	los, _ := lo.text()
	values := [][]byte{[]byte(los), nil}
	if s, ok := hi.text(); ok {
		values[1] = []byte(s)
	}
	oids := []uint32{col.oid, col.oid}
	what := fmt.Sprintf("finding the middle key of %q in [%v, %v)", t.table.String(), lo, hi)
	counts, _, err := p.queryText(ctx, "SELECT count(*) || ' ' || count(CASE WHEN "+key+" = $1 THEN 1 END)"+fmt.Sprintf(from, ">="), values, oids)
	if err != nil {
		return Key{}, false, p.wrap(ctx, err, what)
	}
	var n, atLo int64
	if _, err := fmt.Sscan(counts, &n, &atLo); err != nil {
		return Key{}, false, fmt.Errorf("%s: reading the counts %q: %w", what, counts, err)
	}
	if n-atLo < 1 {
		return Key{}, false, nil // no key but lo
	}
	q := "SELECT " + key + fmt.Sprintf(from, ">") + " ORDER BY " + key + " LIMIT 1 OFFSET $3"
	offset := []byte(strconv.FormatInt(middleOffset(n, atLo), 10))
	found, ok, err := p.queryText(ctx, q, append(values, offset), append(oids, pgOIDInt8))
	if err != nil {
		return Key{}, false, p.wrap(ctx, err, what)
	}
	if !ok {
		return Key{}, false, nil // the rows changed meanwhile
	}
	mid, err := parseKey(col.kind, found)
	return mid, err == nil, err
}

func (p *pgDB) RunPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) (Part, error) {
	if p.readOnly {
		return Part{}, &BatchError{Batch: b, Op: "beginning", Err: errReadOnly}
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	fail := func(op string, err error) (Part, error) {
		err = withContext(ctx, err)
		var ce *pgconn.ConnectError
		code, isPg := pgCode(err)
		if ctx.Err() == nil && (errors.As(err, &ce) || !isPg && pgConnectionLost(err) ||
			isPg && (strings.HasPrefix(code, pgClassConnection) || code == pgAdminShutdown || code == pgCrashShutdown || code == pgCannotConnectNow)) {
			err = fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		return Part{}, &BatchError{Batch: b, Op: op, Err: err}
	}
	col, t, err := p.target(ctx, spec)
	if err != nil {
		return Part{}, err
	}
	if col.kind != b.Lo.Kind {
		return Part{}, badInput("batch %d has %v keys but column %q is %v: it was split for another key", b.Index, b.Lo.Kind, spec.Key, col.kind)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail("beginning", err)
	}
	defer func() {
		// Rolling back must not depend on a context that may have ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		tx.Rollback(rctx)
	}()
	if timeout > 0 {
		// The server keeps the bound too: should this process die, its
		// statement stops there rather than holding its locks, the claim
		// among them, until it ends on its own.
		ms := max(timeout.Milliseconds(), 1)
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", ms)); err != nil {
			return fail("beginning", err)
		}
	}
	lo, _ := b.Lo.text()
	hi := b.Hi.textOrNil()
	// The claim: a concurrent run of the same batch waits here until this
	// transaction ends, then finds the row (and runs nothing) or, if this
	// one rolled back, claims the batch itself.
	tag, err := tx.Exec(ctx, pgClaim, spec.Job, spec.Run, lo, hi)
	if err != nil {
		return fail("claiming the batch", err)
	}
	if tag.RowsAffected() == 0 {
		// Read committed: this statement sees the row the claim met.
		var found Part
		var recorded *string
		if err := tx.QueryRow(ctx, pgFound, spec.Job, spec.Run, lo).Scan(&recorded, &found.Rows); err != nil {
			return fail("reading the batch's progress row", err)
		}
		return foundPart(b, recorded, found.Rows)
	}
	q := pgTx{tx: tx, col: col, t: t}
	bound := b.Hi
	if b.Hi.Unbounded {
		if bound, err = openBound(ctx, q, b.Lo, col.maxInt); err != nil {
			return fail(opBound, err)
		}
	}
	his, _ := bound.text()
	rr := tx.Conn().PgConn().ExecParams(ctx, spec.SQL, [][]byte{[]byte(lo), []byte(his)}, []uint32{col.oid, col.oid}, nil, nil)
	for rr.NextRow() {
		// A statement returning rows: they are not needed.
	}
	tag, err = rr.Close()
	if err != nil {
		return fail(opSQL, err)
	}
	rows := tag.RowsAffected()
	var held int64
	if rows == 0 {
		if held, err = q.count(ctx, spec.Where, b.Lo, bound); err != nil {
			return fail("counting the rows of a batch the SQL did not change", err)
		}
	}
	if _, err := tx.Exec(ctx, pgRecord, rows, spec.Job, spec.Run, lo); err != nil {
		return fail("recording the batch", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("committing", err)
	}
	return Part{Hi: b.Hi, Rows: rows, Bound: bound, Held: held}, nil
}

func (p *pgDB) TryPart(ctx context.Context, spec Spec, b Batch, timeout time.Duration) error {
	if p.readOnly {
		return &BatchError{Batch: b, Op: "beginning", Err: errReadOnly}
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	fail := func(op string, err error) error {
		return &BatchError{Batch: b, Op: op, Err: withContext(ctx, err)}
	}
	col, t, err := p.target(ctx, spec)
	if err != nil {
		return err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail("beginning", err)
	}
	defer func() {
		// Always: a try commits nothing.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		tx.Rollback(rctx)
	}()
	if timeout > 0 {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", max(timeout.Milliseconds(), 1))); err != nil {
			return fail("beginning", err)
		}
	}
	bound := b.Hi
	if b.Hi.Unbounded {
		if bound, err = openBound(ctx, pgTx{tx: tx, col: col, t: t}, b.Lo, col.maxInt); err != nil {
			return fail(opBound, err)
		}
	}
	los, _ := b.Lo.text()
	his, _ := bound.text()
	rr := tx.Conn().PgConn().ExecParams(ctx, spec.SQL, [][]byte{[]byte(los), []byte(his)}, []uint32{col.oid, col.oid}, nil, nil)
	for rr.NextRow() {
	}
	if _, err := rr.Close(); err != nil {
		return fail(opSQL, err)
	}
	return nil
}

// pgTx runs the queries of a part about its keys in its transaction,
// with keys in text form as parameters of the key column's type.
type pgTx struct {
	tx  pgx.Tx
	col pgColumn
	t   target
}

// query runs q with keys for parameters and returns the first column of
// its first row in text form; ok is false when it returns no row.
func (q pgTx) query(ctx context.Context, sql string, keys ...Key) (string, bool, error) {
	values, oids := make([][]byte, len(keys)), make([]uint32, len(keys))
	for i, k := range keys {
		s, _ := k.text()
		values[i], oids[i] = []byte(s), q.col.oid
	}
	rr := q.tx.Conn().PgConn().ExecParams(ctx, sql, values, oids, nil, nil)
	var found []byte
	ok := false
	for rr.NextRow() {
		if !ok {
			found, ok = append(found, rr.Values()[0]...), true
		}
	}
	if _, err := rr.Close(); err != nil {
		return "", false, err
	}
	return string(found), ok, nil
}

func (q pgTx) maxFrom(ctx context.Context, lo Key) (Key, bool, error) {
	key := quoteIdent(q.t.key)
	found, ok, err := q.query(ctx, "SELECT "+key+" FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1 ORDER BY "+key+" DESC LIMIT 1", lo)
	if err != nil || !ok {
		return Key{}, false, err
	}
	k, err := parseKey(q.col.kind, found)
	return k, err == nil, err
}

func (q pgTx) anyFrom(ctx context.Context, k Key) (bool, error) {
	key := quoteIdent(q.t.key)
	found, _, err := q.query(ctx, "SELECT EXISTS (SELECT 1 FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1)", k)
	return found == "t", err
}

// count counts the rows of [lo, hi) that where selects.
func (q pgTx) count(ctx context.Context, where string, lo, hi Key) (int64, error) {
	key := quoteIdent(q.t.key)
	found, _, err := q.query(ctx, "SELECT count(*) FROM "+q.t.table.quoted()+" WHERE "+key+" >= $1 AND "+key+" < $2"+whereClause(where), lo, hi)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(found, 10, 64)
}

func (p *pgDB) NextKey(ctx context.Context, spec Spec, k, hi Key) (Key, bool, error) {
	col, t, err := p.target(ctx, spec)
	if err != nil {
		return Key{}, false, err
	}
	key := quoteIdent(t.key)
	q := "SELECT " + key + " FROM " + t.table.quoted() + " WHERE " + key + " > $1 AND ($2 IS NULL OR " + key + " < $2) ORDER BY " + key + " LIMIT 1"
	ks, _ := k.text()
	values := [][]byte{[]byte(ks), nil}
	if s, ok := hi.text(); ok {
		values[1] = []byte(s)
	}
	found, ok, err := p.queryText(ctx, q, values, []uint32{col.oid, col.oid})
	if err != nil {
		return Key{}, false, p.wrap(ctx, err, fmt.Sprintf("finding the key after %v in %q", k, t.table.String()))
	}
	if !ok {
		return Key{}, false, nil
	}
	next, err := parseKey(col.kind, found)
	return next, err == nil, err
}

func (p *pgDB) SkipPart(ctx context.Context, spec Spec, b Batch) (Part, error) {
	if p.readOnly {
		return Part{}, &BatchError{Batch: b, Op: "beginning", Err: errReadOnly}
	}
	lo, _ := b.Lo.text()
	tag, err := p.pool.Exec(ctx, pgSkip, spec.Job, spec.Run, lo, b.Hi.textOrNil(), int64(skippedRows))
	if err != nil {
		return Part{}, &BatchError{Batch: b, Op: "claiming a skipped key", Err: p.wrap(ctx, err, "claiming a skipped key")}
	}
	if tag.RowsAffected() == 1 {
		return Part{Hi: b.Hi, Skipped: true}, nil
	}
	var recorded *string
	var rows int64
	if err := p.pool.QueryRow(ctx, pgFound, spec.Job, spec.Run, lo).Scan(&recorded, &rows); err != nil {
		return Part{}, &BatchError{Batch: b, Op: "reading the batch's progress row", Err: p.wrap(ctx, err, "reading the batch's progress row")}
	}
	return foundPart(b, recorded, rows)
}

const (
	pgSkip = `INSERT INTO ` + ProgressTable + ` (job, run, lo, hi, "rows", done_at) VALUES ($1, $2, $3, $4, $5, ` + pgNow + `)
		ON CONFLICT (job, run, lo) DO NOTHING`
	pgNow   = `(clock_timestamp() AT TIME ZONE 'UTC')`
	pgClaim = `INSERT INTO ` + ProgressTable + ` (job, run, lo, hi, "rows", done_at) VALUES ($1, $2, $3, $4, 0, ` + pgNow + `)
		ON CONFLICT (job, run, lo) DO NOTHING`
	pgFound  = `SELECT hi, "rows" FROM ` + ProgressTable + ` WHERE job = $1 AND run = $2 AND lo = $3`
	pgRecord = `UPDATE ` + ProgressTable + ` SET "rows" = $1, done_at = ` + pgNow + ` WHERE job = $2 AND run = $3 AND lo = $4`
)

func (p *pgDB) DoneBatches(ctx context.Context, spec Spec, yield func(Done) error) error {
	rows, err := p.pool.Query(ctx, `SELECT lo, hi, "rows", done_at FROM `+ProgressTable+` WHERE job = $1 AND run = $2 ORDER BY done_at, lo`, spec.Job, spec.Run)
	if err != nil {
		return p.wrap(ctx, err, "reading the progress table "+ProgressTable)
	}
	defer rows.Close()
	for rows.Next() {
		var d Done
		var hi *string
		if err := rows.Scan(&d.Lo, &hi, &d.Rows, &d.At); err != nil {
			return p.wrap(ctx, err, "reading the progress table "+ProgressTable)
		}
		if d.Rows == skippedRows {
			d.Rows, d.Skipped = 0, true
		}
		if hi != nil {
			d.Hi = *hi
		} else {
			d.Open = true
		}
		if err := yield(d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return p.wrap(ctx, err, "reading the progress table "+ProgressTable)
	}
	return nil
}

// Healthy implements [DB].
func (p *pgDB) Healthy(ctx context.Context, query string) (bool, error) {
	what := fmt.Sprintf("running --pause-when %q", query)
	rows, err := p.pool.Query(ctx, query)
	if err != nil {
		return false, healthFailed(p.wrap(ctx, err, what))
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var values []*bool
	for rows.Next() {
		var v *bool
		if len(fields) == 1 && fields[0].DataTypeOID == pgOIDBool {
			if err := rows.Scan(&v); err != nil {
				return false, healthFailed(p.wrap(ctx, err, what))
			}
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return false, healthFailed(p.wrap(ctx, err, what))
	}
	if err := healthShape(query, len(fields), len(values)); err != nil {
		return false, err
	}
	if oid := fields[0].DataTypeOID; oid != pgOIDBool {
		typ, ok := pgtype.NewMap().TypeForOID(oid)
		name := fmt.Sprintf("type %d", oid)
		if ok {
			name = typ.Name
		}
		return false, badHealth(query, "returns "+name+", not a boolean")
	}
	if values[0] == nil {
		return false, badHealth(query, "returned NULL")
	}
	return *values[0], nil
}
