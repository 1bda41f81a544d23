package reducer_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// foldValue is a random raw value for f.
func foldValue(rng *rand.Rand, f fold.Fold) string {
	switch f {
	case fold.Count:
		return "x"
	case fold.Concat:
		return string(rune('a' + rng.IntN(26)))
	}
	if rng.IntN(5) == 0 {
		return strconv.FormatFloat(float64(rng.IntN(1000))/8, 'g', -1, 64)
	}
	return strconv.Itoa(rng.IntN(2001) - 1000)
}

// TestKeyedSinkSpillMatchesInMemory folds the same random task outputs
// with every fold, once with the default budget (nothing spilled) and
// once with budgets so small that every few keys spill a run and the
// merge takes several passes, and checks that the outputs are the same,
// and that the same as folding each key's values in one accumulator.
func TestKeyedSinkSpillMatchesInMemory(t *testing.T) {
	t.Parallel()
	for _, f := range []fold.Fold{fold.Sum, fold.Count, fold.Min, fold.Max, fold.Concat} {
		for _, parts := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", f.Name(), parts), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(uint64(parts), uint64(len(f.Name()))))
				// Task outputs as a map side makes them: partials by partition.
				var results []*schema.Result
				want := map[string]fold.Accumulator{}
				for i := range uint64(10) {
					results = append(results, randomTaskRuns(t, rng, f, i, parts, rng.IntN(80), 300, want)...)
				}
				wantOut := map[string]string{}
				for k, a := range want {
					wantOut[k] = string(a.AppendFinal(nil))
				}
				for _, tc := range []struct {
					name   string
					memory int64
					fanIn  int
				}{{"in memory", 0, 0}, {"spilling", 1, 2}, {"spilling, fan-in 3", 20 << 10, 3}} {
					parent := t.TempDir()
					dir := filepath.Join(parent, "out")
					work := filepath.Join(parent, "work")
					s, err := reducer.NewKeyedSink(reducer.KeyedConfig{
						Dir: dir, Job: "spilljob", Partitions: parts, Fold: f,
						WorkDir: work, Memory: tc.memory, FanIn: tc.fanIn,
					})
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range results {
						if _, err := s.Merge(context.Background(), r); err != nil {
							t.Fatal(err)
						}
					}
					if err := s.Commit(context.Background(), false); err != nil {
						t.Fatalf("%s: Commit: %v", tc.name, err)
					}
					if got := readParts(t, dir, parts); !maps.Equal(got, wantOut) {
						t.Errorf("%s: output differs from folding each key in one accumulator (%d keys, want %d)", tc.name, len(got), len(wantOut))
					}
					if _, err := os.Stat(work); !os.IsNotExist(err) {
						t.Errorf("%s: the work folder is left: %v", tc.name, err)
					}
				}
			})
		}
	}
}

// TestKeyedSinkSpillOnFullDisk makes the first spilled run land on a full
// disk (/dev/full, through a symlink where the run is written) and checks
// that the error says so and names the settings to change, and that no
// output appears.
func TestKeyedSinkSpillOnFullDisk(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	parent := t.TempDir()
	dir, work := filepath.Join(parent, "out"), filepath.Join(parent, "work")
	s, err := reducer.NewKeyedSink(reducer.KeyedConfig{Dir: dir, Job: "fulljob", Fold: fold.Sum, WorkDir: work, Memory: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(work, "fold-p0-0.run.tmp")); err != nil {
		t.Fatal(err)
	}
	pairs := map[string]string{}
	for i := range 5000 {
		pairs[fmt.Sprintf("key-%05d", i)] = "1"
	}
	ctx := context.Background()
	_, err = s.Merge(ctx, keyedRun(t, 0, 0, pairs))
	if err == nil {
		err = s.Commit(ctx, false)
	} else {
		s.Abort()
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want one wrapping ENOSPC", err)
	}
	for _, w := range []string{"work folder", "--store", "--memory"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q: %v", w, err)
		}
	}
	if names := dirNames(t, parent); slices.Contains(names, "out") {
		t.Errorf("output published after a failed spill: %q", names)
	}
}

