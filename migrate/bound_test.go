package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testOpenBound checks the $2 of the last batch: a real key above every
// key, read in the batch's transaction, so that "id >= $1 AND id < $2"
// holds the rows appended after splitting; for text keys, above the
// largest key in the column's collation; and a clear, permanent error when
// the key column holds its type's largest integer.
func testOpenBound(t *testing.T, db DB) {
	ctx := context.Background()
	intType, top := "BIGINT", "9223372036854775807"
	if db.Driver() == "postgres" {
		intType, top = "INTEGER", "2147483647" // int4: its own largest value
	}
	exec(t, db, "CREATE TABLE ints (id "+intType+" PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	exec(t, db, "INSERT INTO ints (id) VALUES (1), (2), (3), (4), (5)")
	spec := Spec{Job: "bound", Table: "ints", Key: "id", SQL: "UPDATE ints SET n = n + 1 WHERE id >= $1 AND id < $2"}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 2)
	last := batches[len(batches)-1]
	var bounds []Key
	exec(t, db, "INSERT INTO ints (id) VALUES (100)") // appended after splitting
	out, err := RunBatch(ctx, db, spec, last, OnPart(func(_ Batch, p Part) { bounds = append(bounds, p.Bound) }))
	if err != nil || out.Rows != 2 || len(bounds) != 1 || bounds[0] != IntKey(101) {
		t.Errorf("the last batch %s with a row appended: %+v, %v, $2 = %v; want 2 rows (5 and 100), $2 = 101", last.Range(), out, err, bounds)
	}

	// The largest integer of the column's type: no $2 lies above it.
	exec(t, db, "INSERT INTO ints (id) VALUES ("+top+")")
	spec.Job = "bound-top"
	batches = collect(t, db, spec, 2)
	last = batches[len(batches)-1]
	_, err = RunBatch(ctx, db, spec, last)
	var be *BatchError
	if !errors.Is(err, errNoBound) || !errors.As(err, &be) || be.Op != opBound || !strings.Contains(err.Error(), top) || Retriable(err) || IsTimeout(err) {
		t.Errorf("the last batch up to %s: %v; want a permanent error of finding its $2 naming the key", top, err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches WHERE job = 'bound-top'"); n != 0 {
		t.Errorf("the failed batch left %d progress rows", n)
	}

	// Text keys in a collation of the column's own: the bound is above
	// the largest key there, whatever bytewise order says.
	collate := "NOCASE"
	if db.Driver() == "postgres" {
		// Ignores symbols and case: "ZZ~" equals "ZZ" and "zz", so the
		// first candidate for $2, "ZZ~", is not above "ZZ".
		exec(t, db, `CREATE COLLATION loose (provider = icu, locale = 'und-u-ka-shifted-kv-symbol-ks-level2', deterministic = false)`)
		collate = "loose"
	}
	exec(t, db, "CREATE TABLE words (id TEXT COLLATE "+collate+" PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	exec(t, db, "INSERT INTO words (id) VALUES ('apple'), ('Banana'), ('cherry'), ('ZZ')")
	spec = Spec{Job: "bound-text", Table: "words", Key: "id", SQL: "UPDATE words SET n = n + 1 WHERE id >= $1 AND id < $2"}
	batches = collect(t, db, spec, 3)
	rows, _ := runAll(t, db, spec, batches, 1, 0)
	if rows != 4 {
		t.Errorf("the text batches %v changed %d rows, want 4", batches, rows)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM words WHERE n <> 1"); n != 0 {
		t.Errorf("%d words have n <> 1", n)
	}
}

// testUnchanged checks that a part whose SQL changes no row of its range
// says how many rows the range held (those the where clause selects).
func testUnchanged(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'b', n INTEGER NOT NULL DEFAULT 0)")
	insertInts(t, db, "t", gappyKeys(100, 6))
	exec(t, db, "UPDATE t SET kind = 'a' WHERE id % 2 = 0")
	swapped := Spec{Job: "unchanged", Table: "t", Key: "id", SQL: "UPDATE t SET n = n + 1 WHERE id >= $2 AND id < $1"}
	if err := Check(ctx, db, swapped); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, swapped, 60)
	if len(batches) != 2 {
		t.Fatalf("batches %v, want 2", batches)
	}
	for _, b := range batches {
		out, err := RunBatch(ctx, db, swapped, b)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(min(60, 100-60*int(b.Index)))
		if out.Rows != 0 || len(out.Unchanged) != 1 || out.Unchanged[0].Held != want || out.Unchanged[0].Lo != b.Lo {
			t.Errorf("batch %s: %+v; want 0 rows and one unchanged part holding %d", b.Range(), out, want)
		}
		if !b.Hi.Unbounded && out.Unchanged[0].Bound != b.Hi {
			t.Errorf("batch %s: unchanged part %v, want it to end at %v", b.Range(), out.Unchanged[0], b.Hi)
		}
	}
	// With a where clause, the rows it selects; SQL that changes some
	// rows, or runs on an empty range, reports nothing.
	where := Spec{Job: "unchanged-where", Table: "t", Key: "id", Where: "kind = 'a'", SQL: "UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2 AND kind = 'z'"}
	out, err := RunBatch(ctx, db, where, batches[0])
	if err != nil || len(out.Unchanged) != 1 {
		t.Fatalf("a where clause: %+v, %v; want one unchanged part", out, err)
	}
	if want := queryInt(t, db, "SELECT count(*) FROM t WHERE kind = 'a' AND id >= $1 AND id < $2", batches[0].Lo.Int, batches[0].Hi.Int); out.Unchanged[0].Held != want {
		t.Errorf("a where clause: the part holds %d rows, want the %d it selects", out.Unchanged[0].Held, want)
	}
	some := Spec{Job: "some", Table: "t", Key: "id", SQL: updateSQL}
	if out, err := RunBatch(ctx, db, some, batches[0]); err != nil || out.Rows != 60 || out.Unchanged != nil {
		t.Errorf("SQL that changes rows: %+v, %v; want 60 rows, nothing unchanged", out, err)
	}
	exec(t, db, "DELETE FROM t WHERE id >= $1", batches[1].Lo.Int)
	if out, err := RunBatch(ctx, db, some, batches[1]); err != nil || out.Rows != 0 || out.Unchanged != nil {
		t.Errorf("an emptied last batch: %+v, %v; want 0 rows, nothing unchanged", out, err)
	}
}

