package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the tests' own queries
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/memory"
	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/migrate/migratetest"
	"github.com/jetmr/jetmr/migrate/pgtest"
)

// jetmr migrate through the binary, against real databases: SQLite files
// and a throwaway PostgreSQL (pgtest), with one suite for both.

// migUpdate is the non-idempotent statement of the tests: a row touched
// twice would end with n = 2.
const migUpdate = "UPDATE t SET n = n + 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)"

// migSlowUpdate is migUpdate with a 20 ms sleep per batch, so that kills
// land mid-migration. A CTE referenced by the UPDATE runs once per
// statement (pg_sleep is volatile, so it is not inlined).
const migSlowUpdate = "WITH pause AS (SELECT pg_sleep(0.02)) UPDATE t SET n = n + 1 FROM pause WHERE id >= $1 AND ($2 IS NULL OR id < $2)"

// migBackend is a kind of database the suite runs on.
type migBackend struct {
	open func(t *testing.T) *migratetest.DB
	// crashRows and crashSQL make the table and the statement of the
	// crash tests; crashDelay bounds the random moment of each kill.
	crashRows  int
	crashSQL   string
	crashDelay time.Duration
	// checkViolation is in the database's error for a CHECK violation.
	checkViolation string
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	// The jetmr binary is built without -race, but this test process fills
	// the tables with SQLite in pure Go, which is slow under -race: 20,000
	// rows there, 100,000 without it.
	rows, delay := 100_000, 3*time.Second
	if migratetest.RaceEnabled() {
		rows, delay = 20_000, time.Second
	}
	migrateCLISuite(t, migBackend{
		open: migratetest.OpenSQLite, crashRows: rows, crashSQL: migUpdate, crashDelay: delay,
		checkViolation: "CHECK constraint failed",
	})
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	migrateCLISuite(t, migBackend{
		open: migratetest.PostgresOpener(srv), crashRows: 100_000, crashSQL: migSlowUpdate, crashDelay: 1500 * time.Millisecond,
		checkViolation: "violates check constraint",
	})
}

func migrateCLISuite(t *testing.T, b migBackend) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("CrashResume/seed-%d", seed), func(t *testing.T) {
			t.Parallel()
			testMigrateCrash(t, b, seed)
		})
	}
	// Deterministic crashes at the named steps of the protocol (see
	// internal/crashpoint): after a write-ahead split cursor, after a
	// batch committed in the database but before its result was
	// published, after the result, after a task was stored.
	for _, point := range []string{"split.checkpointed:2", "split.checkpointed:8", "task.processed:3", "task.published:3", "task.stored:5"} {
		t.Run("CrashPoint/"+point, func(t *testing.T) {
			t.Parallel()
			testMigrateCrashPoint(t, b.open(t), point)
		})
	}
	// A crash after the first, or third, part of a split batch committed.
	for _, point := range []string{"batch.part.committed:1", "batch.part.committed:3"} {
		t.Run("SplitCrash/"+point, func(t *testing.T) {
			t.Parallel()
			testMigrateSplitCrash(t, b.open(t), point)
		})
	}
	t.Run("FailingBatch", func(t *testing.T) {
		t.Parallel()
		testMigrateFailingBatch(t, b.open(t), b.checkViolation)
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		testMigrateBadInput(t, b.open(t))
	})
	t.Run("SkipBadRecords", func(t *testing.T) {
		t.Parallel()
		testMigrateSkip(t, b.open(t), b.open(t), b.checkViolation)
	})
	t.Run("SkipBadRecordsCrash", func(t *testing.T) {
		t.Parallel()
		testMigrateSkipCrash(t, b.open(t), b.checkViolation)
	})
	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		testMigrateDryRun(t, b.open(t))
	})
	t.Run("MaxRate", func(t *testing.T) {
		t.Parallel()
		testMigrateMaxRate(t, b.open(t))
	})
	// The shape of SQL a user writes first, every batch's $2 a real key:
	// 100,137 rows in batches of 500, the last one partial.
	rows := 100_137
	if migratetest.RaceEnabled() {
		rows = 20_137 // the test's own SQLite inserts are slow under -race
	}
	for _, ks := range []migratetest.KeySet{migratetest.IntKeys(rows, 11), migratetest.TextKeys(rows/4, 12)} {
		name := "PlainRange/integer"
		if ks.Text {
			name = "PlainRange/text"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigratePlainRange(t, b.open(t), ks)
		})
	}
	t.Run("UnchangedBatches", func(t *testing.T) {
		t.Parallel()
		testMigrateUnchanged(t, b.open(t))
	})
	t.Run("NullKeys", func(t *testing.T) {
		t.Parallel()
		testMigrateNullKeys(t, b.open(t))
	})
	t.Run("BadPauseWhen", func(t *testing.T) {
		t.Parallel()
		testMigrateBadPauseWhen(t, b.open(t))
	})
	t.Run("PauseWhen", func(t *testing.T) {
		t.Parallel()
		testMigratePauseWhen(t, b.open(t))
	})
}

