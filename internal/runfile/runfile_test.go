package runfile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/internal/runfile"
)

// TestMergeFilesFoldsAcrossPasses spills random counts as many run files
// and checks that merging them, with fan-ins small enough to need several
// passes, gives every key's total, each key once and in order, and
// leaves no intermediate file behind.
func TestMergeFilesFoldsAcrossPasses(t *testing.T) {
	t.Parallel()
	for _, fanIn := range []int{2, 3, 64} {
		t.Run(strconv.Itoa(fanIn), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(1, uint64(fanIn)))
			want := map[string]int64{}
			var paths []string
			tab := fold.NewTable(fold.Sum)
			for r := range 23 {
				for range rng.IntN(500) {
					k := fmt.Sprintf("key%04d", rng.IntN(2000))
					v := rng.Int64N(100)
					want[k] += v
					tab.AddInt([]byte(k), v)
				}
				p := filepath.Join(dir, fmt.Sprintf("r%d.run", r))
				if err := runfile.WriteTable(p, false, tab, tab.Sorted(1)[0]); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
				tab.Reset(0)
			}
			tab.AddInt([]byte("key0000"), 5)
			want["key0000"] += 5
			extra := []runfile.Source{runfile.NewTableSource(tab, tab.Sorted(1)[0])}
			got := map[string]int64{}
			last := ""
			err := runfile.MergeFiles(context.Background(), paths, extra, dir, fanIn, false, fold.Sum, true, func(k, v []byte) error {
				if string(k) <= last && last != "" {
					return fmt.Errorf("key %q after %q", k, last)
				}
				last = string(k)
				n, err := strconv.ParseInt(string(v), 10, 64)
				got[string(k)] = n
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d keys, want %d", len(got), len(want))
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%s: %d, want %d", k, got[k], n)
				}
			}
			left, _ := filepath.Glob(filepath.Join(dir, "merge-*"))
			if len(left) > 0 {
				t.Errorf("intermediate files left: %q", left)
			}
		})
	}
}

func TestReaderRejectsCutRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tab := fold.NewTable(fold.Count)
	for i := range 100 {
		tab.Add([]byte(strconv.Itoa(i)), nil)
	}
	p := filepath.Join(dir, "a.run")
	if err := runfile.WriteTable(p, true, tab, tab.Sorted(1)[0]); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 5, len(data) / 2, len(data) - 1} {
		os.WriteFile(p, data[:cut], 0o600)
		err := runfile.MergeFiles(context.Background(), []string{p}, nil, dir, 64, false, fold.Count, true, func(k, v []byte) error { return nil })
		if !errors.Is(err, runfile.ErrCorrupt) {
			t.Errorf("cut at %d of %d: %v, want ErrCorrupt", cut, len(data), err)
		}
	}
}
