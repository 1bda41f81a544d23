package migratetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/jetmr/jetmr/migrate/pgtest"
)

// DB is a fresh database a migrate job runs on, with the test's own
// connection to it.
type DB struct {
	Driver string // "sqlite" or "postgres"
	URL    string // the job's database URL
	Conn   *sql.DB
}

// RaceEnabled reports whether the test binary was built with -race.
func RaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func OpenSQLite(t *testing.T) *DB {
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
	return &DB{Driver: "sqlite", URL: "sqlite:" + path, Conn: conn}
}

var migDatabases atomic.Int64

func PostgresOpener(srv *pgtest.Server) func(t *testing.T) *DB {
	return func(t *testing.T) *DB {
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
		return &DB{Driver: "postgres", URL: url, Conn: conn}
	}
}

func (d *DB) Exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := d.Conn.Exec(q, args...); err != nil {
		t.Fatalf("%.200s: %v", q, err)
	}
}

func (d *DB) Int(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.Conn.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// progressRows counts the rows of the progress table (of job, unless
// ""), 0 when the table does not exist.
func (d *DB) ProgressRows(t testing.TB, job string) int64 {
	t.Helper()
	exists := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jetmr_batches'"
	if d.Driver == "postgres" {
		exists = "SELECT count(*) FROM pg_tables WHERE tablename = 'jetmr_batches'"
	}
	if d.Int(t, exists) == 0 {
		return 0
	}
	if job == "" {
		return d.Int(t, "SELECT count(*) FROM jetmr_batches")
	}
	return d.Int(t, "SELECT count(*) FROM jetmr_batches WHERE job = $1", job)
}

// createTable creates t (id PRIMARY KEY, n = 0) holding the keys of ks;
// check adds CHECK (n < 2). The keys go in as one JSON array: SQLite
// (pure Go) under -race takes seconds for 100,000 rows otherwise.
func (d *DB) CreateTable(t testing.TB, ks KeySet, check bool) {
	t.Helper()
	typ, constraint := "INTEGER", "" // SQLite: the rowid
	switch {
	case ks.Text:
		typ = "TEXT"
	case d.Driver == "postgres":
		typ = "BIGINT"
	}
	if check {
		constraint = " CHECK (n < 2)"
	}
	d.Exec(t, fmt.Sprintf("CREATE TABLE t (id %s PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0%s)", typ, constraint))
	keys := ks.Keys
	if ks.Text { // in an order that owes nothing to the key order
		keys = slices.Clone(keys)
		rand.New(rand.NewPCG(uint64(len(keys)), 5)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	var array string
	if ks.Text {
		b, err := json.Marshal(keys)
		if err != nil {
			t.Fatal(err)
		}
		array = string(b)
	} else {
		array = "[" + strings.Join(keys, ",") + "]"
	}
	insert := "INSERT INTO t (id) SELECT value FROM json_each($1)"
	if d.Driver == "postgres" {
		insert = "INSERT INTO t (id) SELECT value::" + typ + " FROM json_array_elements_text($1::json)"
	}
	d.Exec(t, insert, array)
	if n := d.Int(t, "SELECT count(*) FROM t"); n != int64(len(keys)) {
		t.Fatalf("the table holds %d rows, want %d", n, len(keys))
	}
	if d.Driver == "postgres" {
		d.Exec(t, "ANALYZE t")
	}
}

// checkAllOnce checks that the table holds rows rows, each with n = 1.
func (d *DB) CheckAllOnce(t testing.TB, rows int) {
	t.Helper()
	var count, ones, minN, maxN int64
	err := d.Conn.QueryRow("SELECT count(*), coalesce(sum(CASE WHEN n = 1 THEN 1 ELSE 0 END), 0), coalesce(min(n), -1), coalesce(max(n), -1) FROM t").
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
func (d *DB) CheckProgress(t testing.TB, job string, ks KeySet, chunk, failed int) {
	t.Helper()
	got := d.progress(t, job)
	want := ks.Batches(chunk)
	var sum int64
	for i, w := range want {
		r, ok := got[w[0]]
		delete(got, w[0])
		if i == failed {
			if ok {
				t.Errorf("the failed batch %d %s is recorded as done", i, ks.RangeString(w))
			}
			continue
		}
		if !ok {
			t.Errorf("batch %d %s is not recorded", i, ks.RangeString(w))
			continue
		}
		wantRows := int64(min(chunk, len(ks.Keys)-i*chunk))
		if r.hi.Valid != (w[1] != "") || r.hi.String != w[1] || r.rows != wantRows {
			t.Errorf("batch %d at %s: recorded hi %v (valid %v), rows %d; want %s, %d rows",
				i, w[0], r.hi.String, r.hi.Valid, r.rows, ks.RangeString(w), wantRows)
		}
		sum += r.rows
	}
	for lo, r := range got {
		t.Errorf("unexpected batch recorded: lo %s, hi %v, rows %d", lo, r.hi, r.rows)
	}
	wantSum := int64(len(ks.Keys))
	if failed >= 0 {
		wantSum -= int64(min(chunk, len(ks.Keys)-failed*chunk))
	}
	if sum != wantSum {
		t.Errorf("the recorded batches hold %d rows, want %d", sum, wantSum)
	}
}

// KeySet is the keys of a test table, in the databases' key order (both
// compare text bytewise: SQLite's BINARY collation, pgtest's C locale).
type KeySet struct {
	Text bool
	Keys []string // text form
}

// IntKeys returns n increasing keys from 1 with random steps of 1 to 3.
func IntKeys(n int, seed uint64) KeySet {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := make([]string, n)
	k := int64(0)
	for i := range keys {
		k += 1 + r.Int64N(3)
		keys[i] = strconv.FormatInt(k, 10)
	}
	return KeySet{Keys: keys}
}

// TextKeys returns n distinct text keys of 1 to 12 characters, some
// non-ASCII, some with quotes or spaces, sorted bytewise.
func TextKeys(n int, seed uint64) KeySet {
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
	return KeySet{Text: true, Keys: keys}
}

// literal is key i as an SQL literal.
func (ks KeySet) Literal(i int) string {
	if ks.Text {
		return "'" + strings.ReplaceAll(ks.Keys[i], "'", "''") + "'"
	}
	return ks.Keys[i]
}

// batches is the split of ks into batches of chunk Keys: {lo, hi}, hi ""
// for the open end.
func (ks KeySet) Batches(chunk int) [][2]string {
	var out [][2]string
	for i := 0; i < len(ks.Keys); i += chunk {
		hi := ""
		if i+chunk < len(ks.Keys) {
			hi = ks.Keys[i+chunk]
		}
		out = append(out, [2]string{ks.Keys[i], hi})
	}
	return out
}

// rangeString formats a batch as jetmr does: [lo, hi) or [lo, end), text
// keys quoted.
func (ks KeySet) RangeString(b [2]string) string {
	f := func(k string) string {
		if ks.Text {
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

// SlowUpdate is "UPDATE t SET n = n + 1" over the batch's range, made
// slow when the range holds more than over rows: then it sleeps (for
// PostgreSQL) or spins (for SQLite, which has no sleep) for a minute or
// more, until a timeout interrupts it. Smaller ranges run at once. It is
// the batch a migrate job must split to finish.
func SlowUpdate(driver string, over int) string {
	inRange := "id >= $1 AND id < $2"
	count := fmt.Sprintf("(SELECT count(*) FROM t WHERE %s) > %d", inRange, over)
	if driver == "postgres" {
		return fmt.Sprintf("UPDATE t SET n = n + 1 WHERE %s AND (SELECT pg_sleep(CASE WHEN %s THEN 120 ELSE 0 END)::text = '')", inRange, count)
	}
	// A recursive count that takes about a minute, bounded in case the
	// interrupt is lost.
	spin := "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c)"
	return fmt.Sprintf("UPDATE t SET n = n + 1 WHERE %s AND (CASE WHEN %s THEN %s ELSE 1 END) > 0", inRange, count, spin)
}

// CheckChains checks the progress rows of a job whose batches of chunk
// keys of ks may have been split into parts: the rows starting at each
// batch's lo chain from part to part up to the batch's hi, their rows add
// up to the batch's, and no row lies outside a chain. It returns the
// number of batches committed in more than one part.
func (d *DB) CheckChains(t testing.TB, job string, ks KeySet, chunk int) (split int) {
	t.Helper()
	got := d.progress(t, job)
	for i, w := range ks.Batches(chunk) {
		lo, parts, sum := w[0], 0, int64(0)
		for {
			r, ok := got[lo]
			if !ok {
				t.Errorf("batch %d %s: no part recorded at %s", i, ks.RangeString(w), lo)
				break
			}
			delete(got, lo)
			parts++
			sum += r.rows
			if !r.hi.Valid || r.hi.String == w[1] {
				if r.hi.Valid != (w[1] != "") {
					t.Errorf("batch %d %s: its last part at %s ends at %v (valid %v)", i, ks.RangeString(w), lo, r.hi.String, r.hi.Valid)
				}
				break
			}
			lo = r.hi.String
		}
		if want := int64(min(chunk, len(ks.Keys)-i*chunk)); sum != want {
			t.Errorf("batch %d %s: its %d parts hold %d rows, want %d", i, ks.RangeString(w), parts, sum, want)
		}
		if parts > 1 {
			split++
		}
	}
	for lo, r := range got {
		t.Errorf("a part outside every batch's chain: lo %s, hi %v, rows %d", lo, r.hi, r.rows)
	}
	return split
}

// ReadOnlyURL returns the URL of the database for a new role that may
// only connect and read table t (PostgreSQL), or the same URL (SQLite,
// whose file jetmr opens read-only itself when it means to).
func (d *DB) ReadOnlyURL(t testing.TB) string {
	t.Helper()
	if d.Driver != "postgres" {
		return d.URL
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	role := db + "_reader"
	d.Exec(t, fmt.Sprintf(`CREATE ROLE %q LOGIN PASSWORD 'reader'`, role))
	d.Exec(t, fmt.Sprintf(`REVOKE ALL ON DATABASE %q FROM PUBLIC`, db))
	d.Exec(t, fmt.Sprintf(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`))
	d.Exec(t, fmt.Sprintf(`GRANT CONNECT ON DATABASE %q TO %q`, db, role))
	d.Exec(t, fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %q`, role))
	d.Exec(t, fmt.Sprintf(`GRANT SELECT ON t TO %q`, role))
	u.User = url.UserPassword(role, "reader")
	return u.String()
}

// Snapshot describes the database's schema and data: every table, view,
// index and column, and every row of every table, in a stable order; for
// SQLite also the files of the database and a hash of their contents. Two
// snapshots are equal when nothing changed.
func (d *DB) Snapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	if path, ok := strings.CutPrefix(d.URL, "sqlite:"); ok {
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "file %s %x\n", e.Name(), sha256.Sum256(data))
		}
	}
	tables := "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name"
	if d.Driver == "postgres" {
		tables = `SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname || ' ' ||
			coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
				FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`
	}
	names := d.strings(t, tables)
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	list := "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
	if d.Driver == "postgres" {
		list = "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
	}
	for _, table := range d.strings(t, list) {
		dump := "SELECT group_concat(r, char(10)) FROM (SELECT quote(id) || ' ' || quote(n) AS r FROM " + table + " ORDER BY 1)"
		if d.Driver == "postgres" {
			dump = "SELECT coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '') FROM " + table + " r"
		}
		if d.Driver == "sqlite" && table != "t" {
			dump = "SELECT count(*) FROM " + table
		}
		b.WriteString("rows of " + table + ":\n")
		for _, r := range d.strings(t, dump) {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// strings runs a query of one text column and returns its rows.
func (d *DB) strings(t testing.TB, q string) []string {
	t.Helper()
	rows, err := d.Conn.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// progressRow is a row of the progress table.
type progressRow struct {
	hi   sql.NullString
	rows int64
}

// progress reads job's progress rows by their lo; lo is the primary key's
// second half, so a lo recorded twice is an error.
func (d *DB) progress(t testing.TB, job string) map[string]progressRow {
	t.Helper()
	rows, err := d.Conn.Query(`SELECT lo, hi, "rows" FROM jetmr_batches WHERE job = $1`, job)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]progressRow{}
	for rows.Next() {
		var lo string
		var r progressRow
		if err := rows.Scan(&lo, &r.hi, &r.rows); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[lo]; dup {
			t.Errorf("a part at %s recorded twice", lo)
		}
		got[lo] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