// testMigrateBadPauseWhen checks exit status 2, before anything starts,
// for a --pause-when query that fails or does not return one boolean:
// one line naming the query and the fix.
func testMigrateBadPauseWhen(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(100, 14)
	d.CreateTable(t, ks, false)
	for _, c := range []struct{ name, query, mention string }{
		{"syntax error", "SELEC true", "SELEC true"},
		{"missing table", "SELECT busy FROM no_such_table", "no_such_table"},
		{"text", "SELECT 'busy'", "not a boolean"},
		{"two columns", "SELECT n = 0, n = 1 FROM t WHERE id = " + ks.Keys[0], "returns 2 columns"},
		{"no row", "SELECT n = 0 FROM t WHERE id < 0", "returned 0 rows"},
		{"many rows", "SELECT n = 0 FROM t", "returned 100 rows"},
		{"NULL", "SELECT NULL = 1", "returned NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			r := jetmr(t, t.TempDir(), "migrate", "--store", store, "--db", d.URL, "--table", "t", "--key", "id",
				"--sql", migPlainUpdate, "--pause-when", c.query)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetmr: ") || !strings.Contains(lines[0], c.mention) ||
				!strings.Contains(lines[0], fmt.Sprintf("--pause-when %q", c.query)) {
				t.Errorf("stderr is %d lines, want one naming --pause-when %q and %q:\n%s", len(lines), c.query, c.mention, r.stderr)
			}
			if !strings.Contains(lines[0], "one row of one boolean column") {
				t.Errorf("stderr does not say what the query must return:\n%s", r.stderr)
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("the store %s was created for a rejected job", store)
			}
			if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
				t.Errorf("%d rows changed", n)
			}
		})
	}
}

// testMigratePauseWhen holds a migration with a --pause-when query that
// is true: the progress line and the log say so, and nothing runs, until
// the query turns false; then every row is migrated once.
func testMigratePauseWhen(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(1000, 15)
	d.CreateTable(t, ks, false)
	d.Exec(t, "CREATE TABLE gate (paused BOOLEAN NOT NULL)")
	d.Exec(t, "INSERT INTO gate VALUES (true)")
	const query = "SELECT paused FROM gate"
	p := startWatched(t, t.TempDir(), "migrate", "--store", t.TempDir(), "--job", "paused", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migPlainUpdate, "--chunk-size", "100", "--pause-when", query, "--progress", "--log-level", "info")
	line := fmt.Sprintf("jetmr: job paused: paused: --pause-when %q is true; 0/", query)
	eventually(t, 30*time.Second, "a progress line saying the job is paused", func() (bool, string) {
		if p.Exited() {
			t.Fatalf("jetmr exited with status %d while paused; stderr:\n%s", p.Code(), p.Stderr.String())
		}
		for _, l := range p.Stderr.Lines() {
			if strings.HasPrefix(l, line) {
				return true, ""
			}
		}
		return false, "stderr:\n" + p.Stderr.String()
	})
	if !strings.Contains(p.Stderr.String(), "paused: --pause-when is true") {
		t.Errorf("no log line says the job is paused; stderr:\n%s", p.Stderr.String())
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
		t.Errorf("%d rows changed while paused", n)
	}
	d.Exec(t, "UPDATE gate SET paused = false")
	if code := p.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.Stderr.String())
	}
	if !strings.Contains(p.Stderr.String(), "batches start again") {
		t.Errorf("no log line says the pause ended; stderr:\n%s", p.Stderr.String())
	}
	d.CheckAllOnce(t, len(ks.Keys))
}

