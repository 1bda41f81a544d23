package runtest

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Reader reads a run's pairs and tells where each starts.
type Reader interface {
	// Next returns the next pair, valid until the next call, or io.EOF
	// after the last.
	Next() (key, value []byte, err error)
	// Offset is where the pair the last Next returned starts; after
	// io.EOF, the run's end; after an error, where the bad pair starts.
	Offset() int64
}

// Pair is a pair read and the offset it starts at.
type Pair struct {
	Key, Value []byte
	Off        int64
}

// Read is what a Reader read of a run.
type Read struct {
	Pairs []Pair
	End   int64 // Offset after the last Next
	Err   error // nil: the run was read to its end
}

// ReadAll reads a run with r, copying the pairs.
func ReadAll(r Reader) Read {
	var got Read
	for {
		k, v, err := r.Next()
		if err != nil {
			got.End = r.Offset()
			if !errors.Is(err, io.EOF) {
				got.Err = err
			}
			return got
		}
		got.Pairs = append(got.Pairs, Pair{bytes.Clone(k), bytes.Clone(v), r.Offset()})
	}
}

// CheckResumes checks that a reader at(i, off), started at pair i of a
// run at its offset off as all (a read of the whole run) gives them, for
// each of its first and last 50 pairs and 50 between, reads what all
// read from there: the same pairs at the same offsets, and the same end,
// or an error wrapping sentinel where all failed.
func CheckResumes(t testing.TB, all Read, at func(i int, off int64) Reader, sentinel error) {
	t.Helper()
	if all.Err != nil && !errors.Is(all.Err, sentinel) {
		t.Fatalf("error does not wrap %v: %v", sentinel, all.Err)
	}
	n := len(all.Pairs)
	for i, p := range all.Pairs {
		if i >= 50 && i < n-50 && i%max(1, n/50) != 0 {
			continue
		}
		got := ReadAll(at(i, p.Off))
		if (got.Err == nil) != (all.Err == nil) || got.End != all.End {
			t.Fatalf("from pair %d at byte %d: ended at byte %d with %v; from the start: at byte %d with %v", i, p.Off, got.End, got.Err, all.End, all.Err)
		}
		if got.Err != nil && !errors.Is(got.Err, sentinel) {
			t.Fatalf("from pair %d: error does not wrap %v: %v", i, sentinel, got.Err)
		}
		if len(got.Pairs) != n-i {
			t.Fatalf("from pair %d: %d pairs, want %d", i, len(got.Pairs), n-i)
		}
		for j, q := range got.Pairs {
			w := all.Pairs[i+j]
			if !bytes.Equal(q.Key, w.Key) || !bytes.Equal(q.Value, w.Value) || q.Off != w.Off {
				t.Fatalf("from pair %d: pair %d differs", i, i+j)
			}
		}
	}
}

// CheckKeys checks that r, a reader of the run all read that returns keys
// only (SkipValues), reads the same keys at the same offsets, with nil
// values, and ends as all ended: at the same offset, with an error
// wrapping sentinel if all failed.
func CheckKeys(t testing.TB, all Read, r Reader, sentinel error) {
	t.Helper()
	got := ReadAll(r)
	if (got.Err == nil) != (all.Err == nil) || got.End != all.End {
		t.Fatalf("keys only: ended at byte %d with %v; with values: at byte %d with %v", got.End, got.Err, all.End, all.Err)
	}
	if got.Err != nil && !errors.Is(got.Err, sentinel) {
		t.Fatalf("keys only: error does not wrap %v: %v", sentinel, got.Err)
	}
	if len(got.Pairs) != len(all.Pairs) {
		t.Fatalf("keys only: %d pairs, want %d", len(got.Pairs), len(all.Pairs))
	}
	for i, q := range got.Pairs {
		if !bytes.Equal(q.Key, all.Pairs[i].Key) || q.Value != nil || q.Off != all.Pairs[i].Off {
			t.Fatalf("keys only: pair %d differs", i)
		}
	}
}
