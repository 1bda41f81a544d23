package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetmr/jetmr/migrate/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := pgtest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test PostgreSQL:", err)
	}
	os.Exit(code)
}

// opener gives each call a DB on a fresh, empty database, closed when t
// ends.
type opener func(t *testing.T) DB

func openSQLiteTemp(t *testing.T) DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil { // an empty file is an empty database
		t.Fatal(err)
	}
	db, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var pgDatabases atomic.Int64

func openPostgresTemp(t *testing.T) DB {
	t.Helper()
	srv := pgtest.Shared(t)
	ctx := context.Background()
	url, err := srv.CreateDatabase(ctx, fmt.Sprintf("t%d", pgDatabases.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// exec runs SQL on db directly, outside the package's API.
func exec(t testing.TB, db DB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch d := db.(type) {
	case *sqliteDB:
		_, err = d.db.ExecContext(ctx, sql, args...)
	case *pgDB:
		_, err = d.pool.Exec(ctx, sql, args...)
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// queryInt runs a query returning one integer.
func queryInt(t testing.TB, db DB, sql string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	var err error
	switch d := db.(type) {
	case *sqliteDB:
		err = d.db.QueryRowContext(ctx, sql, args...).Scan(&n)
	case *pgDB:
		err = d.pool.QueryRow(ctx, sql, args...).Scan(&n)
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// insertInts fills table (id, ...) with the given ids, 1000 per statement.
func insertInts(t testing.TB, db DB, table string, ids []int64) {
	t.Helper()
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (id) VALUES ")
		for i, id := range ids[start:end] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%d)", id)
		}
		exec(t, db, b.String())
	}
}

// lockRow holds a write lock that covers the row id of table t until
// release: the whole database on SQLite, the row on PostgreSQL.
func lockRow(t *testing.T, db DB, id int64) (release func()) {
	t.Helper()
	ctx := context.Background()
	switch d := db.(type) {
	case *sqliteDB:
		conn, err := d.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		return func() { conn.ExecContext(ctx, "ROLLBACK"); conn.Close() }
	case *pgDB:
		tx, err := d.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM t WHERE id = $1 FOR UPDATE", id); err != nil {
			t.Fatal(err)
		}
		return func() { tx.Rollback(ctx) }
	}
	t.Fatalf("unknown DB %T", db)
	return nil
}

// sqliteRaw opens the SQLite file of db with database/sql directly, with
// no busy timeout.
func sqliteRaw(t *testing.T, db DB) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", db.(*sqliteDB).path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// pgRaw opens a pgx connection to the database of db.
func pgRaw(t *testing.T, db DB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, db.(*pgDB).pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func timed(t *testing.T, what string) func() {
	start := time.Now()
	return func() { t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) }
}
