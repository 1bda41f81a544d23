package main_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/migrate/migratetest"
	"github.com/jetmr/jetmr/migrate/pgtest"
)

// The progress rows of a migrate job belong to one run of it: a job ID
// used again for a fresh run (after jetmr discard, from another store, or
// the next night) migrates again, and only a --resume reuses them.

func TestMigrateJobReuse(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	backends := []struct {
		name string
		open func(t *testing.T) *migratetest.DB
	}{
		{"sqlite", migratetest.OpenSQLite},
		{"postgres", migratetest.PostgresOpener(srv)},
	}
	for _, b := range backends {
		t.Run(b.name+"/OtherTable", func(t *testing.T) {
			t.Parallel()
			testMigrateReuseOtherTable(t, b.open(t))
		})
		t.Run(b.name+"/Nightly", func(t *testing.T) {
			t.Parallel()
			testMigrateReuseNightly(t, b.open(t))
		})
		t.Run(b.name+"/OldProgressTable", func(t *testing.T) {
			t.Parallel()
			testMigrateOldProgressTable(t, b.open(t))
		})
	}
}

// createNumbered creates table name (id PRIMARY KEY, n = 0) with ids 1..rows.
func createNumbered(t *testing.T, d *migratetest.DB, name string, rows int) {
	t.Helper()
	d.Exec(t, fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)", name))
	series := "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) SELECT i FROM s"
	if d.Driver == "postgres" {
		series = "SELECT generate_series(1, $1::int)"
	}
	d.Exec(t, fmt.Sprintf("INSERT INTO %s (id) %s", name, series), rows)
}

