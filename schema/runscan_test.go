package schema_test

import (
	"bytes"
	"errors"
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

// FuzzRunScanner checks that the scanner accepts exactly the runs a
// RunReader accepts, with the same pairs.
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