// testFailingKey finds the row that breaks a batch's SQL by halving the
// batch in transactions that are rolled back: nothing is committed or
// claimed, and an error that needs rows of both halves names no key.
func testFailingKey(t *testing.T, db DB) {
	ctx := context.Background()
	exec(t, db, "CREATE TABLE t (id BIGINT PRIMARY KEY, u INTEGER UNIQUE, n INTEGER NOT NULL DEFAULT 0 CHECK (n <= 1))")
	keys := gappyKeys(3000, 8)
	insertInts(t, db, "t", keys)
	bad := keys[2345]
	exec(t, db, "UPDATE t SET n = 1 WHERE id = $1", bad) // n + 1 breaks the CHECK
	spec := Spec{Job: "failing-key", Table: "t", Key: "id", SQL: updateSQL}
	if err := Check(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	batches := collect(t, db, spec, 1000)
	b := batches[2] // the last one, open-ended, holds keys[2000:]
	_, err := RunBatch(ctx, db, spec, b)
	if !SQLFailed(err) {
		t.Fatalf("the batch holding %d: %v, want its SQL to fail", bad, err)
	}
	k, ok, err := FailingKey(ctx, db, spec, b, 0, 32)
	if err != nil || !ok || k != IntKey(bad) {
		t.Errorf("FailingKey = %v, %v, %v; want %d", k, ok, err, bad)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t WHERE n <> 0"); n != 1 {
		t.Errorf("%d rows have n <> 0 after the tries, want the 1 preset", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM jetmr_batches"); n != 0 {
		t.Errorf("the tries left %d progress rows", n)
	}
	// Too few tries to get down to one key.
	if k, ok, err := FailingKey(ctx, db, spec, b, 0, 3); ok || err != nil {
		t.Errorf("FailingKey with 3 tries = %v, %v, %v; want no key", k, ok, err)
	}
	// Two rows of different halves that clash: no key fails alone.
	clash := Spec{Job: "clash", Table: "t", Key: "id", SQL: fmt.Sprintf("UPDATE t SET u = 7 WHERE id >= $1 AND id < $2 AND id IN (%d, %d)", keys[1010], keys[1990])}
	if _, err := RunBatch(ctx, db, clash, batches[1]); !SQLFailed(err) {
		t.Fatalf("the clashing batch: %v, want its SQL to fail", err)
	}
	if k, ok, err := FailingKey(ctx, db, clash, batches[1], 0, 32); ok || err != nil {
		t.Errorf("FailingKey of a clash = %v, %v, %v; want no key", k, ok, err)
	}
}
