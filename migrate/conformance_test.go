package migrate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vmihailenco/msgpack/v5"
	"modernc.org/sqlite"
)

func TestSQLite(t *testing.T) { exercise(t, openSQLiteTemp) }

func TestPostgres(t *testing.T) { exercise(t, openPostgresTemp) }

// exercise is the conformance suite every DB implementation must pass.
func exercise(t *testing.T, open opener) {
	t.Run("SplitAndRunExactlyOnce", func(t *testing.T) { t.Parallel(); testSplitAndRun(t, open(t)) })
	t.Run("TextKeys", func(t *testing.T) { t.Parallel(); testTextKeys(t, open(t)) })
	t.Run("DuplicateKeys", func(t *testing.T) { t.Parallel(); testDuplicateKeys(t, open(t)) })
	t.Run("Where", func(t *testing.T) { t.Parallel(); testWhere(t, open(t)) })
	t.Run("QuotedNames", func(t *testing.T) { t.Parallel(); testQuotedNames(t, open(t)) })
	t.Run("RowsAppendedAfterSplit", func(t *testing.T) { t.Parallel(); testAppendAfterSplit(t, open(t)) })
	t.Run("BatchesAfter", func(t *testing.T) { t.Parallel(); testBatchesAfter(t, open(t)) })
	t.Run("EmptyTable", func(t *testing.T) { t.Parallel(); testEmpty(t, open(t)) })
	t.Run("FailingBatch", func(t *testing.T) { t.Parallel(); testFailingBatch(t, open(t)) })
	t.Run("BadInput", func(t *testing.T) { t.Parallel(); testBadInput(t, open(t)) })
	t.Run("Timeout", func(t *testing.T) { t.Parallel(); testTimeout(t, open(t)) })
	t.Run("ConcurrentRedelivery", func(t *testing.T) { t.Parallel(); testConcurrentRedelivery(t, open(t)) })
	t.Run("RetriableErrors", func(t *testing.T) { t.Parallel(); testRetriableErrors(t, open(t)) })
	t.Run("SplitOnTimeout", func(t *testing.T) { t.Parallel(); testSplitOnTimeout(t, open(t)) })
	t.Run("ResumeSplitBatch", func(t *testing.T) { t.Parallel(); testResumeSplitBatch(t, open(t)) })
	t.Run("Middle", func(t *testing.T) { t.Parallel(); testMiddle(t, open(t)) })
	t.Run("MiddleText", func(t *testing.T) { t.Parallel(); testMiddleText(t, open(t)) })
	t.Run("OpenBound", func(t *testing.T) { t.Parallel(); testOpenBound(t, open(t)) })
	t.Run("Unchanged", func(t *testing.T) { t.Parallel(); testUnchanged(t, open(t)) })
	t.Run("FailingKey", func(t *testing.T) { t.Parallel(); testFailingKey(t, open(t)) })
	t.Run("SkipFailingKeys", func(t *testing.T) { t.Parallel(); testSkipFailingKeys(t, open(t)) })
	t.Run("SkipFailingKeysText", func(t *testing.T) { t.Parallel(); testSkipFailingKeysText(t, open(t)) })
}

// updateSQL is the documented shape; testWhere and testQuotedNames keep the
// older one, "($2 IS NULL OR id < $2)", which works as well.
const updateSQL = "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2"

// gappyKeys returns n increasing keys starting at 1, with steps of 1 to 3.
func gappyKeys(n int, seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := make([]int64, n)
	k := int64(0)
	for i := range keys {
		k += 1 + r.Int64N(3)
		keys[i] = k
	}
	return keys
}

func collect(t *testing.T, db DB, spec Spec, rows int) []Batch {
	t.Helper()
	var batches []Batch
	err := Batches(context.Background(), db, spec, rows, func(b Batch) error {
		batches = append(batches, b)
		return nil
	})
	if err != nil {
		t.Fatalf("Batches: %v", err)
	}
	return batches
}

