package reducer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/internal/runfile"
	"github.com/jetmr/jetmr/schema"
)

// writeRunFile writes run, sorted, as a run file at path in format f.
func writeRunFile(tb testing.TB, path string, f runFormat, run []schema.Pair) {
	tb.Helper()
	if f == formatResult {
		var enc bytes.Buffer
		if err := schema.EncodeRun(&enc, run); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, enc.Bytes(), 0o600); err != nil {
			tb.Fatal(err)
		}
		return
	}
	w, err := runfile.Create(path, false)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range run {
		if err := w.Write(p.Key, p.Value); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

// numberedRun is n pairs of keys k000000, k000002... (even numbers).
func numberedRun(n int) []schema.Pair {
	run := make([]schema.Pair, n)
	for i := range run {
		run[i] = schema.Pair{Key: fmt.Appendf(nil, "k%06d", 2*i), Value: fmt.Appendf(nil, "%d", i)}
	}
	return run
}

var formats = []struct {
	name   string
	format runFormat
	base   error // the sentinel of its bad runs
}{
	{"result", formatResult, schema.ErrMalformed},
	{"runfile", formatRunfile, runfile.ErrCorrupt},
}

// TestRangeSourceReadsItsRange scans runs of both formats and reads
// ranges of them, bounded by marked keys, keys between marks and keys
// past either end: each range has exactly the run's pairs in it.
func TestRangeSourceReadsItsRange(t *testing.T) {
	t.Parallel()
	run := numberedRun(5*markEvery + 17)
	key := func(i int) []byte { return fmt.Appendf(nil, "k%06d", i) }
	bounds := [][]byte{nil, key(0), key(1), key(2 * markEvery), key(2*markEvery + 1), key(2*markEvery + 3), key(6*markEvery + 11), key(99999999)}
	for _, tt := range formats {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "a.run")
			writeRunFile(t, path, tt.format, run)
			idx, err := scanRun(path, tt.format, nil)
			if err != nil {
				t.Fatal(err)
			}
			if idx.pairs != len(run) || len(idx.marks) != 6 {
				t.Fatalf("scan: %d pairs, %d marks; want %d, 6", idx.pairs, len(idx.marks), len(run))
			}
			for _, lo := range bounds {
				for _, hi := range bounds {
					if lo != nil && hi != nil && bytes.Compare(lo, hi) >= 0 {
						continue
					}
					var want []schema.Pair
					for _, p := range run {
						if (lo == nil || bytes.Compare(p.Key, lo) >= 0) && (hi == nil || bytes.Compare(p.Key, hi) < 0) {
							want = append(want, p)
						}
					}
					src, file, err := openRange(idx, lo, hi, nil)
					if err != nil {
						t.Fatal(err)
					}
					var got []schema.Pair
					for {
						k, v, err := src.Next()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							t.Fatalf("[%s, %s): %v", lo, hi, err)
						}
						got = append(got, schema.Pair{Key: bytes.Clone(k), Value: bytes.Clone(v)})
					}
					file.Close()
					if !slices.EqualFunc(got, want, func(a, b schema.Pair) bool {
						return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
					}) {
						t.Errorf("[%s, %s): %d pairs, want %d", lo, hi, len(got), len(want))
					}
				}
			}
		})
	}
}

// TestScanRunRejectsBadRuns scans runs of both formats that are cut
// short, out of order, followed by more bytes or (a run file) of a wrong
// count: each must fail with its format's sentinel.
func TestScanRunRejectsBadRuns(t *testing.T) {
	t.Parallel()
	run := numberedRun(2000)
	corruptions := []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"cut short", func(b []byte) []byte { return b[:len(b)-5] }},
		{"cut in the header", func(b []byte) []byte { return b[:1] }},
		{"extra bytes", func(b []byte) []byte { return append(b, 0xc4, 0) }},
		{"out of order", func(b []byte) []byte {
			i, j := bytes.Index(b, []byte("k001000")), bytes.Index(b, []byte("k001002"))
			copy(b[i:], "k001002")
			copy(b[j:], "k001000")
			return b
		}},
	}
	for _, tt := range formats {
		for _, c := range corruptions {
			t.Run(tt.name+" "+c.name, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "a.run")
				writeRunFile(t, path, tt.format, run)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, c.corrupt(data), 0o600); err != nil {
					t.Fatal(err)
				}
				if _, err := scanRun(path, tt.format, nil); !errors.Is(err, tt.base) {
					t.Fatalf("scan: %v, want %v", err, tt.base)
				}
			})
		}
	}
	t.Run("runfile wrong count", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "a.run")
		writeRunFile(t, path, formatRunfile, run)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-1]-- // 2000 is two bytes of uvarint
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := scanRun(path, formatRunfile, nil); !errors.Is(err, runfile.ErrCorrupt) {
			t.Fatalf("scan: %v, want runfile.ErrCorrupt", err)
		}
	})
}
