package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jetmr/jetmr/internal/runtest"
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

// checkResumes checks that scanners started at the pairs of the run
// data, at the offsets a scanner from the start gave them, read what that
// scanner read from there (see runtest.CheckResumes), and that one
// skipping values reads the same keys. It returns what the scanner from
// the start read.
func checkResumes(t *testing.T, data []byte, cmp func(a, b []byte) int) runtest.Read {
	t.Helper()
	all := runtest.ReadAll(schema.NewRunScannerBy(bytes.NewReader(data), cmp))
	left := len(all.Pairs)
	if all.Err != nil {
		left++ // the pair it failed at, which the header counts
	}
	runtest.CheckResumes(t, all, func(i int, off int64) runtest.Reader {
		return schema.NewRunScannerAt(bytes.NewReader(data[off:]), off, left-i, cmp)
	}, schema.ErrMalformed)
	keys := schema.NewRunScannerBy(bytes.NewReader(data), cmp)
	keys.SkipValues()
	runtest.CheckKeys(t, all, keys, schema.ErrMalformed)
	return all
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
			all := checkResumes(t, data, nil)
			if all.Err != nil || len(all.Pairs) != n || all.End != int64(len(data)) {
				t.Fatalf("%d pairs: read %d, to byte %d of %d: %v", n, len(all.Pairs), all.End, len(data), all.Err)
			}
			checkResumes(t, data[:all.Pairs[n-1].Off+1], nil) // cut short
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
	all := runtest.ReadAll(schema.NewRunScanner(bytes.NewReader(good)))
	off, tenth := all.Pairs[5].Off, all.Pairs[10].Off
	tests := []struct {
		name string
		data []byte
		left int
	}{
		{"cut short", good[:len(good)-1], 15},
		{"more pairs than the run holds", good, 16},
		{"out of order", bytes.Replace(good, []byte("k12"), []byte("k02"), 1), 15},
		{"bad code", append(bytes.Clone(good[:tenth]), 0xc1), 15},
		{"item past the limit", append(bytes.Clone(good[:tenth]), 0xc6, 0x7f, 0xff, 0xff, 0xff), 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runtest.ReadAll(schema.NewRunScannerAt(bytes.NewReader(tt.data[off:]), off, tt.left, nil))
			if !errors.Is(got.Err, schema.ErrMalformed) {
				t.Fatalf("from pair 5: %v, want ErrMalformed", got.Err)
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
