package migrate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/migrate/pgtest"
)

func TestOpenBadURL(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"mysql://u:secret@h/db", "nonsense", "", "file:/tmp/x.db", "postgres://u:secret@h:notaport/db"} {
		db, err := Open(ctx, url)
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("Open(%q) = %v, want ErrBadInput", url, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): the message shows the password: %v", url, err)
		}
		if !strings.HasPrefix(url, "postgres") && !strings.Contains(err.Error(), "sqlite:PATH") {
			t.Errorf("Open(%q): %v does not list the accepted forms", url, err)
		}
	}
}

func TestOpenSQLiteMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.db")
	for _, url := range []string{"sqlite:" + path, "sqlite://" + path} {
		_, err := Open(context.Background(), url)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Open(%q) = %v, want ErrBadInput: does not exist", url, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the missing database: %v", err)
	}
	_, err := Open(context.Background(), "sqlite:"+dir)
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("Open of a directory = %v, want ErrBadInput", err)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("this is not a database\n", 100)), 0o644)
	_, err = Open(context.Background(), "sqlite:"+junk)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Errorf("Open of a text file = %v, want ErrBadInput: not a SQLite database", err)
	}
}

func TestOpenSQLiteOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c#d%20.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Errorf("the table went elsewhere than %s: %v", path, err)
	}
	if mode := queryString(t, db, "PRAGMA journal_mode"); mode != "wal" {
		t.Errorf("journal_mode = %s, want wal", mode)
	}
	if fk := queryInt(t, db, "PRAGMA foreign_keys"); fk != 1 {
		t.Errorf("foreign_keys = %d, want 1", fk)
	}
	if ms := queryInt(t, db, "PRAGMA busy_timeout"); ms != sqliteBusyTimeout.Milliseconds() {
		t.Errorf("busy_timeout = %d, want %d", ms, sqliteBusyTimeout.Milliseconds())
	}
}

func queryString(t *testing.T, db DB, sql string) string {
	t.Helper()
	var s string
	if err := db.(*sqliteDB).db.QueryRowContext(context.Background(), sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenPostgresUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = Open(context.Background(), fmt.Sprintf("postgres://u:secret@127.0.0.1:%d/db?sslmode=disable", port))
	d := time.Since(start)
	if !errors.Is(err, ErrUnreachable) || !Retriable(err) {
		t.Fatalf("Open of a closed port = %v, want ErrUnreachable", err)
	}
	if d > 5*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the message shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "check that the server is running") {
		t.Errorf("the message names no fix: %v", err)
	}
	t.Logf("after %v: %v", d.Round(time.Millisecond), err)
}

func TestOpenPostgresAuth(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	url, err := srv.CreateRole(ctx, "jetmr_pw", "right-password")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	db.Close()

	wrong := strings.Replace(url, "right-password", "wrong-password", 1)
	start := time.Now()
	_, err = Open(ctx, wrong)
	if !errors.Is(err, ErrUnreachable) || Retriable(err) {
		t.Fatalf("Open with a wrong password = %v (Retriable %v), want ErrUnreachable, not retriable", err, Retriable(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
	if strings.Contains(err.Error(), "wrong-password") || !strings.Contains(err.Error(), `"jetmr_pw"`) || !strings.Contains(err.Error(), "check the user name and password") {
		t.Errorf("message %q: want the user and the fix, without the password", err)
	}
	t.Logf("wrong password: %v", err)

	_, err = Open(ctx, srv.DatabaseURL("no_such_db"))
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `no database "no_such_db"`) {
		t.Errorf("Open of a missing database = %v, want ErrBadInput naming it", err)
	}
}

// TestPostgresServerGone runs a batch, stops the server, and expects the
// next batch and the next split to fail as unreachable and retriable.
func TestPostgresServerGone(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	db, err := Open(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", gappyKeys(100, 9))
	spec := Spec{Job: "gone", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 50)
	if _, err := RunBatch(ctx, db, spec, batches[0]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = RunBatch(ctx, db, spec, batches[1])
	var be *BatchError
	if !errors.Is(err, ErrUnreachable) || !Retriable(err) || !errors.As(err, &be) {
		t.Errorf("RunBatch with the server gone: %v; want a retriable BatchError wrapping ErrUnreachable", err)
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	err = Batches(ctx, db, Spec{Job: "gone", Table: "t", Key: "id2"}, 50, func(Batch) error { return nil })
	if !errors.Is(err, ErrUnreachable) || !Retriable(err) {
		t.Errorf("Batches with the server gone: %v; want ErrUnreachable", err)
	}
}

// TestOpenReadOnlySQLite opens, read-only, a SQLite database in each
// journal mode, the WAL one a migration leaves behind: Check and Batches
// work, no batch runs, and the database file does not change. In WAL mode
// a reader needs the -wal and -shm files: they may appear, the -wal one
// empty.
func TestOpenReadOnlySQLite(t *testing.T) {
	for _, wal := range []bool{false, true} {
		t.Run(fmt.Sprintf("wal=%v", wal), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openSQLiteTemp(t) // opened read-write: WAL mode
			path := db.(*sqliteDB).path
			exec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
			insertInts(t, db, "t", gappyKeys(100, 7))
			if !wal {
				exec(t, db, "PRAGMA journal_mode = DELETE")
			}
			db.Close() // the last connection: the -wal and -shm files go
			files := func() map[string]string {
				out := map[string]string{}
				entries, err := os.ReadDir(filepath.Dir(path))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					data, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					out[e.Name()] = string(data)
				}
				return out
			}
			before := files()

			ro, err := OpenReadOnly(ctx, "sqlite:"+path)
			if err != nil {
				t.Fatal(err)
			}
			spec := Spec{Job: "ro", Table: "t", Key: "id", SQL: updateSQL}
			if err := Check(ctx, ro, spec); err != nil {
				t.Fatal(err)
			}
			batches := collect(t, ro, spec, 30)
			if len(batches) != 4 {
				t.Errorf("%d batches, want 4", len(batches))
			}
			if _, err := RunBatch(ctx, ro, spec, batches[0]); !errors.Is(err, errReadOnly) {
				t.Errorf("RunBatch on a read-only DB: %v, want errReadOnly", err)
			}
			if err := ro.Close(); err != nil {
				t.Fatal(err)
			}
			for name, data := range files() {
				old, ok := before[name]
				switch {
				case ok && data != old:
					t.Errorf("%s changed", name)
				case !ok && wal && name == filepath.Base(path)+"-wal" && data == "":
				case !ok && wal && name == filepath.Base(path)+"-shm":
				case !ok:
					t.Errorf("%s appeared (%d bytes)", name, len(data))
				}
			}
		})
	}
}

// TestOpenReadOnlyPostgres: the sessions of a read-only DB refuse writes
// even from a role that may write.
func TestOpenReadOnlyPostgres(t *testing.T) {
	ctx := context.Background()
	url, err := pgtest.Shared(t).CreateDatabase(ctx, fmt.Sprintf("ro%d", pgDatabases.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.(*pgDB).pool.Exec(ctx, "CREATE TABLE t (id BIGINT)")
	if code, _ := pgCode(err); code != "25006" { // read_only_sql_transaction
		t.Errorf("CREATE TABLE on a read-only DB: %v, want SQLSTATE 25006", err)
	}
}
