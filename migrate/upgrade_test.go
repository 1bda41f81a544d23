package migrate

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/migrate/pgtest"
)

// oldProgressDDL is the progress table of the first layout, keyed by
// (job, lo) alone.
const oldProgressDDL = `CREATE TABLE jetmr_batches (job TEXT NOT NULL, lo TEXT NOT NULL, hi TEXT, "rows" BIGINT NOT NULL, done_at TIMESTAMP NOT NULL, PRIMARY KEY (job, lo))`

// TestUpgradeProgressTable checks that Check upgrades a progress table of
// the first layout: its rows stay, as run "", which a Spec without Run
// finds committed, while a Spec with a Run runs its batch again.
func TestUpgradeProgressTable(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]opener{"sqlite": openSQLiteTemp, "postgres": openPostgresTemp} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := open(t)
			exec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
			insertInts(t, db, "t", []int64{1, 2, 3})
			exec(t, db, oldProgressDDL)
			exec(t, db, `INSERT INTO jetmr_batches VALUES ('j', '1', NULL, 3, '2026-01-01 00:00:00')`)
			old := Spec{Job: "j", Table: "t", Key: "id", SQL: "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"}
			for range 2 { // the second finds it upgraded
				if err := Check(ctx, db, old); err != nil {
					t.Fatal(err)
				}
			}
			if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches WHERE job = 'j' AND run = '' AND lo = '1' AND hi IS NULL AND \"rows\" = 3"); n != 1 {
				t.Fatalf("%d rows of the first layout are left, want 1", n)
			}
			b := Batch{Lo: IntKey(1), Hi: Unbounded(KindInteger)}
			out, err := RunBatch(ctx, db, old, b)
			if err != nil || !out.AlreadyDone {
				t.Errorf("the batch of run \"\": %+v, %v; want already done", out, err)
			}
			fresh := old
			fresh.Run = "r2"
			out, err = RunBatch(ctx, db, fresh, b)
			if err != nil || out.AlreadyDone || out.Rows != 3 {
				t.Errorf("the batch of run r2: %+v, %v; want 3 rows", out, err)
			}
			out, err = RunBatch(ctx, db, fresh, b)
			if err != nil || !out.AlreadyDone {
				t.Errorf("the batch of run r2 again: %+v, %v; want already done", out, err)
			}
			if n := queryInt(t, db, "SELECT sum(n) FROM t"); n != 3 {
				t.Errorf("the rows were changed %d times, want 3", n)
			}
		})
	}
}

// TestUpgradeProgressTableNotOwner checks that a role that may use the
// progress table but not alter it gets bad input naming the statement
// its owner must run.
func TestUpgradeProgressTableNotOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Shared(t)
	owner := openPostgresTemp(t)
	exec(t, owner, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	exec(t, owner, oldProgressDDL)
	roleURL, err := srv.CreateRole(ctx, "jetmr_upgrader", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var dbName string
	if err := owner.(*pgDB).pool.QueryRow(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	exec(t, owner, "GRANT CREATE, USAGE ON SCHEMA public TO jetmr_upgrader")
	exec(t, owner, "GRANT SELECT, UPDATE ON t TO jetmr_upgrader")
	exec(t, owner, "GRANT SELECT, INSERT, UPDATE ON jetmr_batches TO jetmr_upgrader")
	u, err := url.Parse(roleURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbName
	db, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = Check(ctx, db, Spec{Job: "j", Table: "t", Key: "id", SQL: "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "ALTER TABLE jetmr_batches ADD COLUMN run") {
		t.Fatalf("Check = %v, want bad input naming the ALTER TABLE to run", err)
	}
}