// checkContiguous checks indexes, contiguity and the open end, and
// returns how many of keys (sorted in the database's order) each batch
// holds.
func checkContiguous[K any](t *testing.T, batches []Batch, keys []K, key func(Key) K, less func(a, b K) bool) []int {
	t.Helper()
	if len(batches) == 0 {
		t.Fatal("no batches")
	}
	if got, want := key(batches[0].Lo), keys[0]; less(got, want) || less(want, got) {
		t.Errorf("first batch starts at %v, want the first key %v", got, want)
	}
	counts := make([]int, len(batches))
	for i, b := range batches {
		if b.Index != uint64(i) {
			t.Errorf("batch %d has index %d", i, b.Index)
		}
		if b.Lo.Unbounded {
			t.Errorf("batch %d: unbounded lower key", i)
		}
		last := i == len(batches)-1
		if b.Hi.Unbounded != last {
			t.Errorf("batch %d of %d: Hi.Unbounded = %v", i, len(batches), b.Hi.Unbounded)
		}
		if !last && batches[i+1].Lo != b.Hi {
			t.Errorf("batch %d ends at %v but batch %d starts at %v", i, b.Hi, i+1, batches[i+1].Lo)
		}
		from := sort.Search(len(keys), func(j int) bool { return !less(keys[j], key(b.Lo)) })
		to := len(keys)
		if !last {
			to = sort.Search(len(keys), func(j int) bool { return !less(keys[j], key(b.Hi)) })
		}
		counts[i] = to - from
	}
	return counts
}

// runAll runs every batch from workers goroutines; every dupEvery-th batch
// is delivered twice in a row (so both copies often run at once), and
// every batch travels through msgpack as it would in a task. It returns
// the rows affected and the number of AlreadyDone outcomes.
func runAll(t *testing.T, db DB, spec Spec, batches []Batch, workers, dupEvery int) (rows int64, already int) {
	t.Helper()
	var queue []Batch
	for i, b := range batches {
		queue = append(queue, b)
		if dupEvery > 0 && i%dupEvery == 0 {
			queue = append(queue, b)
		}
	}
	work := make(chan []byte)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx := context.Background()
	for range workers {
		wg.Go(func() {
			for data := range work {
				var b Batch
				if err := msgpack.Unmarshal(data, &b); err != nil {
					t.Error(err)
					continue
				}
				out, err := RunBatch(ctx, db, spec, b)
				if err != nil {
					t.Errorf("RunBatch %s: %v", b.Range(), err)
					continue
				}
				mu.Lock()
				rows += out.Rows
				if out.AlreadyDone {
					already++
				}
				mu.Unlock()
			}
		})
	}
	for _, b := range queue {
		data, err := msgpack.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		work <- data
	}
	close(work)
	wg.Wait()
	return rows, already
}

