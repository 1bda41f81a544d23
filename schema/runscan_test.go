package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// scanAll reads a run with a RunScanner, copying the pairs.
func scanAll(data []byte) ([]schema.Pair, error) {
	s := schema.NewRunScanner(bytes.NewReader(data))
	var pairs []schema.Pair
	for {
		k, v, err := s.Next()
		if errors.Is(err, io.EOF) {
			return pairs, nil
		}
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, schema.Pair{Key: bytes.Clone(k), Value: bytes.Clone(v)})
	}
}

// appendRun encodes pairs with AppendRunHeader and AppendRunItem.
func appendRun(pairs []schema.Pair) []byte {
	b := schema.AppendRunHeader(nil, len(pairs))
	for _, p := range pairs {
		b = schema.AppendRunItem(schema.AppendRunItem(b, p.Key), p.Value)
	}
	return b
}

func TestRunScannerReadsWhatEncodeRunWrites(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("v"), 70000)
	for _, n := range []int{0, 1, 7, 8, 9, 40000} {
		pairs := make([]schema.Pair, n)
		for i := range pairs {
			pairs[i] = schema.Pair{Key: []byte{byte(i >> 16), byte(i >> 8), byte(i)}, Value: long[:i%300]}
		}
		if n == 1 {
			pairs[0].Value = long
		}
		var enc bytes.Buffer
		if err := schema.EncodeRun(&enc, pairs); err != nil {
			t.Fatal(err)
		}
		if got := appendRun(pairs); !bytes.Equal(got, enc.Bytes()) {
			t.Errorf("%d pairs: AppendRun* differs from EncodeRun", n)
		}
		got, err := scanAll(enc.Bytes())
		if err != nil {
			t.Fatalf("%d pairs: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d pairs: scanned %d", n, len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, pairs[i].Key) || !bytes.Equal(got[i].Value, pairs[i].Value) {
				t.Fatalf("%d pairs: pair %d differs", n, i)
			}
		}
	}
}

// readAll reads a run with a RunReader.
func readAll(data []byte) ([]schema.Pair, error) {
	r := schema.NewRunReader(bytes.NewReader(data))
	var pairs []schema.Pair
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return pairs, nil
		}
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
}

// scanned is what a RunScanner read of a run: its pairs, where each
// starts, and how the read ended.
type scanned struct {
	pairs []schema.Pair
	offs  []int64 // of each pair
	end   int64   // Offset after the last Next
	err   error   // nil: the run was read to its end
}

