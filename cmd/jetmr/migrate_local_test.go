package main_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/migrate/migratetest"
)

// TestMigrateSQLiteStaysLocal runs a SQLite migration with --nats and
// --local-workers 1 while a jetmr worker with four slots waits on the same
// server: a worker elsewhere would migrate a file of its own machine, so
// every batch runs in the submitting process (the report names one
// worker, which ran them all), the worker leaves the job, jetmr status
// says where its tasks run, and every row is migrated once.
func TestMigrateSQLiteStaysLocal(t *testing.T) {
	t.Parallel()
	url := plainNATS(t)
	w := startWorker(t, url, "-j", "4")
	w.waitUp(t)
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(3000, 21)
	const chunk = 30
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--nats", url, "--local-workers", "1", "--job", "local", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migPlainUpdate, "--chunk-size", strconv.Itoa(chunk), "--report", "run.json")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	d.CheckProgress(t, "local", ks, chunk, -1)
	rep := readReport(t, filepath.Join(dir, "run.json"))
	workers, _ := rep["workers"].([]any)
	batches := len(ks.Batches(chunk))
	if len(workers) != 1 {
		t.Fatalf("the report names %d workers, want the submitting process only: %v", len(workers), workers)
	}
	if n, _ := workers[0].(map[string]any)["tasks"].(float64); n != float64(batches) {
		t.Errorf("the submitting process ran %v batches, want all %d", n, batches)
	}
	eventually(t, runTimeout, "the worker to leave the job", func() (bool, string) {
		return strings.Contains(w.Stderr.String(), "leaving job"), w.Stderr.String()
	})
	if strings.Contains(w.Stderr.String(), "taking tasks of job") {
		t.Errorf("the worker took tasks of the job:\n%s", w.Stderr)
	}
	st := jetmr(t, dir, "status", "--nats", url, "local")
	if st.code != 0 || !strings.Contains(st.stdout, "the process that submitted it only") {
		t.Errorf("jetmr status: exit %d, want 0 and where the tasks run; stdout:\n%s\nstderr:\n%s", st.code, st.stdout, st.stderr)
	}
	w.term(t)
}
