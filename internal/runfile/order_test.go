package runfile_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/internal/runfile"
	"github.com/jetmr/jetmr/schema"
)

// TestMergeFilesByKeyOrder spills sums sorted in a numeric-reverse key
// order and merges them with fan-ins that need several passes: the keys
// come once each, in that order, with their totals.
func TestMergeFilesByKeyOrder(t *testing.T) {
	t.Parallel()
	order, err := schema.ParseKeyOrder("numeric-reverse")
	if err != nil {
		t.Fatal(err)
	}
	keys := schema.Keys{Order: order}
	for _, fanIn := range []int{2, 5, 64} {
		dir := t.TempDir()
		rng := rand.New(rand.NewPCG(3, uint64(fanIn)))
		want := map[string]int64{}
		var paths []string
		tab := fold.NewTable(fold.Sum)
		for r := range 17 {
			for range rng.IntN(300) {
				k := strconv.Itoa(rng.IntN(3000) - 1000)
				want[k]++
				tab.AddInt([]byte(k), 1)
			}
			p := filepath.Join(dir, fmt.Sprintf("r%d.run", r))
			if err := runfile.WriteTable(p, false, tab, fold.SortedBy(tab, keys, 1)[0]); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
			tab.Reset(0)
		}
		got := map[string]int64{}
		var last []byte
		err := runfile.MergeFilesBy(context.Background(), paths, nil, dir, fanIn, false, fold.Sum, true, keys.Compare, func(k, v []byte) error {
			if last != nil && keys.Compare(last, k) >= 0 {
				return fmt.Errorf("key %q after %q", k, last)
			}
			last = append(last[:0], k...)
			n, err := strconv.ParseInt(string(v), 10, 64)
			got[string(k)] = n
			return err
		})
		if err != nil {
			t.Fatalf("fan-in %d: %v", fanIn, err)
		}
		if len(got) != len(want) {
			t.Fatalf("fan-in %d: %d keys, want %d", fanIn, len(got), len(want))
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("fan-in %d: %s: %d, want %d", fanIn, k, got[k], n)
			}
		}
	}
}
