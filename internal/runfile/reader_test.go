package runfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmr/jetmr/internal/runfile"
)

// writeRun writes n pairs as a run file in dir: keys k000000..., values
// of i%300 bytes.
func writeRun(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("r%d.run", n))
	w, err := runfile.Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("v"), 300)
	for i := range n {
		if err := w.Write(fmt.Appendf(nil, "k%06d", i), long[:i%300]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pair is a pair read and where it starts.
type pair struct {
	key, value []byte
	off        int64
}

// read is what a Reader read of a run.
type read struct {
	pairs []pair
	end   int64 // Offset after the last Next
	err   error // nil: the run was read to its end
}

// readFrom reads a run with r, copying the pairs.
func readFrom(r *runfile.Reader) read {
	var got read
	for {
		k, v, err := r.Next()
		if err != nil {
			got.end = r.Offset()
			if !errors.Is(err, io.EOF) {
				got.err = err
			}
			return got
		}
		got.pairs = append(got.pairs, pair{bytes.Clone(k), bytes.Clone(v), r.Offset()})
	}
}

// checkResumes checks that a reader started at a pair of the run data
// (each of its first and last 50, and 50 between), at the offset a
// reader from the start gave it, reads what that reader read from it on:
// the same pairs at the same offsets, and the same end, or an error where
// it failed. It returns what the reader from the start read.
func checkResumes(t *testing.T, data []byte) read {
	t.Helper()
	r, err := runfile.NewReader("run", bytes.NewReader(data))
	if err != nil {
		if !errors.Is(err, runfile.ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return read{err: err}
	}
	all := readFrom(r)
	if all.err != nil && !errors.Is(all.err, runfile.ErrCorrupt) {
		t.Fatalf("error does not wrap ErrCorrupt: %v", all.err)
	}
	n := len(all.pairs)
	for i, p := range all.pairs {
		if i >= 50 && i < n-50 && i%max(1, n/50) != 0 {
			continue
		}
		got := readFrom(runfile.NewReaderAt("run", bytes.NewReader(data[p.off:]), p.off, uint64(i)))
		if (got.err == nil) != (all.err == nil) || got.end != all.end {
			t.Fatalf("from pair %d at byte %d: ended at byte %d with %v; from the start: at byte %d with %v", i, p.off, got.end, got.err, all.end, all.err)
		}
		if got.err != nil && !errors.Is(got.err, runfile.ErrCorrupt) {
			t.Fatalf("from pair %d: error does not wrap ErrCorrupt: %v", i, got.err)
		}
		if len(got.pairs) != n-i {
			t.Fatalf("from pair %d: %d pairs, want %d", i, len(got.pairs), n-i)
		}
		for j, q := range got.pairs {
			w := all.pairs[i+j]
			if !bytes.Equal(q.key, w.key) || !bytes.Equal(q.value, w.value) || q.off != w.off {
				t.Fatalf("from pair %d: pair %d differs", i, i+j)
			}
		}
	}
	return all
}

// TestReaderAtReadsFromEachPair reads runs from their start, and from
// their pairs at the offsets that read gave, in memory and with OpenAt:
// the same pairs, the offsets counted from the file's start, the last
// Offset the file's size.
func TestReaderAtReadsFromEachPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []int{0, 1, 7, 200, 5000} {
		path := writeRun(t, dir, n)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		all := checkResumes(t, data)
		if all.err != nil || len(all.pairs) != n || all.end != int64(len(data)) {
			t.Fatalf("%d pairs: read %d, to byte %d of %d: %v", n, len(all.pairs), all.end, len(data), all.err)
		}
		if n > 0 {
			checkResumes(t, data[:len(data)-1]) // cut short
		}
		for _, i := range []int{0, n / 2, n - 1} {
			if i < 0 || i >= n {
				continue
			}
			r, err := runfile.OpenAt(path, all.pairs[i].off, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			got := readFrom(r)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if got.err != nil || len(got.pairs) != n-i || got.end != int64(len(data)) || !bytes.Equal(got.pairs[0].key, all.pairs[i].key) {
				t.Errorf("%d pairs, OpenAt pair %d: read %d to byte %d: %v", n, i, len(got.pairs), got.end, got.err)
			}
		}
	}
}

// TestReaderAtRejectsBadRuns starts readers at pair 5 of a run of 20
// that is bad after it, or with a wrong pair number: each must fail with
// ErrCorrupt, as a reader from the run's start does.
func TestReaderAtRejectsBadRuns(t *testing.T) {
	t.Parallel()
	path := writeRun(t, t.TempDir(), 20)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	all := checkResumes(t, good)
	off, tenth := all.pairs[5].off, all.pairs[10].off
	tests := []struct {
		name  string
		data  []byte
		pairs uint64
	}{
		{"cut short", good[:len(good)-1], 5},
		{"cut in a pair", good[:tenth+3], 5},
		{"wrong pair number", good, 6},
		{"bad length", append(bytes.Clone(good[:tenth]), bytes.Repeat([]byte{0xff}, 10)...), 5},
		{"item past the limit", binary.AppendUvarint(bytes.Clone(good[:tenth]), runfile.MaxItem+2), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := readFrom(runfile.NewReaderAt("run", bytes.NewReader(tt.data[off:]), off, tt.pairs))
			if !errors.Is(got.err, runfile.ErrCorrupt) {
				t.Fatalf("from pair 5: %v, want ErrCorrupt", got.err)
			}
		})
	}
	if _, err := runfile.OpenAt(filepath.Join(t.TempDir(), "none.run"), off, 5); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenAt of no file: %v, want os.ErrNotExist", err)
	}
	r, err := runfile.OpenAt(path, int64(len(good))+10, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.Next(); !errors.Is(err, runfile.ErrCorrupt) {
		t.Errorf("OpenAt past the end: %v, want ErrCorrupt", err)
	}
}

// FuzzReader checks that any bytes read as a run fail with ErrCorrupt or
// give pairs, and that a reader started at any of those pairs reads what
// the reader from the start read from there.
func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	for _, n := range []int{0, 1, 3} {
		path := filepath.Join(dir, fmt.Sprintf("r%d.run", n))
		w, err := runfile.Create(path, false)
		if err != nil {
			f.Fatal(err)
		}
		for i := range n {
			w.Write(fmt.Appendf(nil, "k%d", i), []byte("12"))
		}
		if err := w.Close(); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)-1])
	}
	f.Add([]byte("jetmr-run\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02"))
	f.Add([]byte("jetmr-run\x01\x02k\xff\xff\xff\xff\x0f"))
	f.Add([]byte("jetmr-run\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkResumes(t, data)
	})
}
