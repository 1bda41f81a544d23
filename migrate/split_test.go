package migrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetmr/jetmr/migrate/migratetest"
)

// partTimeout is the timeout of each transaction in the split tests: long
// enough for a small part on a loaded machine under -race, short enough
// for the test.
const partTimeout = 400 * time.Millisecond

// splitFixture creates t with 1000 gappy keys and a slow SQL for ranges of
// more than 100 rows, and returns the spec and its 4 batches of 250 rows.
func splitFixture(t *testing.T, db DB, job string) (Spec, []Batch) {
	t.Helper()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", gappyKeys(1000, 3))
	spec := Spec{Job: job, Table: "t", Key: "id", SQL: migratetest.SlowUpdate(db.Driver(), 100)}
	if err := Check(context.Background(), db, spec); err != nil {
		t.Fatal(err)
	}
	return spec, collect(t, db, spec, 250)
}

// testSplitOnTimeout: batches whose SQL times out when their range is
// large are split, and split again, until their parts finish; every row
// is updated once and the progress rows chain from each batch's Lo to its
// Hi.
func testSplitOnTimeout(t *testing.T, db DB) {
	ctx := context.Background()
	spec, batches := splitFixture(t, db, "split")

	// Without splitting, the timeout fails the batch and commits nothing.
	_, err := RunBatch(ctx, db, spec, batches[0], PartTimeout(partTimeout/4))
	var be *BatchError
	if !IsTimeout(err) || !errors.As(err, &be) || be.Batch != batches[0] || be.Op != opSQL {
		t.Fatalf("a slow batch without splitting: %v; want a timeout of the batch's SQL", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches"); n != 0 {
		t.Fatalf("a timed-out batch left %d progress rows", n)
	}

	var total int64
	partsOf := map[Key]int{}
	for _, b := range batches {
		var parts []Batch
		out, err := RunBatch(ctx, db, spec, b, PartTimeout(partTimeout), SplitOnTimeout(),
			OnPart(func(part Batch, p Part) { parts = append(parts, part) }))
		if err != nil {
			t.Fatalf("batch %s: %v", b.Range(), err)
		}
		// 250 rows: halves of 125, still too slow, then quarters of ~62
		// (or smaller, should a small part time out on a busy machine).
		if out.AlreadyDone || out.Parts < 4 || out.Splits != out.Parts-1 || out.Rows != 250 || out.Earlier != 0 {
			t.Errorf("batch %s: %+v; want 250 rows in 4 parts or more, one split fewer", b.Range(), out)
		}
		if len(parts) != out.Parts || parts[0].Lo != b.Lo || parts[len(parts)-1].Hi != b.Hi {
			t.Errorf("batch %s ran in parts %v", b.Range(), parts)
		}
		for i := 1; i < len(parts); i++ {
			if parts[i].Lo != parts[i-1].Hi {
				t.Errorf("batch %s: parts %v are not contiguous", b.Range(), parts)
			}
		}
		total += out.Rows
		partsOf[b.Lo] = out.Parts
	}
	if total != 1000 {
		t.Errorf("the batches affected %d rows, want 1000", total)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows have n <> 1", n)
	}
	want := 0
	for _, n := range partsOf {
		want += n
	}
	if n := queryInt(t, db, `SELECT count(*) FROM jetmr_batches WHERE job = 'split'`); n != int64(want) {
		t.Errorf("%d progress rows, want one per part: %d", n, want)
	}

	// Redelivered whole, with or without splitting, they run nothing and
	// count their rows as earlier ones.
	for i, b := range batches {
		var opts []RunOption
		if i%2 == 0 {
			opts = []RunOption{PartTimeout(partTimeout), SplitOnTimeout()}
		}
		out, err := RunBatch(ctx, db, spec, b, opts...)
		if err != nil || !out.AlreadyDone || out.Rows != 0 || out.Earlier != 250 || out.Parts != partsOf[b.Lo] || out.Splits != 0 {
			t.Errorf("redelivered batch %s: %+v, %v; want already done, 250 earlier rows in %d parts", b.Range(), out, err, partsOf[b.Lo])
		}
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("after redelivery, %d rows have n <> 1", n)
	}
}

// testResumeSplitBatch stops a split batch after its first part commits,
// as a crash would, and runs the whole batch again: only the rest runs,
// and the rows add up.
func testResumeSplitBatch(t *testing.T, db DB) {
	spec, batches := splitFixture(t, db, "resume-split")
	b := batches[1]
	ctx, cancel := context.WithCancel(context.Background())
	_, err := RunBatch(ctx, db, spec, b, PartTimeout(partTimeout), SplitOnTimeout(),
		OnPart(func(Batch, Part) { cancel() }))
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped batch: %v, want it cancelled", err)
	}
	first := queryInt(t, db, `SELECT sum("rows") FROM jetmr_batches WHERE job = $1`, spec.Job)
	if first <= 0 || first >= 250 {
		t.Fatalf("the first part committed %d rows, want some of the batch's 250", first)
	}

	// The rest fits in one part once the SQL is fast: the redelivered
	// batch runs it whole, without splitting.
	fast := spec
	fast.SQL = updateSQL
	out, err := RunBatch(context.Background(), db, fast, b)
	if err != nil {
		t.Fatal(err)
	}
	if out.AlreadyDone || out.Rows != 250-first || out.Earlier != first || out.Parts != 2 {
		t.Errorf("the rest of the batch: %+v; want %d rows now, %d earlier, 2 parts", out, 250-first, first)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n = 1"); n != 250 {
		t.Errorf("%d rows have n = 1, want the batch's 250", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n > 1"); n != 0 {
		t.Errorf("%d rows were updated twice", n)
	}
	out, err = RunBatch(context.Background(), db, fast, b)
	if err != nil || !out.AlreadyDone || out.Earlier != 250 {
		t.Errorf("the batch again: %+v, %v; want already done with 250 earlier rows", out, err)
	}
}

// testMiddle checks the split points, duplicate keys and the where clause
// included.
func testMiddle(t *testing.T, db DB) {
	ctx := context.Background()
	spec := middleTable(t, db, "BIGINT", "(1), (1), (1), (2), (5), (7), (9), (20)")
	for _, tc := range []struct {
		lo, hi Key
		where  string
		want   Key
		ok     bool
	}{
		{IntKey(1), Unbounded(KindInteger), "", IntKey(5), true}, // 8 rows: the 5th
		{IntKey(1), IntKey(9), "", IntKey(2), true},              // 6 rows, 3 of them 1: the first above
		{IntKey(5), IntKey(9), "", IntKey(7), true},
		{IntKey(1), IntKey(2), "", Key{}, false}, // one key, three rows
		{IntKey(9), IntKey(20), "", Key{}, false},
		{IntKey(1), Unbounded(KindInteger), "id > 4", IntKey(9), true}, // 4 rows of interest
	} {
		s := spec
		s.Where = tc.where
		got, ok, err := db.Middle(ctx, s, tc.lo, tc.hi)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("Middle [%v, %v) where %q = %v, %v, %v; want %v, %v", tc.lo, tc.hi, tc.where, got, ok, err, tc.want, tc.ok)
		}
	}
}