func testSplitAndRun(t *testing.T, db DB) {
	ctx := context.Background()
	const total, per = 100_000, 1000
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	keys := gappyKeys(total, 1)
	done := timed(t, "inserting 100,000 rows")
	insertInts(t, db, "t", keys)
	exec(t, db, "ANALYZE t")
	done()
	spec := Spec{Job: "job-1", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, db, spec); err != nil { // idempotent
		t.Fatal(err)
	}

	est, err := EstimateRows(ctx, db, spec)
	if err != nil {
		t.Fatal(err)
	}
	if est < total*9/10 || est > total*11/10 {
		t.Errorf("EstimateRows = %d, want about %d", est, total)
	}

	done = timed(t, "splitting")
	batches := collect(t, db, spec, per)
	done()
	counts := checkContiguous(t, batches, keys, func(k Key) int64 { return k.Int }, func(a, b int64) bool { return a < b })
	if len(batches) != total/per {
		t.Errorf("%d batches, want %d", len(batches), total/per)
	}
	sum := 0
	for i, c := range counts {
		sum += c
		if c != per {
			t.Errorf("batch %d %s holds %d rows, want %d", i, batches[i].Range(), c, per)
		}
	}
	if sum != total {
		t.Errorf("batches hold %d rows in all, want %d", sum, total)
	}

	done = timed(t, "running 100 batches (+15 redelivered) on 4 goroutines")
	rows, already := runAll(t, db, spec, batches, 4, 7)
	done()
	if rows != total {
		t.Errorf("batches affected %d rows, want %d", rows, total)
	}
	if want := (len(batches) + 6) / 7; already != want {
		t.Errorf("%d redelivered batches were AlreadyDone, want %d", already, want)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches WHERE job = $1", spec.Job); n != int64(len(batches)) {
		t.Errorf("the progress table holds %d rows for the job, want %d", n, len(batches))
	}
	if n := queryInt(t, db, `SELECT sum("rows") FROM jetmr_batches WHERE job = $1`, spec.Job); n != total {
		t.Errorf("the progress table counts %d rows, want %d", n, total)
	}

	// Everything again: all done, nothing changes.
	rows, already = runAll(t, db, spec, batches, 2, 0)
	if rows != 0 || already != len(batches) {
		t.Errorf("second run: %d rows, %d already done; want 0, %d", rows, already, len(batches))
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("after the second run, %d rows have n <> 1", n)
	}

	var done2 []Done
	if err := DoneBatches(ctx, db, spec, func(d Done) error { done2 = append(done2, d); return nil }); err != nil {
		t.Fatal(err)
	}
	open := 0
	for _, d := range done2 {
		if d.Open {
			open++
		}
		if d.At.IsZero() || time.Since(d.At) > time.Hour || time.Since(d.At) < -time.Hour {
			t.Errorf("done batch %s: commit time %v", d.Lo, d.At)
		}
	}
	if len(done2) != len(batches) || open != 1 {
		t.Errorf("DoneBatches: %d batches, %d open; want %d, 1", len(done2), open, len(batches))
	}

	// Another job over the same table runs its batches again.
	spec2 := spec
	spec2.Job = "job-2"
	rows, already = runAll(t, db, spec2, batches[:10], 2, 0)
	if rows != 10*per || already != 0 {
		t.Errorf("second job: %d rows, %d already done; want %d, 0", rows, already, 10*per)
	}
}

