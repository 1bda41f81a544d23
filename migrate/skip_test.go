package migrate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
)

// skippedKeys lists the keys of an Outcome's Skipped, and whether each was
// skipped by an earlier run.
func skippedKeys(out Outcome) (keys []Key, earlier []bool) {
	for _, s := range out.Skipped {
		keys, earlier = append(keys, s.Key), append(earlier, s.Earlier)
	}
	return keys, earlier
}

// testSkipFailingKeys runs batches whose SQL fails on some keys alone (the
// first key of the table, two adjacent keys, the last key of the open
// last batch) with SkipFailingKeys: every other row is migrated once, the
// bad rows are untouched, each key's range is claimed as skipped, and a
// run of a batch again runs nothing and lists its keys as skipped earlier.
// One key more than the limit fails the batch with ErrTooManyFailing,
// its rows below the key committed; a run with a higher limit completes
// it.
func testSkipFailingKeys(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n <= 1))")
	keys := gappyKeys(3000, 21)
	insertInts(t, db, "t", keys)
	badIdx := []int{0, 1500, 1501, 2999}
	var bad []Key
	for _, i := range badIdx {
		exec(t, db, "UPDATE t SET n = 1 WHERE id = $1", keys[i]) // n + 1 breaks the CHECK
		bad = append(bad, IntKey(keys[i]))
	}
	spec := Spec{Job: "skip", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 1000)
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3", len(batches))
	}
	want := [][]Key{{bad[0]}, {bad[1], bad[2]}, {bad[3]}}

	// Batch 1 with a limit of 1: the second key is one too many.
	out, err := RunBatch(ctx, db, spec, batches[1], SkipFailingKeys(1))
	if !errors.Is(err, ErrTooManyFailing) {
		t.Fatalf("batch 1 with a limit of 1: %v, want ErrTooManyFailing", err)
	}
	if got, _ := skippedKeys(out); !slices.Equal(got, want[1]) {
		t.Errorf("batch 1 over the limit lists keys %v, want %v", got, want[1])
	}
	below := queryInt(t, db, "SELECT count(*) FROM t WHERE id >= $1 AND id < $2 AND n = 1", batches[1].Lo.Int, bad[1].Int)
	if below != int64(badIdx[1]-1000) {
		t.Errorf("%d rows below the first bad key of batch 1 migrated, want %d", below, badIdx[1]-1000)
	}

	var rows int64
	for i, b := range batches {
		out, err := RunBatch(ctx, db, spec, b, SkipFailingKeys(2))
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		got, earlier := skippedKeys(out)
		if !slices.Equal(got, want[i]) {
			t.Errorf("batch %d skipped %v, want %v", i, got, want[i])
		}
		if i == 1 && !slices.Equal(earlier, []bool{true, false}) {
			t.Errorf("batch 1 after the run over the limit: earlier %v, want the first key skipped by it", earlier)
		}
		for _, s := range out.Skipped {
			if !SQLFailed(s.Err) {
				t.Errorf("batch %d: key %v skipped with error %v, want its SQL's failure", i, s.Key, s.Err)
			}
		}
		if out.Parts != 1 {
			t.Errorf("batch %d: %d parts, want 1: skipped keys are not splits", i, out.Parts)
		}
		rows += out.Rows + out.Earlier
	}
	if n := int64(len(keys) - len(bad)); rows != n {
		t.Errorf("the batches count %d rows, want %d", rows, n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows do not have n = 1", n)
	}
	// Again: nothing runs, and the keys are listed as skipped earlier.
	for i, b := range batches {
		out, err := RunBatch(ctx, db, spec, b, SkipFailingKeys(2))
		if err != nil || !out.AlreadyDone || out.Rows != 0 {
			t.Fatalf("batch %d again: %+v, %v; want it already done", i, out, err)
		}
		got, earlier := skippedKeys(out)
		if !slices.Equal(got, want[i]) || slices.Contains(earlier, false) {
			t.Errorf("batch %d again lists %v (earlier %v), want %v, all earlier", i, got, earlier, want[i])
		}
	}
	var skipped []string
	if err := DoneBatches(ctx, db, Spec{Job: "skip"}, func(d Done) error {
		if d.Skipped {
			skipped = append(skipped, d.Lo)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(skipped)
	var wantLo []string
	for _, k := range bad {
		s, _ := k.text()
		wantLo = append(wantLo, s)
	}
	slices.Sort(wantLo)
	if !slices.Equal(skipped, wantLo) {
		t.Errorf("progress rows of skipped keys start at %v, want %v", skipped, wantLo)
	}
	// Without the option, a batch holding a bad key fails as before.
	if _, err := RunBatch(ctx, db, Spec{Job: "plain", Table: "t", Key: "id", SQL: updateSQL}, batches[0]); !SQLFailed(err) {
		t.Errorf("batch 0 without SkipFailingKeys: %v, want its SQL to fail", err)
	}
}

// testSkipFailingKeysText skips bad rows of a text key, one of them a key
// that needs quoting and one the largest key of the table: every other
// row is migrated once and the bad ones are untouched.
func testSkipFailingKeysText(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n <= 1))")
	var keys []string
	for i := range 1200 {
		keys = append(keys, "k"+strconv.Itoa(10000+i))
	}
	keys = append(keys, "o'brien", "zz")
	for _, k := range keys {
		exec(t, db, "INSERT INTO t (id) VALUES ($1)", k)
	}
	bad := []string{"k10500", "o'brien", "zz"}
	for _, k := range bad {
		exec(t, db, "UPDATE t SET n = 1 WHERE id = $1", k)
	}
	spec := Spec{Job: "skiptext", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, b := range collect(t, db, spec, 400) {
		out, err := RunBatch(ctx, db, spec, b, SkipFailingKeys(3))
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for _, s := range out.Skipped {
			got = append(got, s.Key.Text)
		}
	}
	if !slices.Equal(got, bad) {
		t.Errorf("skipped %q, want %q", got, bad)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows do not have n = 1", n)
	}
}