// TestMigrateMemFree checks that a --memfree above the machine's memory
// is refused with exit status 2 before anything starts, that the smaller
// value the message suggests runs, and that a --memfree the machine never
// has free shows as a pause in the progress line.
func TestMigrateMemFree(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(300, 16)
	d.CreateTable(t, ks, false)
	args := func(store, job, memfree string) []string {
		return []string{"migrate", "--store", store, "--job", job, "--db", d.URL, "--table", "t", "--key", "id",
			"--sql", migPlainUpdate, "--chunk-size", "100", "--memfree", memfree}
	}
	store := filepath.Join(t.TempDir(), "store")
	r := jetmr(t, t.TempDir(), args(store, "too-much", "1000TiB")...)
	if r.code != 2 {
		t.Fatalf("--memfree 1000TiB: exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	hint := regexp.MustCompile(`e\.g\. --memfree (\d+MiB)$`).FindStringSubmatch(strings.TrimSpace(r.stderr))
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--memfree 1000 TiB is more than") || hint == nil {
		t.Fatalf("stderr should be one line naming --memfree and a value to give instead:\n%s", r.stderr)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("the store %s was created for a rejected job", store)
	}
	if r = jetmr(t, t.TempDir(), args(t.TempDir(), "hinted", hint[1])...); r.code != 0 {
		t.Fatalf("--memfree %s, as suggested: exit status %d; stderr:\n%s", hint[1], r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))

	// All of the memory: never free, so the job waits, and says why.
	total, err := memory.Total()
	if err != nil {
		t.Fatal(err)
	}
	p := startWatched(t, t.TempDir(), append(args(t.TempDir(), "waiting", strconv.FormatInt(total, 10)), "--progress", "--log-level", "warn")...)
	eventually(t, 30*time.Second, "a progress line saying the job waits for memory", func() (bool, string) {
		if p.Exited() {
			t.Fatalf("jetmr exited with status %d while waiting for memory; stderr:\n%s", p.Code(), p.Stderr.String())
		}
		for _, l := range p.Stderr.Lines() {
			if strings.HasPrefix(l, "jetmr: job waiting: paused: --memfree ") && strings.Contains(l, " available; 0/") {
				return true, ""
			}
		}
		return false, "stderr:\n" + p.Stderr.String()
	})
	if !strings.Contains(p.Stderr.String(), "paused: waiting for --memfree") {
		t.Errorf("no log line says the job waits for memory; stderr:\n%s", p.Stderr.String())
	}
}

// migPlainUpdate is the statement a user writes first: the batch's range
// as a half-open interval, with no special case for the last batch.
const migPlainUpdate = "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"

// testMigratePlainRange runs migPlainUpdate over the keys of ks in batches
// of 500: every row, those of the last batch included, is updated exactly
// once, and no batch is reported as having changed nothing.
func testMigratePlainRange(t *testing.T, d *migratetest.DB, ks migratetest.KeySet) {
	const chunk = 500
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", t.TempDir(), "--job", "plain", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migPlainUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "4", "--report", "run.json")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	d.CheckProgress(t, "plain", ks, chunk, -1)
	rep := readReport(t, filepath.Join(dir, "run.json"))
	if rows, _ := rep["rows"].(float64); rows != float64(len(ks.Keys)) {
		t.Errorf("the report counts %v rows, want %d", rep["rows"], len(ks.Keys))
	}
	if rep["batches_unchanged"] != nil || strings.Contains(r.stderr, "changed 0") {
		t.Errorf("batches reported unchanged (report: %v); stderr:\n%s", rep["batches_unchanged"], r.stderr)
	}
}

// testMigrateUnchanged runs SQL whose WHERE swaps $1 and $2, so that no
// batch changes a row: the run says so on stderr and in its report,
// naming a batch, its rows and the likely cause.
func testMigrateUnchanged(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(1000, 13)
	const chunk = 300
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", t.TempDir(), "--job", "swapped", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", "UPDATE t SET n = n + 1 WHERE id >= $2 AND id < $1", "--chunk-size", strconv.Itoa(chunk), "-j", "2", "--report", "run.json")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	want := ks.Batches(chunk)
	first := fmt.Sprintf("batch %s holds %d rows but the SQL changed 0", ks.RangeString(want[0]), chunk)
	var warnings []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "jetmr: warning: ") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], fmt.Sprintf("%d batches", len(want))) ||
		!strings.Contains(warnings[0], "does its WHERE use $1 and $2 as documented") {
		t.Errorf("warnings on stderr: %q; want one counting %d batches and naming the likely cause; stderr:\n%s", warnings, len(want), r.stderr)
	}
	rep := readReport(t, filepath.Join(dir, "run.json"))
	if n, _ := rep["batches_unchanged"].(float64); n != float64(len(want)) {
		t.Errorf("the report counts %v unchanged batches, want %d", rep["batches_unchanged"], len(want))
	}
	examples, _ := rep["unchanged_batches"].([]any)
	found := false
	for _, e := range examples {
		found = found || e == first
	}
	if !found {
		t.Errorf("the report's unchanged batches %q do not hold %q", examples, first)
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
		t.Errorf("%d rows changed", n)
	}
}