// testMiddleText splits text keys, in the database's order.
func testMiddleText(t *testing.T, db DB) {
	ctx := context.Background()
	spec := middleTable(t, db, "TEXT", "('apple'), ('b''c'), ('cherry'), ('été'), ('fig')")
	if got, ok, err := db.Middle(ctx, spec, TextKey("apple"), Unbounded(KindText)); err != nil || !ok || got != TextKey("cherry") {
		t.Errorf("Middle of five text keys = %v, %v, %v; want \"cherry\"", got, ok, err)
	}
	if got, ok, err := db.Middle(ctx, spec, TextKey("b'c"), TextKey("fig")); err != nil || !ok || got != TextKey("cherry") {
		t.Errorf("Middle [\"b'c\", \"fig\") = %v, %v, %v; want \"cherry\" (three rows: the second)", got, ok, err)
	}
}

// middleTable creates t with keys of type typ (not unique) holding values,
// and returns a checked spec of it.
func middleTable(t *testing.T, db DB, typ, values string) Spec {
	t.Helper()
	exec(t, db, "CREATE TABLE t (id "+typ+", n INTEGER NOT NULL DEFAULT 0)")
	exec(t, db, "INSERT INTO t (id) VALUES "+values)
	spec := Spec{Job: "middle", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(context.Background(), db, spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestDropThrough(t *testing.T) {
	ends := []Key{Unbounded(KindInteger), IntKey(50), IntKey(25)}
	if got := dropThrough(ends, IntKey(25)); len(got) != 2 {
		t.Errorf("after the top part: %v", got)
	}
	if got := dropThrough(ends, IntKey(50)); len(got) != 1 {
		t.Errorf("past two parts: %v", got)
	}
	if got := dropThrough(ends, IntKey(40)); len(got) != 1 || got[0] != ends[0] {
		t.Errorf("an end this run never planned: %v; want the batch's end only", got)
	}
}