func testTextKeys(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	r := rand.New(rand.NewPCG(2, 2))
	set := map[string]bool{}
	for len(set) < 5000 {
		set[fmt.Sprintf("user-%06d", r.IntN(1_000_000))] = true
	}
	// Keys that need quoting, or sort oddly, as values.
	for _, k := range []string{"o'brien", `a"b`, "a b", "Zebra", "zebra", "émile", "日本", "", "$1", "--x", "100", "99"} {
		set[k] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order: SQLite's BINARY, PostgreSQL's "C" collation of the test cluster
	var b strings.Builder
	for start := 0; start < len(keys); start += 500 {
		b.Reset()
		b.WriteString("INSERT INTO t (id) VALUES ")
		for i, k := range keys[start:min(start+500, len(keys))] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("('" + strings.ReplaceAll(k, "'", "''") + "')")
		}
		exec(t, db, b.String())
	}
	spec := Spec{Job: "text", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 100)
	counts := checkContiguous(t, batches, keys, func(k Key) string {
		if k.Kind != KindText {
			t.Fatalf("key %v is not text", k)
		}
		return k.Text
	}, func(a, b string) bool { return a < b })
	if len(batches) != (len(keys)+99)/100 {
		t.Errorf("%d batches for %d keys, want %d", len(batches), len(keys), (len(keys)+99)/100)
	}
	for i, c := range counts[:len(counts)-1] {
		if c != 100 {
			t.Errorf("batch %d %s holds %d rows, want 100", i, batches[i].Range(), c)
		}
	}
	rows, already := runAll(t, db, spec, batches, 3, 5)
	if rows != int64(len(keys)) || already != (len(batches)+4)/5 {
		t.Errorf("%d rows, %d already done; want %d, %d", rows, already, len(keys), (len(batches)+4)/5)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
}

func testDuplicateKeys(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (seq INTEGER PRIMARY KEY, id INTEGER, n INTEGER NOT NULL DEFAULT 0)")
	exec(t, db, "CREATE INDEX t_id ON t (id)")
	// id 1..50 once each, then id 100 250 times (more than a batch), then
	// 200..249, and a NULL key, which belongs to no batch.
	var ids []string
	for i := 1; i <= 50; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	for range 250 {
		ids = append(ids, "100")
	}
	for i := 200; i < 250; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	ids = append(ids, "NULL")
	for i, id := range ids {
		exec(t, db, fmt.Sprintf("INSERT INTO t (seq, id) VALUES (%d, %s)", i+1, id))
	}
	spec := Spec{Job: "dups", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 40)
	for i, b := range batches {
		if i+1 < len(batches) && batches[i+1].Lo != b.Hi {
			t.Errorf("batch %d is not contiguous with the next", i)
		}
		if !b.Hi.Unbounded && b.Hi.Int <= b.Lo.Int {
			t.Errorf("batch %d %s is empty", i, b.Range())
		}
	}
	// The key 100 is in one batch only.
	holding := 0
	for _, b := range batches {
		if b.Lo.Int <= 100 && (b.Hi.Unbounded || 100 < b.Hi.Int) {
			holding++
		}
	}
	if holding != 1 {
		t.Errorf("%d batches hold the key 100: %v", holding, batches)
	}
	runAll(t, db, spec, batches, 2, 3)
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE id IS NOT NULL AND n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
	if n := queryInt(t, db, "SELECT n FROM t WHERE id IS NULL"); n != 0 {
		t.Errorf("the row with a NULL key was updated")
	}
}

func testWhere(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'b', n INTEGER NOT NULL DEFAULT 0)")
	keys := gappyKeys(10_000, 3)
	insertInts(t, db, "t", keys)
	// Every third row is of kind 'a'.
	exec(t, db, "UPDATE t SET kind = 'a' WHERE id % 3 = 0")
	spec := Spec{Job: "where", Table: "t", Key: "id", Where: "kind = 'a'",
		SQL: "UPDATE t SET n = n + 1 WHERE kind = 'a' AND id >= $1 AND ($2 IS NULL OR id < $2)"}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	est, err := EstimateRows(ctx, db, spec)
	if err != nil || est < 1 || est > 10_000 {
		t.Errorf("EstimateRows = %d, %v", est, err)
	}
	var aKeys []int64
	for _, k := range keys {
		if k%3 == 0 {
			aKeys = append(aKeys, k)
		}
	}
	batches := collect(t, db, spec, 100)
	counts := checkContiguous(t, batches, aKeys, func(k Key) int64 { return k.Int }, func(a, b int64) bool { return a < b })
	for i, c := range counts[:len(counts)-1] {
		if c != 100 {
			t.Errorf("batch %d %s holds %d rows of kind a, want 100", i, batches[i].Range(), c)
		}
	}
	rows, _ := runAll(t, db, spec, batches, 2, 0)
	if rows != int64(len(aKeys)) {
		t.Errorf("%d rows updated, want %d", rows, len(aKeys))
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> CASE WHEN kind = 'a' THEN 1 ELSE 0 END"); n != 0 {
		t.Errorf("%d rows have the wrong n", n)
	}
}