// testMigrateNullKeys: rows whose key is NULL are in no key range, so no
// batch migrates them; the dry run, the summary and the report say how
// many, instead of an exit 0 that reads as "every row done".
func testMigrateNullKeys(t *testing.T, d *migratetest.DB) {
	d.Exec(t, "CREATE TABLE u (id INTEGER, n INTEGER NOT NULL DEFAULT 0)")
	for i := 1; i <= 50; i++ {
		d.Exec(t, fmt.Sprintf("INSERT INTO u (id) VALUES (%d)", i))
	}
	for range 3 {
		d.Exec(t, "INSERT INTO u (id) VALUES (NULL)")
	}
	args := []string{"migrate", "--store", t.TempDir(), "--db", d.URL, "--table", "u", "--key", "id",
		"--sql", "UPDATE u SET n = n + 1 WHERE id >= $1 AND id < $2", "--chunk-size", "20"}
	dry := jetmr(t, t.TempDir(), append(args, "--dry-run")...)
	if dry.code != 0 || !strings.Contains(dry.stdout+dry.stderr, "3 rows have a NULL id") {
		t.Errorf("dry run: exit %d, want 0 and a warning counting 3 NULL keys; stdout:\n%s\nstderr:\n%s", dry.code, dry.stdout, dry.stderr)
	}
	dir := t.TempDir()
	r := jetmr(t, dir, append(args, "--report", "run.json")...)
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "jetmr: warning: 3 rows have a NULL id, which no batch covers") {
		t.Errorf("no warning counting the 3 NULL keys; stderr:\n%s", r.stderr)
	}
	if n, _ := readReport(t, filepath.Join(dir, "run.json"))["null_key_rows"].(float64); n != 3 {
		t.Errorf("the report counts %v rows with a NULL key, want 3", n)
	}
	if n := d.Int(t, "SELECT count(*) FROM u WHERE n = 1"); n != 50 {
		t.Errorf("%d rows migrated once, want the 50 with a key", n)
	}
}