// migrateOK runs jetmr migrate on table with SQL n = n + 1, and fails the
// test unless it exits 0.
func migrateOK(t *testing.T, d *migratetest.DB, store, id, table string, extra ...string) result {
	t.Helper()
	args := append([]string{"migrate", "--store", store, "--job", id, "--db", d.URL, "--table", table, "--key", "id", "--chunk-size", "100",
		"--sql", fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id >= $1 AND id < $2", table)}, extra...)
	r := jetmr(t, t.TempDir(), args...)
	if r.code != 0 {
		t.Fatalf("jetmr %s: exit status %d, want 0; stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// wantN checks that every row of table has n = want.
func wantN(t *testing.T, d *migratetest.DB, table string, rows int, want int) {
	t.Helper()
	if got := d.Int(t, fmt.Sprintf("SELECT count(*) FROM %s WHERE n = $1", table), want); got != int64(rows) {
		t.Errorf("%d rows of %s have n = %d, want all %d", got, table, want, rows)
	}
}

// testMigrateReuseOtherTable migrates table users as job backfill,
// discards the job, and migrates table orders as backfill: every row of
// orders is migrated, whatever the first run left in the progress table,
// and so it is from another store without a discard.
func testMigrateReuseOtherTable(t *testing.T, d *migratetest.DB) {
	const rows = 1000
	createNumbered(t, d, "users", rows)
	createNumbered(t, d, "orders", rows)
	createNumbered(t, d, "items", rows)
	store := t.TempDir()
	migrateOK(t, d, store, "backfill", "users", "-q")
	if r := jetmr(t, t.TempDir(), "discard", "backfill", "--store", store); r.code != 0 {
		t.Fatalf("discard: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	r := migrateOK(t, d, store, "backfill", "orders", "--report", "orders.json")
	wantN(t, d, "orders", rows, 1)
	wantN(t, d, "users", rows, 1)
	if !strings.Contains(r.stderr, "1,000 rows") && !strings.Contains(r.stderr, "1000 rows") {
		t.Errorf("the summary does not count 1000 rows:\n%s", r.stderr)
	}
	// Another store, same job ID, no discard.
	migrateOK(t, d, t.TempDir(), "backfill", "items", "-q")
	wantN(t, d, "items", rows, 1)
}

// testMigrateReuseNightly runs the same job, on the same table and SQL,
// three times, as a nightly job does (discarding the finished run): each
// run migrates every row once more.
func testMigrateReuseNightly(t *testing.T, d *migratetest.DB) {
	const rows = 500
	createNumbered(t, d, "t", rows)
	store := t.TempDir()
	for night := 1; night <= 3; night++ {
		migrateOK(t, d, store, "nightly", "t", "-q")
		wantN(t, d, "t", rows, night)
		// jetmr status names the run whose rows the night wrote.
		st := jetmr(t, t.TempDir(), "status", "--store", store, "--json", "nightly")
		var js struct {
			Run string `json:"migration_run"`
		}
		if err := json.Unmarshal([]byte(st.stdout), &js); err != nil || js.Run == "" {
			t.Fatalf("jetmr status --json: %v; no migration_run in:\n%s", err, st.stdout)
		}
		if got := d.Int(t, "SELECT count(*) FROM jetmr_batches WHERE job = 'nightly' AND run = $1", js.Run); got != rows/100 {
			t.Errorf("run %s of the status has %d progress rows, want %d", js.Run, got, rows/100)
		}
		text := jetmr(t, t.TempDir(), "status", "--store", store, "nightly")
		if want := "jetmr_batches, job nightly, run " + js.Run; !strings.Contains(text.stdout, want) {
			t.Errorf("jetmr status does not say %q:\n%s", want, text.stdout)
		}
		if r := jetmr(t, t.TempDir(), "discard", "nightly", "--store", store); r.code != 0 {
			t.Fatalf("discard: exit status %d; stderr:\n%s", r.code, r.stderr)
		}
	}
	if got := d.Int(t, "SELECT count(DISTINCT run) FROM jetmr_batches WHERE job = 'nightly'"); got != 3 {
		t.Errorf("the progress rows name %d runs of job nightly, want 3", got)
	}
}

// testMigrateOldProgressTable starts from a progress table of the first
// layout, keyed by (job, lo) alone, holding rows of an earlier run of
// job old: a new run upgrades the table, keeps those rows, and migrates
// every row.
func testMigrateOldProgressTable(t *testing.T, d *migratetest.DB) {
	const rows = 300
	createNumbered(t, d, "t", rows)
	d.Exec(t, `CREATE TABLE jetmr_batches (job TEXT NOT NULL, lo TEXT NOT NULL, hi TEXT, "rows" BIGINT NOT NULL, done_at TIMESTAMP NOT NULL, PRIMARY KEY (job, lo))`)
	d.Exec(t, `INSERT INTO jetmr_batches VALUES ('old', '1', '101', 100, '2026-01-01 00:00:00'), ('old', '101', '201', 100, '2026-01-01 00:00:01'), ('old', '201', NULL, 100, '2026-01-01 00:00:02')`)
	migrateOK(t, d, t.TempDir(), "old", "t", "-q")
	wantN(t, d, "t", rows, 1)
	if got := d.Int(t, "SELECT count(*) FROM jetmr_batches WHERE job = 'old' AND run = ''"); got != 3 {
		t.Errorf("%d rows of the first layout are left, want 3", got)
	}
	if got := d.Int(t, "SELECT count(*) FROM jetmr_batches WHERE job = 'old' AND run <> ''"); got != 3 {
		t.Errorf("the new run recorded %d batches, want 3", got)
	}
}

// TestMigrateHidesPassword checks that a password given in --db, in any
// of its forms, appears nowhere jetmr prints the database: the run's
// output, jetmr status (text and JSON), a dry run, and the refusal of a
// keyword/value connection string.
func TestMigrateHidesPassword(t *testing.T) {
	t.Parallel()
	const secret = "S3cretPW"
	srv := pgtest.Start(t)
	d := migratetest.PostgresOpener(srv)(t)
	createNumbered(t, d, "t", 200)
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	user := u.User.Username()
	// The server trusts local connections: the password is sent and ignored.
	withQuery := *u
	withQuery.User = url.User(user)
	q := withQuery.Query()
	q.Set("password", secret)
	q.Set("sslpassword", secret+"2")
	withQuery.RawQuery = q.Encode()
	withUser := *u
	withUser.User = url.UserPassword(user, secret)
	for _, c := range []struct{ name, db string }{
		{"query", withQuery.String()},
		{"userinfo", withUser.String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			store, id := t.TempDir(), "pw-"+c.name
			args := []string{"--store", store, "--job", id, "--db", c.db, "--table", "t", "--key", "id", "--chunk-size", "50",
				"--sql", "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"}
			runs := []result{jetmr(t, t.TempDir(), append([]string{"migrate", "--dry-run"}, args...)...)}
			runs = append(runs, jetmr(t, t.TempDir(), append([]string{"migrate", "--log-level", "debug"}, args...)...))
			for _, r := range runs {
				if r.code != 0 {
					t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
				}
			}
			if !strings.Contains(runs[0].stdout, "127.0.0.1") || !strings.Contains(runs[0].stdout, "REDACTED") {
				t.Errorf("the dry run does not name the database with its password hidden:\n%s", runs[0].stdout)
			}
			runs = append(runs, jetmr(t, t.TempDir(), "status", "--store", store, id), jetmr(t, t.TempDir(), "status", "--store", store, "--json", id))
			// A failing run prints the dead letter and a hint to resume.
			failing := jetmr(t, t.TempDir(), "migrate", "--store", t.TempDir(), "--job", id+"-fail", "--db", c.db, "--table", "t", "--key", "id",
				"--sql", "UPDATE t SET n = n / 0 WHERE id >= $1 AND id < $2")
			if failing.code != 1 || !strings.Contains(failing.stderr, "--resume --retry-failed") {
				t.Errorf("a failing batch: exit status %d, want 1 and a hint; stderr:\n%s", failing.code, failing.stderr)
			}
			runs = append(runs, failing)
			if !strings.Contains(runs[2].stdout+runs[2].stderr, "REDACTED") {
				t.Errorf("jetmr status does not show the database, its password hidden:\n%s%s", runs[2].stdout, runs[2].stderr)
			}
			for i, r := range runs {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("output %d shows the password:\nstdout:\n%s\nstderr:\n%s", i, r.stdout, r.stderr)
				}
			}
			wantN(t, d, "t", 200, map[string]int{"query": 1, "userinfo": 2}[c.name])
		})
	}
	t.Run("keyword", func(t *testing.T) {
		dsn := fmt.Sprintf("user=%s password=%s host=%s port=%s dbname=%s", user, secret, u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"))
		store := filepath.Join(t.TempDir(), "store")
		r := jetmr(t, t.TempDir(), "migrate", "--store", store, "--db", dsn, "--table", "t", "--key", "id",
			"--sql", "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2")
		if r.code != 2 || strings.Contains(r.stdout+r.stderr, secret) || !strings.Contains(r.stderr, "postgres://USER:PASSWORD@HOST") {
			t.Errorf("exit status %d, want 2 and a message naming the URL form without the password; stderr:\n%s", r.code, r.stderr)
		}
		if _, err := os.Stat(store); !os.IsNotExist(err) {
			t.Errorf("the store %s was created for a refused job", store)
		}
	})
}

// TestMigrateHaltCounts fails one batch of a migration under --halt
// now,fail=1 with two slots: the message says how many batches committed
// and how many rows, as the progress table records them, the summary
// counts those rows, and the resume it prints, run once the bad row is
// fixed, migrates every other row exactly once.
func TestMigrateHaltCounts(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	for _, b := range []struct {
		name string
		open func(t *testing.T) *migratetest.DB
	}{{"sqlite", migratetest.OpenSQLite}, {"postgres", migratetest.PostgresOpener(srv)}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const rows = 2000
			d := b.open(t)
			d.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n < 5))")
			series := "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000) SELECT i FROM s"
			if d.Driver == "postgres" {
				series = "SELECT generate_series(1, 2000)"
			}
			d.Exec(t, "INSERT INTO t (id) "+series)
			d.Exec(t, "UPDATE t SET n = 4 WHERE id = 150") // n + 1 = 5 violates the CHECK
			dir, store := t.TempDir(), t.TempDir()
			r := jetmr(t, dir, "migrate", "--store", store, "--job", "hs2", "--db", d.URL, "--table", "t", "--key", "id", "--chunk-size", "100",
				"-j", "2", "--halt", "now,fail=1", "--sql", "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2")
			if r.code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			batches := d.Int(t, "SELECT count(*) FROM jetmr_batches WHERE job = 'hs2'")
			committed := d.Int(t, `SELECT coalesce(sum("rows"), 0) FROM jetmr_batches WHERE job = 'hs2'`)
			if changed := d.Int(t, "SELECT count(*) FROM t WHERE id <> 150 AND n <> 0"); changed != committed {
				t.Errorf("%d rows changed, but the progress table records %d", changed, committed)
			}
			// The halt stops the batches not started when the failing one
			// has been bisected; on a quick machine every other batch may
			// have committed by then, and nothing is halted. Either way the
			// message and the summary say what the database holds.
			want := fmt.Sprintf("jetmr: job hs2: 1 batch(es) failed and --halt now stopped the job: %d batch(es) had committed (%d rows) when it stopped, no other batch had", batches, committed)
			summary := fmt.Sprintf("; %d rows; halted (--halt now)", committed)
			if !strings.Contains(r.stderr, "halted (--halt now)") {
				if batches != rows/100-1 {
					t.Errorf("not halted, but %d batches committed, want all %d others", batches, rows/100-1)
				}
				want, summary = "jetmr: job hs2: 1 batch(es) failed; the other batches committed", fmt.Sprintf("; %d rows\n", committed)
			}
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
			if !strings.Contains(r.stderr, summary) {
				t.Errorf("the summary does not count the %d rows committed (%q):\n%s", committed, summary, r.stderr)
			}
			hint := hintAfter(r.stderr, "run the failed tasks again, once fixed, with:")
			if hint == "" || !strings.Contains(hint, "--resume --retry-failed") {
				t.Fatalf("no resume hint; stderr:\n%s", r.stderr)
			}
			d.Exec(t, "UPDATE t SET n = 0 WHERE id = 150")
			if rr := runHint(t, dir, hint); rr.code != 0 {
				t.Fatalf("the hint %s: exit status %d; stderr:\n%s", hint, rr.code, rr.stderr)
			}
			wantN(t, d, "t", rows, 1)
		})
	}
}

// TestMigratePipelineRerun runs a pipeline with a migrate stage, discards
// it, and runs it again under the same ID: the second run migrates every
// row again.
func TestMigratePipelineRerun(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	createNumbered(t, d, "t", 500)
	dir, store := t.TempDir(), t.TempDir()
	writeJobFile(t, dir, `
stages:
  - name: bump
    migrate: {db: "`+d.URL+`", table: t, key: id, chunk_size: 100, sql: "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"}
`)
	for run := 1; run <= 2; run++ {
		if r := jetmr(t, dir, "pipeline", "--store", store, "--job", "prerun", "job.yaml"); r.code != 0 {
			t.Fatalf("run %d: exit status %d; stderr:\n%s", run, r.code, r.stderr)
		}
		wantN(t, d, "t", 500, run)
		if r := jetmr(t, dir, "discard", "prerun", "--store", store); r.code != 0 {
			t.Fatalf("discard: exit status %d; stderr:\n%s", r.code, r.stderr)
		}
	}
}