func testQuotedNames(t *testing.T, db DB) {
	ctx := context.Background()
	schema := "main"
	if db.Driver() == "postgres" {
		schema = `"Odd Schema"`
		exec(t, db, `CREATE SCHEMA "Odd Schema"`)
	}
	table := schema + `."Odd ""Table"""`
	exec(t, db, `CREATE TABLE `+table+` ("My Key" INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)`)
	for i := 1; i <= 300; i++ {
		exec(t, db, fmt.Sprintf(`INSERT INTO %s ("My Key") VALUES (%d)`, table, i))
	}
	spec := Spec{Job: "quoted", Table: table, Key: `"My Key"`,
		SQL: `UPDATE ` + table + ` SET n = n + 1 WHERE "My Key" >= $1 AND ($2 IS NULL OR "My Key" < $2)`}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 100)
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3: %v", len(batches), batches)
	}
	runAll(t, db, spec, batches, 2, 1)
	if n := queryInt(t, db, `SELECT count(*) FROM `+table+` WHERE n <> 1`); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
	// An unquoted name that only matches when quoted.
	bad := spec
	bad.Key = "My Key"
	if err := Check(ctx, db, bad); !errors.Is(err, ErrBadInput) {
		t.Errorf("Check with an unquoted name holding a space: %v, want ErrBadInput", err)
	}
}

func testAppendAfterSplit(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", gappyKeys(1000, 4))
	spec := Spec{Job: "append", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 300)
	// Rows appended above every key, and into a gap, after splitting.
	exec(t, db, "INSERT INTO t (id) VALUES (1000000), (1000001)")
	runAll(t, db, spec, batches, 2, 0)
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1: the last batch must cover keys appended after splitting", n)
	}
}