// testMigrateCrash SIGKILLs jetmr migrate at random moments and resumes
// it until it completes: every row must be touched exactly once, and the
// progress table must hold exactly one row per batch.
func testMigrateCrash(t *testing.T, b migBackend, seed uint64) {
	d := b.open(t)
	ks := migratetest.IntKeys(b.crashRows, seed)
	d.CreateTable(t, ks, false)
	chunk := b.crashRows / 200
	if d.Driver == "sqlite" {
		chunk = b.crashRows / 500 // SQLite batches are quicker: more of them
	}
	dir := t.TempDir()
	args := []string{"migrate", "--store", filepath.Join(dir, "store"), "--job", "crash", "--db", d.URL,
		"--table", "t", "--key", "id", "--sql", b.crashSQL, "--chunk-size", strconv.Itoa(chunk), "-j", "4", "--report", "run.json"}
	r := rand.New(rand.NewPCG(seed, 42))
	start := time.Now()
	n := migrateUntilDone(t, d, ks, chunk, dir, r, b.crashDelay, args)
	took := time.Since(start).Round(time.Millisecond)
	// The last run's report says how much the killed runs had done: tasks
	// they committed, and batches committed in the database whose results
	// they did not get to merge (run again, found done).
	if _, err := os.Stat(filepath.Join(dir, "run.json")); err == nil {
		rep := readReport(t, filepath.Join(dir, "run.json"))
		// Results of earlier runs are replayed, so rows covers the whole
		// job, except the batches found done: their rows count as 0.
		rows, _ := rep["rows"].(float64)
		found, _ := rep["batches_already_done"].(float64)
		if rows > float64(len(ks.Keys)) || rows < float64(len(ks.Keys))-found*float64(chunk) {
			t.Errorf("the last run reports %v rows with %v batches found done, want %d rows less at most %v batches of %d",
				rows, found, len(ks.Keys), found, chunk)
		}
		t.Logf("%s: %d rows in %d batches completed after %d kills, in %v; the last run: %v tasks already committed, %v batches found done in the database, %v rows",
			d.Driver, len(ks.Keys), len(ks.Batches(chunk)), n, took, rep["already_committed"], rep["batches_already_done"], rep["rows"])
	} else {
		t.Logf("%s: %d rows in %d batches completed after %d kills, in %v (the last run found the job complete)", d.Driver, len(ks.Keys), len(ks.Batches(chunk)), n, took)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	d.CheckProgress(t, "crash", ks, chunk, -1)
}

// migHang bounds one run of jetmr migrate in the crash tests; a run takes
// a few seconds at most.
const migHang = 25 * time.Second

// migrateUntilDone runs args (a migrate job of the rows of ks in batches
// of chunk), SIGKILLing each of the first six runs after a random delay
// below maxDelay, and resumes with --resume until a run completes. It
// returns how many runs were killed. A run that does not end within
// migHang fails the test with its stderr and the batches that were never
// committed.
//
// At least one run is killed: a job that completes before its first kill
// proves nothing, so it is run again from scratch (the table's counts,
// the progress rows and the store reset) with delays half as long.
func migrateUntilDone(t *testing.T, d *migratetest.DB, ks migratetest.KeySet, chunk int, dir string, r *rand.Rand, maxDelay time.Duration, args []string) int {
	t.Helper()
	for range 8 {
		if n := killUntilDone(t, d, ks, chunk, dir, r, maxDelay, args); n > 0 {
			return n
		}
		t.Logf("the migration completed before a kill within %v: running it again from scratch", maxDelay)
		d.Exec(t, "UPDATE t SET n = 0")
		d.Exec(t, "DELETE FROM "+migrate.ProgressTable)
		emptyDir(t, dir)
		maxDelay /= 2
	}
	t.Fatal("the migration always completed before its first kill")
	return 0
}

// killUntilDone is one try of migrateUntilDone: it returns how many runs
// were killed, 0 when the first run completed.
func killUntilDone(t *testing.T, d *migratetest.DB, ks migratetest.KeySet, chunk int, dir string, r *rand.Rand, maxDelay time.Duration, args []string) int {
	t.Helper()
	resume := slices.Insert(slices.Clone(args), 1, "--resume")
	kills, recorded := 0, false
	for run := 0; ; run++ {
		if run > 20 {
			t.Fatalf("job not done after %d runs", run)
		}
		a := args
		if recorded {
			a = resume
		}
		kill := time.Duration(r.Int64N(int64(maxDelay)))
		if run >= 6 {
			kill = 0 // enough kills: let it finish
		}
		res := runMigrateProcess(t, dir, nil, kill, a)
		switch {
		case res.hung:
			t.Errorf("run %d (%q) did not end within %v; stderr:\n%s", run, a, migHang, res.stderr)
			d.CheckProgress(t, "crash", ks, chunk, -1) // names the batches never committed
			t.FailNow()
		case res.killed:
			kills++
			recorded = true
		case res.code == 2 && strings.Contains(res.stderr, "there is no job"):
			// Killed before it recorded the job: start afresh, as a user would.
			recorded = false
		case res.code != 0:
			t.Fatalf("run %d (%q) exited %d; stderr:\n%s", run, a, res.code, res.stderr)
		default:
			return kills
		}
	}
}

type migRun struct {
	code         int
	stderr       string
	killed, hung bool
}

// runMigrateProcess runs the binary with args in dir, SIGKILLs it after
// kill unless 0, and reports how it ended; a run still going after
// migHang is killed and reported hung.
func runMigrateProcess(t *testing.T, dir string, env []string, kill time.Duration, args []string) migRun {
	t.Helper()
	p := clitest.Start(t, bin, dir, env, args...)
	var killTimer <-chan time.Time
	if kill > 0 {
		killTimer = time.After(kill)
	}
	var res migRun
	select {
	case <-p.Done():
	case <-killTimer:
		p.Signal(syscall.SIGKILL)
		<-p.Done()
	case <-time.After(migHang):
		p.Signal(syscall.SIGKILL)
		<-p.Done()
		res.hung = true
	}
	res.code, res.stderr = p.Code(), p.Stderr.String()
	res.killed = p.Killed(syscall.SIGKILL) && !res.hung
	if res.code == -1 {
		t.Fatalf("running jetmr: %v", p.Err())
	}
	return res
}

// killAtThenResume runs args with the crash point armed, checks that
// jetmr died there, calls between (unless nil), and returns how the
// resume without the crash point ended.
func killAtThenResume(t *testing.T, dir, point string, args []string, between func()) migRun {
	t.Helper()
	res := runMigrateProcess(t, dir, []string{"JETMR_CRASHPOINT=" + point}, 0, args)
	if !res.killed {
		t.Fatalf("with crash point %s armed, jetmr exited %d (hung: %v) instead of being killed there; stderr:\n%s", point, res.code, res.hung, res.stderr)
	}
	if between != nil {
		between()
	}
	return runMigrateProcess(t, dir, nil, 0, slices.Insert(slices.Clone(args), 1, "--resume"))
}

// testMigrateCrashPoint kills jetmr migrate at a named step (internal/
// crashpoint), then resumes it: the resume must complete, every row be
// touched exactly once, and every batch be recorded once.
func testMigrateCrashPoint(t *testing.T, d *migratetest.DB, point string) {
	ks := migratetest.IntKeys(4000, 8)
	const chunk = 50
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	args := []string{"migrate", "--store", filepath.Join(dir, "store"), "--job", "crash", "--db", d.URL,
		"--table", "t", "--key", "id", "--sql", migUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "4", "--report", "run.json"}
	res := killAtThenResume(t, dir, point, args, nil)
	if res.hung || res.code != 0 {
		if res.hung {
			t.Errorf("resume after a crash at %s did not end within %v; stderr:\n%s", point, migHang, res.stderr)
		} else {
			t.Errorf("resume after a crash at %s: exit %d; stderr:\n%s", point, res.code, res.stderr)
		}
		d.CheckProgress(t, "crash", ks, chunk, -1) // names the batches never committed
		t.FailNow()
	}
	d.CheckAllOnce(t, len(ks.Keys))
	d.CheckProgress(t, "crash", ks, chunk, -1)
	rep := readReport(t, filepath.Join(dir, "run.json"))
	if rows, _ := rep["rows"].(float64); rows != float64(len(ks.Keys)) {
		t.Errorf("the report counts %v rows, want %d: each batch once, whichever run committed it", rep["rows"], len(ks.Keys))
	}
	if strings.HasPrefix(point, "task.processed") {
		// The batch that crashed committed in the database but published
		// no result: the resume runs its task again and finds it done.
		if found, _ := rep["batches_already_done"].(float64); found < 1 {
			t.Errorf("the resume found %v batches already done in the database, want at least the one that crashed", rep["batches_already_done"])
		}
	}
}

// testMigrateSplitCrash runs batches too slow for --timeout unless their
// range holds at most 100 rows, so that each is split, SIGKILLs jetmr at
// a named point after a part of a split batch committed, and resumes:
// the batch's other parts run, none twice, and the report counts every
// row once.
func testMigrateSplitCrash(t *testing.T, d *migratetest.DB, point string) {
	ks := migratetest.IntKeys(1000, 9)
	const chunk = 250
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	args := []string{"migrate", "--store", filepath.Join(dir, "store"), "--job", "split", "--db", d.URL,
		"--table", "t", "--key", "id", "--sql", migratetest.SlowUpdate(d.Driver, 100), "--timeout", "400ms",
		"--chunk-size", strconv.Itoa(chunk), "-j", "2", "--report", "run.json"}
	res := killAtThenResume(t, dir, point, args, func() {
		if n := d.ProgressRows(t, "split"); n == 0 {
			t.Fatalf("no part committed before the crash at %s", point)
		}
	})
	if res.hung || res.code != 0 {
		t.Fatalf("resume after a crash at %s: exit %d (hung: %v); stderr:\n%s", point, res.code, res.hung, res.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	if split := d.CheckChains(t, "split", ks, chunk); split != 4 {
		t.Errorf("%d batches committed in parts, want all 4", split)
	}
	rep := readReport(t, filepath.Join(dir, "run.json"))
	if rows, _ := rep["rows"].(float64); rows != float64(len(ks.Keys)) {
		t.Errorf("the report counts %v rows, want %d", rep["rows"], len(ks.Keys))
	}
	if split, _ := rep["batches_split"].(float64); split != 4 {
		t.Errorf("the report counts %v split batches, want 4", rep["batches_split"])
	}
}

// testMigrateFailingBatch checks exit status 1 when the database rejects
// a batch: that batch alone is a dead letter on stderr naming its key
// range and the database's error, and commits nothing.
func testMigrateFailingBatch(t *testing.T, d *migratetest.DB, violation string) {
	ks := migratetest.IntKeys(5000, 7)
	const chunk, bad = 500, 2345 // the key at index 2345 is in batch 4
	d.CreateTable(t, ks, true)
	badKey := ks.Keys[bad]
	d.Exec(t, "UPDATE t SET n = 1 WHERE id = "+badKey) // n + 1 = 2 violates CHECK (n < 2)
	want := ks.Batches(chunk)
	dir, store := t.TempDir(), t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", store, "--job", "failing", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", strconv.Itoa(chunk), "-j", "3", "--report", "run.json")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	var dead []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "dead letter") {
			dead = append(dead, l)
		}
	}
	rng := ks.RangeString(want[4])
	if len(dead) != 1 || !strings.Contains(dead[0], "task 4 ") || !strings.Contains(dead[0], rng) || !strings.Contains(dead[0], violation) {
		t.Errorf("dead letters on stderr: %q; want one, of task 4, naming the range %s and the database's %q; stderr:\n%s",
			dead, rng, violation, r.stderr)
	}
	if len(dead) == 1 && !strings.HasSuffix(dead[0], "; the SQL fails on key "+badKey+" alone") {
		t.Errorf("the dead letter %q does not name the failing row's key %s", dead[0], badKey)
	}
	if !strings.Contains(r.stderr, "bad record: key "+badKey+": ") {
		t.Errorf("no bad record line naming key %s; stderr:\n%s", badKey, r.stderr)
	}
	rep := readReport(t, filepath.Join(dir, "run.json"))
	if dl, _ := rep["dead_letters"].([]any); len(dl) == 1 {
		recs, _ := dl[0].(map[string]any)["records"].([]any)
		if len(recs) != 1 || recs[0].(map[string]any)["key"] != badKey || dl[0].(map[string]any)["isolation"] != "key" {
			t.Errorf("the report's dead letter names records %v, want key %s", recs, badKey)
		}
	}
	if rep["rows"] != float64(len(ks.Keys)-chunk) || rep["failed"] != float64(1) || rep["tasks"] != float64(len(want)) {
		t.Errorf("report: rows %v, failed %v, tasks %v; want %d, 1, %d", rep["rows"], rep["failed"], rep["tasks"], len(ks.Keys)-chunk, len(want))
	}
	inBatch := fmt.Sprintf("(id >= %s AND id < %s)", want[4][0], want[4][1])
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 1 AND NOT "+inBatch); n != 0 {
		t.Errorf("%d rows outside the failed batch do not have n = 1", n)
	}
	if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0 AND "+inBatch); n != 1 {
		t.Errorf("%d rows of the failed batch changed (counting the preset one), want only the preset row: the batch must commit nothing", n)
	}
	d.CheckProgress(t, "failing", ks, chunk, 4)

	// --resume --retry-failed with corrected SQL runs only the failed batch.
	fixed := "UPDATE t SET n = CASE WHEN n = 1 THEN 1 ELSE n + 1 END WHERE id >= $1 AND ($2 IS NULL OR id < $2)"
	r = jetmr(t, dir, "migrate", "--store", store, "--job", "failing", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", fixed, "--chunk-size", strconv.Itoa(chunk), "-j", "3", "--resume", "--retry-failed")
	if r.code != 0 {
		t.Fatalf("--resume --retry-failed: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
	if n := d.ProgressRows(t, "failing"); n != int64(len(want)) {
		t.Errorf("%d progress rows after the retry, want %d", n, len(want))
	}
}

// testMigrateBadInput checks exit status 2, one line on stderr naming the
// culprit, and nothing run, for mistakes in the migration.
func testMigrateBadInput(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(2000, 4)
	d.CreateTable(t, ks, false)
	for _, c := range []struct {
		name       string
		table, key string
		sql        string
		mention    string
		extra      []string
	}{
		{"missing table", "no_such_table", "id", migUpdate, "no_such_table", nil},
		{"missing key column", "t", "no_such_key", migUpdate, "no_such_key", nil},
		{"SQL without $1", "t", "id", "UPDATE t SET n = n + 1 WHERE $2 IS NULL OR id < $2", "$1", nil},
		{"SQL without $2", "t", "id", "UPDATE t SET n = n + 1 WHERE id >= $1", "$2", nil},
		{"SQL that does not compile", "t", "id", "UPDATE t SET no_such_column = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)", "no_such_column", nil},
		{"no SQL", "t", "id", "", "--sql", nil},
		{"skip without --rejects", "t", "id", migUpdate, "add --rejects FILE", []string{"--skip-bad-records", "1"}},
		{"negative skip", "t", "id", migUpdate, "--skip-bad-records -1 is not valid", []string{"--skip-bad-records", "-1", "--rejects", "r.jsonl"}},
		{"skip not a number", "t", "id", migUpdate, `invalid argument "x" for "--skip-bad-records"`, []string{"--skip-bad-records", "x", "--rejects", "r.jsonl"}},
		{"rejects that exists", "t", "id", migUpdate, "taken.jsonl already exists", []string{"--skip-bad-records", "1", "--rejects", "taken.jsonl"}},
		{"rejects without skipping", "t", "id", migUpdate, "add --skip-bad-records N", []string{"--rejects", "r.jsonl"}},
		{"rejects folder missing", "t", "id", migUpdate, "does not exist", []string{"--skip-bad-records", "1", "--rejects", "nodir/r.jsonl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			args := []string{"migrate", "--store", store, "--db", d.URL, "--table", c.table, "--key", c.key}
			if c.sql != "" {
				args = append(args, "--sql", c.sql)
			}
			if err := os.WriteFile(filepath.Join(dir, "taken.jsonl"), []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := jetmr(t, dir, append(args, c.extra...)...)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetmr: ") || !strings.Contains(lines[0], c.mention) {
				t.Errorf("stderr is %d lines, want one starting with \"jetmr: \" and naming %q:\n%s", len(lines), c.mention, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("the store %s was created for a rejected job", store)
			}
			if n := d.Int(t, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
				t.Errorf("%d rows changed", n)
			}
			if n := d.ProgressRows(t, ""); n != 0 {
				t.Errorf("%d batches recorded", n)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "taken.jsonl")); string(data) != "mine\n" {
				t.Errorf("the existing rejects file changed: %q", data)
			}
		})
	}
}

// testMigrateDryRun checks that --dry-run lists the batches of the
// default size (1000 rows) and changes nothing: the schema and the data
// are the same after it (for SQLite, the files byte for byte), and on
// PostgreSQL it runs as a role that may only connect and read the table.
func testMigrateDryRun(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(20_000, 5)
	d.CreateTable(t, ks, false)
	url := d.ReadOnlyURL(t)
	before := d.Snapshot(t)
	store := filepath.Join(t.TempDir(), "store")
	r := jetmr(t, t.TempDir(), "migrate", "--store", store, "--job", "dry", "--db", url, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--dry-run")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	want := ks.Batches(1000)
	var lines []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "batch ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d batch lines, want %d (20,000 rows, 1000 per batch):\n%s", len(lines), len(want), r.stdout)
	}
	for i := range min(len(lines), len(want)) {
		if w := fmt.Sprintf("batch %d: %s", i, ks.RangeString(want[i])); lines[i] != w {
			t.Errorf("line %q, want %q", lines[i], w)
			break
		}
	}
	if !strings.Contains(r.stdout, migUpdate) || !strings.Contains(r.stdout, fmt.Sprintf("%d batches; nothing was run", len(want))) {
		t.Errorf("the dry run does not show the SQL and the batch count:\n%s", r.stdout)
	}
	if after := d.Snapshot(t); after != before {
		t.Errorf("the dry run changed the database: before:\n%.2000s\nafter:\n%.2000s", before, after)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("the dry run created the store %s", store)
	}
}

// testMigrateMaxRate checks that --max-rate 20 spreads 10 batches over at
// least 9 intervals of 50 ms. Only lower bounds on time are asserted: the
// last batch cannot start before 0.45 s into the job.
func testMigrateMaxRate(t *testing.T, d *migratetest.DB) {
	ks := migratetest.IntKeys(1000, 6)
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", t.TempDir(), "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", "100", "--max-rate", "20", "-j", "4", "--report", "run.json")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if r.took < 400*time.Millisecond {
		t.Errorf("10 batches at --max-rate 20 took %v, want at least 0.4s", r.took)
	}
	data, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Rows     int64   `json:"rows"`
		Tasks    int     `json:"tasks"`
		Wall     float64 `json:"wall_seconds"`
		Attempts []struct {
			Start time.Time `json:"start"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if run.Rows != 1000 || run.Tasks != 10 || len(run.Attempts) != 10 {
		t.Fatalf("report: %d rows, %d tasks, %d attempts; want 1000, 10, 10", run.Rows, run.Tasks, len(run.Attempts))
	}
	if run.Wall < 0.4 {
		t.Errorf("the report's wall time is %.3fs at --max-rate 20 for 10 batches, want at least 0.4s", run.Wall)
	}
	first, last := run.Attempts[0].Start, run.Attempts[0].Start
	for _, a := range run.Attempts {
		if a.Start.Before(first) {
			first = a.Start
		}
		if a.Start.After(last) {
			last = a.Start
		}
	}
	// Not asserted: a worker slow to start would bunch the first batches.
	t.Logf("took %v (report: %.3fs); the batches started over %v", r.took.Round(time.Millisecond), run.Wall, last.Sub(first).Round(time.Millisecond))
	d.CheckAllOnce(t, 1000)
}

// TestMigrateUnreachable checks exit status 3, quickly, when nothing
// listens for the PostgreSQL URL.
func TestMigrateUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	store := filepath.Join(t.TempDir(), "store")
	r := jetmr(t, t.TempDir(), "migrate", "--store", store, "--table", "t", "--key", "id", "--sql", migUpdate,
		"--db", fmt.Sprintf("postgres://app:secret@127.0.0.1:%d/app?sslmode=disable", port))
	if r.code != 3 {
		t.Fatalf("exit status %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if r.took > 10*time.Second {
		t.Errorf("took %v to give up, want under 10s", r.took)
	}
	if !strings.Contains(r.stderr, strconv.Itoa(port)) || strings.Contains(r.stderr, "secret") {
		t.Errorf("stderr should name the server and hide the password:\n%s", r.stderr)
	}
}

// TestMigrateMissingSQLiteFile checks exit status 2 for a SQLite file
// that does not exist, which is not created.
func TestMigrateMissingSQLiteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.db")
	r := jetmr(t, t.TempDir(), "migrate", "--store", t.TempDir(), "--db", "sqlite:"+path, "--table", "t", "--key", "id", "--sql", migUpdate)
	if r.code != 2 {
		t.Fatalf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "missing.db") {
		t.Errorf("stderr does not name the file:\n%s", r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("jetmr migrate created %s (stat: %v)", path, err)
	}
}

// TestMigratePipelineUnchanged runs a migrate stage whose SQL swaps $1 and
// $2: the stage's end says that its batches changed nothing.
func TestMigratePipelineUnchanged(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	d.CreateTable(t, migratetest.IntKeys(500, 17), false)
	dir := t.TempDir()
	writeJobFile(t, dir, `
stages:
  - name: swapped
    migrate: {db: "`+d.URL+`", table: t, key: id, chunk_size: 100, sql: "UPDATE t SET n = n + 1 WHERE id >= $2 AND id < $1"}
`)
	r := jetmr(t, dir, "pipeline", "--store", t.TempDir(), "--job", "pswapped", "job.yaml")
	if r.code != 0 || !strings.Contains(r.stderr, "jetmr: warning: 5 batches held rows but their SQL changed none") {
		t.Errorf("exit status %d, want 0 and a warning about 5 unchanged batches; stderr:\n%s", r.code, r.stderr)
	}
}