// TestKeyedSinkKeptRunsMatchHashed folds random high-cardinality task
// outputs, some inline and some in spill files, with every fold: hashed
// into the table only, with the lanes keeping the sorted runs (merged in
// groups of a few, then at Commit), and keeping runs under a budget so
// small that the table spills too and the merge takes several passes. The
// part files must be byte for byte the same, equal to folding each key in
// one accumulator; a Suspend must leave the results' spill files, which a
// resume reads again, and a Commit must leave no run in the work folder.
func TestKeyedSinkKeptRunsMatchHashed(t *testing.T) {
	t.Parallel()
	for _, f := range []fold.Fold{fold.Sum, fold.Count, fold.Min, fold.Max, fold.Concat} {
		for _, parts := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", f.Name(), parts), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(uint64(parts)+7, uint64(len(f.Name()))))
				spillDir := t.TempDir()
				spilled := map[string][]byte{} // the results' spill files
				var results []*schema.Result
				want := map[string]fold.Accumulator{}
				for i := range uint64(24) {
					for p, r := range randomTaskRuns(t, rng, f, i, parts, 50+rng.IntN(150), 3000, want) {
						if i%3 == 0 {
							r.Spill = filepath.Join(spillDir, fmt.Sprintf("%d.p%d", i, p))
							spilled[r.Spill], r.Payload = r.Payload, nil
						}
						results = append(results, r)
					}
				}
				wantOut := map[string]string{}
				for k, a := range want {
					wantOut[k] = string(a.AppendFinal(nil))
				}
				var first []string
				for _, tc := range []struct {
					name      string
					keepAfter int64
					memory    int64
					fanIn     int
					parallel  int // > 1: the final merge split by key ranges
				}{
					{"hashed", 1 << 40, 0, 0, 1},
					{"kept", 1, 0, 0, 1},
					{"kept, spilling, fan-in 2", 1, 48 << 10, 2, 1},
					{"kept, merged in key ranges", 1, 0, 0, 4},
					{"kept, spilling, merged in key ranges", 1, 48 << 10, 64, 3},
					{"hashed, spilling, merged in key ranges", 1 << 40, 48 << 10, 64, 2},
				} {
					parent := t.TempDir()
					dir := filepath.Join(parent, "out")
					work := filepath.Join(parent, "work")
					newSink := func() *reducer.KeyedSink {
						s, err := reducer.NewKeyedSink(reducer.KeyedConfig{
							Dir: dir, Job: "keepjob", Partitions: parts, Fold: f,
							WorkDir: work, Memory: tc.memory, FanIn: tc.fanIn, Parallel: tc.parallel * parts,
						})
						if err != nil {
							t.Fatal(err)
						}
						reducer.SetKeep(s, tc.keepAfter, 4)
						if tc.parallel > 1 {
							reducer.SetRangeMin(s, 0)
						}
						return s
					}
					merge := func(s *reducer.KeyedSink) {
						for _, r := range results {
							if _, err := s.Merge(context.Background(), r); err != nil {
								t.Fatal(err)
							}
						}
					}
					for path, data := range spilled {
						if err := os.WriteFile(path, data, 0o600); err != nil {
							t.Fatal(err)
						}
					}
					s := newSink()
					merge(s)
					if err := s.Suspend(context.Background()); err != nil {
						t.Fatal(err)
					}
					if left, _ := os.ReadDir(spillDir); len(left) != 8*parts {
						t.Fatalf("%s: %d result spill files after Suspend, want %d", tc.name, len(left), 8*parts)
					}
					s = newSink()
					merge(s)
					if err := s.Commit(context.Background(), false); err != nil {
						t.Fatalf("%s: Commit: %v", tc.name, err)
					}
					if got := readParts(t, dir, parts); !maps.Equal(got, wantOut) {
						t.Errorf("%s: output differs from folding each key in one accumulator (%d keys, want %d)", tc.name, len(got), len(wantOut))
					}
					var files []string
					for p := range parts {
						data, err := os.ReadFile(filepath.Join(dir, reducer.PartName(p)))
						if err != nil {
							t.Fatal(err)
						}
						files = append(files, string(data))
					}
					if first == nil {
						first = files
					} else if !slices.Equal(files, first) {
						t.Errorf("%s: part files differ from those of %s", tc.name, "hashed")
					}
					if _, err := os.Stat(work); !os.IsNotExist(err) {
						t.Errorf("%s: the work folder is left: %v", tc.name, err)
					}
				}
			})
		}
	}
}

// randomTaskRuns makes the results of task i as a map side would: n random
// pairs of keys key-0 to key-(keys-1), folded by f into one partial per key
// and partition, one result per partition. It folds the same values into
// want, which then holds what the reduce of every task must give.
func randomTaskRuns(t *testing.T, rng *rand.Rand, f fold.Fold, i uint64, parts, n, keys int, want map[string]fold.Accumulator) []*schema.Result {
	t.Helper()
	byPart := make([]map[string]fold.Accumulator, parts)
	for p := range byPart {
		byPart[p] = map[string]fold.Accumulator{}
	}
	for range n {
		k := fmt.Sprintf("key-%d", rng.IntN(keys))
		v := foldValue(rng, f)
		p := schema.Partition([]byte(k), parts)
		for _, m := range []map[string]fold.Accumulator{byPart[p], want} {
			if m[k] == nil {
				m[k] = f.New()
			}
			if err := m[k].Add([]byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	results := make([]*schema.Result, parts)
	for p, accs := range byPart {
		pairs := map[string]string{}
		for k, a := range accs {
			pairs[k] = string(a.AppendPartial(nil))
		}
		results[p] = keyedRun(t, i, p, pairs)
	}
	return results
}
