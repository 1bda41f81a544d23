package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/migrate/migratetest"
)

// migSkipSetup fills d with the keys of ks, CHECK (n < 2), and presets
// n = 1 on the rows at the indexes bad: migUpdate fails on them alone.
// It returns their keys.
func migSkipSetup(t *testing.T, d *migratetest.DB, ks migratetest.KeySet, bad ...int) []string {
	t.Helper()
	d.CreateTable(t, ks, true)
	var keys []string
	for _, i := range bad {
		keys = append(keys, ks.Keys[i])
		d.Exec(t, "UPDATE t SET n = 1 WHERE id = "+ks.Keys[i])
	}
	return keys
}

// migRows lists the rows of t but those whose keys are in skip, in key
// order, as "id n".
func migRows(t *testing.T, d *migratetest.DB, skip []string) string {
	t.Helper()
	q := "SELECT id, n FROM t"
	if len(skip) > 0 {
		q += " WHERE id NOT IN (" + strings.Join(skip, ",") + ")"
	}
	rows, err := d.Conn.Query(q + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strconv.FormatInt(id, 10) + " " + strconv.FormatInt(n, 10) + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// rejectedKeys reads the keys of a migrate job's rejects file, sorted,
// checking that each line names the database's error.
func rejectedKeys(t *testing.T, path, violation string) []string {
	t.Helper()
	var keys []string
	for _, r := range readRejects(t, path) {
		k, _ := r["key"].(string)
		if e, _ := r["error"].(string); !strings.Contains(e, violation) {
			t.Errorf("reject of key %s has error %q, want the database's %q", k, e, violation)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testMigrateSkip migrates a table with four rows the SQL fails on (two
// in one batch, one the table's largest key) with --skip-bad-records 3:
// the job fails for the one key over the limit and prints the command
// that raises it; that command, run as printed, completes with exit 0
// and a warning. Every other row is migrated exactly once, as a
// migration of a copy of the table without those rows (clean) leaves
// them, the bad rows are untouched, and the rejects file names each key
// once with the database's error.
func testMigrateSkip(t *testing.T, d, clean *migratetest.DB, violation string) {
	ks := migratetest.IntKeys(3000, 13)
	const chunk = 500
	bad := migSkipSetup(t, d, ks, 10, 1234, 1240, len(ks.Keys)-1)
	clean.CreateTable(t, ks, true)
	clean.Exec(t, "DELETE FROM t WHERE id IN ("+strings.Join(bad, ",")+")")

	dir, store := t.TempDir(), t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", store, "--job", "skip", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "2", "--retries", "0",
		"--skip-bad-records", "3", "--rejects", "rej.jsonl")
	if r.code != 1 || !strings.Contains(r.stderr, "more than --skip-bad-records 3") {
		t.Fatalf("exit %d, want 1 naming the limit; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "rej.jsonl")); err == nil {
		t.Errorf("a rejects file was written by a job that failed")
	}
	line := hintAfter(r.stderr, "raise the limit and run the refused tasks again with:")
	if line == "" || !strings.Contains(line, "--skip-bad-records 4") || !strings.Contains(line, "--retry-failed") {
		t.Fatalf("no command raising the limit to 4 printed:\n%s", r.stderr)
	}
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: 4 bad record(s) left out of the migration (--skip-bad-records), first key "+bad[0]+";") {
		t.Errorf("no warning counting the 4 keys left out and naming the first:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "split after timeouts") {
		t.Errorf("batches cut around skipped keys counted as split after timeouts:\n%s", r.stderr)
	}
	want := slices.Clone(bad)
	sort.Strings(want)
	if got := rejectedKeys(t, filepath.Join(dir, "rej.jsonl"), violation); !slices.Equal(got, want) {
		t.Errorf("rejected keys %v, want %v, each once", got, want)
	}

	r = jetmr(t, t.TempDir(), "migrate", "--store", t.TempDir(), "--job", "skip", "--db", clean.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "2")
	if r.code != 0 {
		t.Fatalf("the migration of the copy without the bad rows: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got, want := migRows(t, d, bad), migRows(t, clean, nil); got != want {
		t.Errorf("the rows but the skipped ones differ from a migration of the table without them")
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows do not have n = 1: a row migrated twice, or not at all, or a bad row changed", n)
	}
}

// testMigrateSkipCrash SIGKILLs a migration with a bad row in every batch
// after a batch committed but before its result was stored, and resumes
// it: the resume completes, every row is migrated once, and the rejects
// file names each bad key exactly once.
func testMigrateSkipCrash(t *testing.T, d *migratetest.DB, violation string) {
	ks := migratetest.IntKeys(2000, 14)
	const chunk = 500
	bad := migSkipSetup(t, d, ks, 100, 600, 1100, 1600)
	dir := t.TempDir()
	args := []string{"migrate", "--store", filepath.Join(dir, "store"), "--job", "skipcrash", "--db", d.URL,
		"--table", "t", "--key", "id", "--sql", migUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "2",
		"--skip-bad-records", "4", "--rejects", "rej.jsonl"}
	res := killAtThenResume(t, dir, "task.processed:2", args, nil)
	if res.hung || res.code != 0 {
		t.Fatalf("resume after a crash: exit %d (hung: %v); stderr:\n%s", res.code, res.hung, res.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	want := slices.Clone(bad)
	sort.Strings(want)
	if got := rejectedKeys(t, filepath.Join(dir, "rej.jsonl"), violation); !slices.Equal(got, want) {
		t.Errorf("rejected keys %v, want %v, each once", got, want)
	}
}

// TestMigrateRejectsIsTheDatabase checks that --rejects naming the SQLite
// file the job migrates is refused with exit 2, even with --force, and
// the database is left as it was.
func TestMigrateRejectsIsTheDatabase(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	d.CreateTable(t, migratetest.IntKeys(100, 15), false)
	before := d.Snapshot(t)
	path := strings.TrimPrefix(d.URL, "sqlite:")
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", filepath.Join(t.TempDir(), "store"), "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--skip-bad-records", "1", "--rejects", path, "--force")
	checkRefused(t, dir, r, []string{"--rejects " + path + " is the database"})
	if after := d.Snapshot(t); after != before {
		t.Errorf("the database changed:\n%s\n---\n%s", before, after)
	}
}