// scanFrom reads a run with s, copying the pairs.
func scanFrom(s *schema.RunScanner) scanned {
	var r scanned
	for {
		k, v, err := s.Next()
		if err != nil {
			r.end = s.Offset()
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
			return r
		}
		r.pairs = append(r.pairs, schema.Pair{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		r.offs = append(r.offs, s.Offset())
	}
}

// checkResumes checks that a scanner started at a pair of the run data
// (each of its first and last 50, and 50 between), at the offset a
// scanner from the start gave it, reads what that scanner read from it
// on: the same pairs at the same offsets, and the same end, or an error
// where it failed.
func checkResumes(t *testing.T, data []byte, cmp func(a, b []byte) int) {
	t.Helper()
	all := scanFrom(schema.NewRunScannerBy(bytes.NewReader(data), cmp))
	n := len(all.offs)
	for i, off := range all.offs {
		if i >= 50 && i < n-50 && i%max(1, n/50) != 0 {
			continue
		}
		got := scanFrom(schema.NewRunScannerAt(bytes.NewReader(data[off:]), off, len(all.pairs)-i+countLeft(all), cmp))
		if (got.err == nil) != (all.err == nil) || got.end != all.end {
			t.Fatalf("from pair %d at byte %d: ended at byte %d with %v; from the start: at byte %d with %v", i, off, got.end, got.err, all.end, all.err)
		}
		if got.err != nil && !errors.Is(got.err, schema.ErrMalformed) {
			t.Fatalf("from pair %d: error does not wrap ErrMalformed: %v", i, got.err)
		}
		if len(got.pairs) != len(all.pairs)-i {
			t.Fatalf("from pair %d: %d pairs, want %d", i, len(got.pairs), len(all.pairs)-i)
		}
		for j, p := range got.pairs {
			if !bytes.Equal(p.Key, all.pairs[i+j].Key) || !bytes.Equal(p.Value, all.pairs[i+j].Value) || got.offs[j] != all.offs[i+j] {
				t.Fatalf("from pair %d: pair %d differs", i, i+j)
			}
		}
	}
}

// countLeft is 1 if the read failed, at a pair its header counts: a
// scanner resumed must be told of that pair too.
func countLeft(r scanned) int {
	if r.err != nil {
		return 1
	}
	return 0
}

func TestRunScannerAtReadsFromEachPair(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("v"), 300)
	for _, n := range []int{1, 7, 8, 200, 40000} {
		pairs := make([]schema.Pair, n)
		for i := range pairs {
			pairs[i] = schema.Pair{Key: []byte{byte(i >> 16), byte(i >> 8), byte(i)}, Value: long[:i%300]}
		}
		streamed := make([]byte, schema.RunHeaderLen) // the header a stream writes
		schema.PutRunHeader(streamed, n)
		for _, p := range pairs {
			streamed = schema.AppendRunItem(schema.AppendRunItem(streamed, p.Key), p.Value)
		}
		for _, data := range [][]byte{appendRun(pairs), streamed} {
			all := scanFrom(schema.NewRunScanner(bytes.NewReader(data)))
			if all.err != nil || len(all.pairs) != n || all.end != int64(len(data)) {
				t.Fatalf("%d pairs: read %d, to byte %d of %d: %v", n, len(all.pairs), all.end, len(data), all.err)
			}
			if n > 40 {
				data = data[:all.offs[n-1]] // cut short
			}
			checkResumes(t, data, nil)
		}
	}
}

// TestRunScannerAtRejectsBadRuns starts scanners at a pair of a run that
// is bad after it: each must fail with ErrMalformed, as a scanner from
// the run's start does.
func TestRunScannerAtRejectsBadRuns(t *testing.T) {
	t.Parallel()
	var pairs []schema.Pair
	for i := range 20 {
		pairs = append(pairs, schema.Pair{Key: fmt.Appendf(nil, "k%02d", i), Value: []byte("1")})
	}
	good := appendRun(pairs)
	all := scanFrom(schema.NewRunScanner(bytes.NewReader(good)))
	off := all.offs[5]
	tests := []struct {
		name string
		data []byte
		left int
	}{
		{"cut short", good[:len(good)-1], 15},
		{"more pairs than the run holds", good, 16},
		{"out of order", bytes.Replace(good, []byte("k12"), []byte("k02"), 1), 15},
		{"bad code", append(bytes.Clone(good[:all.offs[10]]), 0xc1), 15},
		{"item past the limit", append(bytes.Clone(good[:all.offs[10]]), 0xc6, 0x7f, 0xff, 0xff, 0xff), 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scanFrom(schema.NewRunScannerAt(bytes.NewReader(tt.data[off:]), off, tt.left, nil))
			if !errors.Is(got.err, schema.ErrMalformed) {
				t.Fatalf("from pair 5: %v, want ErrMalformed", got.err)
			}
		})
	}
}

// FuzzRunScanner checks that the scanner accepts exactly the runs a
// RunReader accepts, with the same pairs, and that a scanner started at
// any of its pairs reads what it read from there.
func FuzzRunScanner(f *testing.F) {
	var good bytes.Buffer
	schema.EncodeRun(&good, []schema.Pair{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: nil}})
	f.Add(good.Bytes())
	f.Add([]byte{0x92, 0xa1, 'a', 0xc0})
	f.Add([]byte{0xc0})
	f.Add([]byte{0xdd, 0, 0, 0, 2, 0xc4, 1, 'k', 0xd9, 1, 'v'})
	f.Add([]byte{0x94, 0xc4, 1, 'b', 0xc4, 0, 0xc4, 1, 'a', 0xc4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := readAll(data)
		got, gerr := scanAll(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("RunReader: %v; RunScanner: %v", werr, gerr)
		}
		checkResumes(t, data, nil)
		if gerr != nil {
			if !errors.Is(gerr, schema.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", gerr)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d pairs, RunReader has %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("pair %d differs", i)
			}
		}
	})
}