func testBatchesAfter(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", gappyKeys(5000, 5))
	spec := Spec{Job: "after", Table: "t", Key: "id", SQL: updateSQL}
	all := collect(t, db, spec, 700)
	var rest []Batch
	if err := BatchesAfter(ctx, db, spec, 700, all[3], func(b Batch) error { rest = append(rest, b); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rest, all[4:]) {
		t.Errorf("BatchesAfter(batch 3) = %v, want %v", rest, all[4:])
	}
	rest = nil
	if err := BatchesAfter(ctx, db, spec, 700, all[len(all)-1], func(b Batch) error { rest = append(rest, b); return nil }); err != nil || rest != nil {
		t.Errorf("BatchesAfter(last batch) = %v, %v; want nothing", rest, err)
	}
	// yield's error comes back unchanged.
	stop := errors.New("stop")
	if err := Batches(ctx, db, spec, 700, func(Batch) error { return stop }); err != stop {
		t.Errorf("Batches returned %v, want yield's error", err)
	}
}

func testEmpty(t *testing.T, db DB) {
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	spec := Spec{Job: "empty", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(context.Background(), db, spec); err != nil {
		t.Fatal(err)
	}
	if batches := collect(t, db, spec, 10); len(batches) != 0 {
		t.Errorf("an empty table gave batches %v", batches)
	}
}

func testFailingBatch(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n <= 1))")
	keys := make([]int64, 10_000)
	for i := range keys {
		keys[i] = int64(i + 1)
	}
	insertInts(t, db, "t", keys)
	exec(t, db, "UPDATE t SET n = 1 WHERE id = 5555") // n + 1 breaks the CHECK
	spec := Spec{Job: "check", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 1000)
	var failed []Batch
	for _, b := range batches {
		_, err := RunBatch(ctx, db, spec, b)
		if err == nil {
			continue
		}
		failed = append(failed, b)
		var be *BatchError
		if !errors.As(err, &be) || be.Batch != b {
			t.Errorf("error %v is not a BatchError of batch %v", err, b)
		}
		msg := err.Error()
		if !strings.Contains(msg, "[5001, 6001)") {
			t.Errorf("error %q does not name the range [5001, 6001)", msg)
		}
		if !strings.Contains(msg, "CHECK constraint failed") && !strings.Contains(msg, "violates check constraint") {
			t.Errorf("error %q does not carry the database's error", msg)
		}
		var pe *pgconn.PgError
		var se *sqlite.Error
		if !errors.As(err, &pe) && !errors.As(err, &se) {
			t.Errorf("error %v does not wrap the driver's error", err)
		}
		if Retriable(err) || IsTimeout(err) || errors.Is(err, ErrBadInput) {
			t.Errorf("a CHECK violation is retriable, a timeout or bad input: %v", err)
		}
		t.Logf("the failing batch: %v", err)
	}
	if len(failed) != 1 {
		t.Fatalf("%d batches failed, want 1: %v", len(failed), failed)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1 AND NOT (id >= 5001 AND id < 6001)"); n != 0 {
		t.Errorf("%d rows outside the failed batch were not updated", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE id >= 5001 AND id < 6001 AND n = 1"); n != 1 {
		t.Errorf("the failed batch left %d rows with n = 1, want 1 (nothing committed)", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches WHERE job = 'check'"); n != 9 {
		t.Errorf("progress holds %d batches, want 9", n)
	}
	// Fixed, the batch goes through.
	exec(t, db, "UPDATE t SET n = 0 WHERE id = 5555")
	if out, err := RunBatch(ctx, db, spec, failed[0]); err != nil || out.Rows != 1000 {
		t.Fatalf("retrying the fixed batch: %+v, %v", out, err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
}

func testBadInput(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, r REAL)")
	exec(t, db, "INSERT INTO t (id) VALUES (1), (2), (3)")
	good := Spec{Job: "bad", Table: "t", Key: "id", SQL: updateSQL}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"missing table", func(s *Spec) { s.Table = "nope" }, `table "nope" does not exist: check --table`},
		{"missing schema", func(s *Spec) { s.Table = "nope.t" }, `table "nope.t" does not exist`},
		{"missing key column", func(s *Spec) { s.Key = "idd" }, `table "t" has no column "idd": check --key`},
		{"key of another type", func(s *Spec) { s.Key = "r" }, `column "r" of table "t" has type`},
		{"no job", func(s *Spec) { s.Job = "" }, "job name"},
		{"no SQL", func(s *Spec) { s.SQL = "" }, "--sql is required"},
		{"SQL without $1", func(s *Spec) { s.SQL = "UPDATE t SET n = 1 WHERE id < $2" }, "--sql has no $1"},
		{"SQL without $2", func(s *Spec) { s.SQL = "UPDATE t SET n = 1 WHERE id >= $1" }, "--sql has no $2"},
		{"$1 only in a string", func(s *Spec) { s.SQL = "UPDATE t SET n = 1 WHERE id < $2 AND '$1' <> ''" }, "--sql has no $1"},
		{"SQL with $3", func(s *Spec) { s.SQL = updateSQL + " AND n < $3" }, "--sql uses $3"},
		{"two statements", func(s *Spec) { s.SQL = updateSQL + "; DELETE FROM t" }, "more than one statement"},
		{"SQL that does not compile", func(s *Spec) { s.SQL = "UPDATE t SET n = n + WHERE id >= $1 AND ($2 IS NULL OR id < $2)" }, "checking --sql"},
		{"SQL on a missing column", func(s *Spec) { s.SQL = "UPDATE t SET m = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)" }, "checking --sql"},
		{"where that does not compile", func(s *Spec) { s.Where = "n = = 1" }, "checking --where"},
		{"where on a missing column", func(s *Spec) { s.Where = "m = 1" }, "checking --where"},
		{"where with two statements", func(s *Spec) { s.Where = "true; DROP TABLE t" }, "holds a ';'"},
		{"bad table name", func(s *Spec) { s.Table = "t; DROP TABLE t" }, "not allowed in a name"},
		{"three-part table name", func(s *Spec) { s.Table = "a.b.c" }, "expected table or schema.table"},
	} {
		spec := good
		tc.edit(&spec)
		err := Check(ctx, db, spec)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v, want ErrBadInput containing %q", tc.name, err, tc.want)
		}
	}
	if err := Batches(ctx, db, Spec{Job: "x", Table: "nope", Key: "id"}, 10, func(Batch) error { return nil }); !errors.Is(err, ErrBadInput) {
		t.Errorf("Batches on a missing table: %v, want ErrBadInput", err)
	}
	if err := Batches(ctx, db, good, 0, func(Batch) error { return nil }); !errors.Is(err, ErrBadInput) {
		t.Errorf("Batches of 0 rows: %v, want ErrBadInput", err)
	}
	if _, err := RunBatch(ctx, db, good, Batch{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("RunBatch of a zero Batch: %v, want ErrBadInput", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 0"); n != 0 {
		t.Errorf("bad input changed %d rows", n)
	}
}

func testTimeout(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", []int64{1, 2, 3})
	spec := Spec{Job: "timeout", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 10)
	release := lockRow(t, db, 2)
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := RunBatch(tctx, db, spec, batches[0])
	cancel()
	release()
	if err == nil || !IsTimeout(err) || Retriable(err) {
		t.Fatalf("RunBatch on a locked row past its deadline: %v (IsTimeout %v, Retriable %v); want a timeout, not retriable", err, IsTimeout(err), Retriable(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the deadline took %v to stop the batch", d)
	}
	t.Logf("timed out batch: %v", err)
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches"); n != 0 {
		t.Errorf("a timed-out batch left %d progress rows", n)
	}
	if out, err := RunBatch(ctx, db, spec, batches[0]); err != nil || out.Rows != 3 {
		t.Fatalf("running the batch again: %+v, %v", out, err)
	}
}

// testConcurrentRedelivery runs two copies of one batch at the same moment,
// deterministically: a lock holds the first inside its transaction while
// the second starts. Whether the first commits or fails, the batch is
// applied exactly once.
func testConcurrentRedelivery(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", []int64{1, 2, 3})
	type result struct {
		out Outcome
		err error
	}
	run := func(ctx context.Context, spec Spec, b Batch) chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := RunBatch(ctx, db, spec, b)
			ch <- result{out, err}
		}()
		return ch
	}
	for _, firstFails := range []bool{false, true} {
		spec := Spec{Job: fmt.Sprintf("redelivery-%v", firstFails), Table: "t", Key: "id", SQL: updateSQL}
		if err := Check(ctx, db, spec); err != nil {
			t.Fatal(err)
		}
		batches := collect(t, db, spec, 10)
		before := queryInt(t, db, "SELECT sum(n) FROM t")

		release := lockRow(t, db, 2)
		ctxA, cancelA := context.WithCancel(ctx)
		a := run(ctxA, spec, batches[0])
		time.Sleep(200 * time.Millisecond) // a waits on the lock
		b := run(ctx, spec, batches[0])
		time.Sleep(200 * time.Millisecond) // b waits on a, or on the lock
		if firstFails {
			cancelA()
			if r := <-a; r.err == nil {
				t.Fatalf("first copy: %+v, want it cancelled", r.out)
			}
		}
		release()
		var results []result
		if !firstFails {
			results = append(results, <-a)
		}
		results = append(results, <-b)
		cancelA()
		ran := 0
		for _, r := range results {
			if r.err != nil {
				t.Fatalf("firstFails=%v: %v", firstFails, r.err)
			}
			if !r.out.AlreadyDone {
				ran++
				if r.out.Rows != 3 {
					t.Errorf("firstFails=%v: the batch affected %d rows, want 3", firstFails, r.out.Rows)
				}
			}
		}
		if ran != 1 {
			t.Errorf("firstFails=%v: %d copies ran, want 1: %+v", firstFails, ran, results)
		}
		if got := queryInt(t, db, "SELECT sum(n) FROM t") - before; got != 3 {
			t.Errorf("firstFails=%v: n grew by %d, want 3", firstFails, got)
		}
	}
}
