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
	"github.com/jetmr/jetmr/internal/runtest"
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

// checkResumes checks that readers started at the pairs of the run data,
// at the offsets a reader from the start gave them, read what that reader
// read from there (see runtest.CheckResumes), and that one skipping
// values reads the same keys. It returns what the reader from the start
// read.
func checkResumes(t *testing.T, data []byte) runtest.Read {
	t.Helper()
	r, err := runfile.NewReader("run", bytes.NewReader(data))
	if err != nil {
		if !errors.Is(err, runfile.ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return runtest.Read{Err: err}
	}
	all := runtest.ReadAll(r)
	runtest.CheckResumes(t, all, func(i int, off int64) runtest.Reader {
		return runfile.NewReaderAt("run", bytes.NewReader(data[off:]), off, uint64(i))
	}, runfile.ErrCorrupt)
	keys, err := runfile.NewReader("run", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	keys.SkipValues()
	runtest.CheckKeys(t, all, keys, runfile.ErrCorrupt)
	return all
}

// TestReaderAtReadsFromEachPair reads runs from their start, and from
// their pairs at the offsets that read gave, in memory and in the file:
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
		if all.Err != nil || len(all.Pairs) != n || all.End != int64(len(data)) {
			t.Fatalf("%d pairs: read %d, to byte %d of %d: %v", n, len(all.Pairs), all.End, len(data), all.Err)
		}
		if n > 0 {
			checkResumes(t, data[:len(data)-1]) // cut short
		}
		for _, i := range []int{0, n / 2, n - 1} {
			if i < 0 || i >= n {
				continue
			}
			got := readFileAt(t, path, all.Pairs[i].Off, uint64(i))
			if got.Err != nil || len(got.Pairs) != n-i || got.End != int64(len(data)) || !bytes.Equal(got.Pairs[0].Key, all.Pairs[i].Key) {
				t.Errorf("%d pairs, from pair %d in the file: read %d to byte %d: %v", n, i, len(got.Pairs), got.End, got.Err)
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
	off, tenth := all.Pairs[5].Off, all.Pairs[10].Off
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
			got := runtest.ReadAll(runfile.NewReaderAt("run", bytes.NewReader(tt.data[off:]), off, tt.pairs))
			if !errors.Is(got.Err, runfile.ErrCorrupt) {
				t.Fatalf("from pair 5: %v, want ErrCorrupt", got.Err)
			}
		})
	}
	if got := readFileAt(t, path, int64(len(good))+10, 5); !errors.Is(got.Err, runfile.ErrCorrupt) {
		t.Errorf("from past the end: %v, want ErrCorrupt", got.Err)
	}
}

// readFileAt reads the run file at path from its pair of index pairs,
// which starts at byte off.
func readFileAt(t *testing.T, path string, off int64, pairs uint64) runtest.Read {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return runtest.ReadAll(runfile.NewReaderAt(path, f, off, pairs))
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
