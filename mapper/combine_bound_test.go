package mapper

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
	"github.com/jetmr/jetmr/schema"
)

// TestBoundedCombinerMatchesUnbounded emits random pairs into combiners
// with tiny limits, which spill sorted runs many times (more than a merge
// reads at once with the smallest), and checks that every fold, and no
// fold, gives the runs of a combiner without a limit; that the table never
// held more than the limit; and that no spilled run is left behind.
func TestBoundedCombinerMatchesUnbounded(t *testing.T) {
	t.Parallel()
	folds := []fold.Fold{nil, fold.Sum, fold.Count, fold.Min, fold.Max, fold.Concat}
	for _, fd := range folds {
		for _, parts := range []int{1, 3} {
			for _, limit := range []int64{1, 64 << 10, 200 << 10} {
				name := fmt.Sprintf("%v/%d/%d", fd, parts, limit)
				if fd != nil {
					name = fmt.Sprintf("%s/%d/%d", fd.Name(), parts, limit)
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					rng := rand.New(rand.NewPCG(uint64(limit), uint64(parts)))
					free := NewCombiner(fd)
					bound, err := NewBoundedCombiner(fd, CombineConfig{Partitions: parts, Limit: limit, Dir: dir, Name: "t"})
					if err != nil {
						t.Fatal(err)
					}
					n := 20000
					if limit == 1 {
						n = 300 // a spill per pair
					}
					for range n {
						k := "k" + strconv.Itoa(rng.IntN(n/2))
						v := strconv.Itoa(rng.IntN(1000) - 500)
						if rng.IntN(10) == 0 {
							v += ".5"
						}
						emitAll(t, free, k, v)
						emitAll(t, bound, k, v)
					}
					if !bound.Spilled() {
						t.Fatal("the combiner never spilled")
					}
					if limit > 1 && bound.Peak() > limit {
						t.Errorf("the table held %d bytes, more than its limit %d", bound.Peak(), limit)
					}
					want, err := free.Runs(parts)
					if err != nil {
						t.Fatal(err)
					}
					got, err := bound.Runs(parts)
					if err != nil {
						t.Fatal(err)
					}
					for p := range want {
						if g, w := runString(got[p]), runString(want[p]); g != w {
							t.Errorf("partition %d: %d pairs, want %d:\n%.300s\nwant\n%.300s", p, len(got[p]), len(want[p]), g, w)
						}
					}
					bound.Close()
					if left, _ := os.ReadDir(dir); len(left) > 0 {
						t.Errorf("%d files left in the spill folder, first %s", len(left), left[0].Name())
					}
				})
			}
		}
	}
}

// TestBoundedCombinerWriteRun checks the streamed form of a spilled
// combiner's runs: a long header the caller fills in, which both run
// readers accept, holding the pairs of the unbounded combiner.
func TestBoundedCombinerWriteRun(t *testing.T) {
	t.Parallel()
	free := NewCombiner(fold.Sum)
	bound, err := NewBoundedCombiner(fold.Sum, CombineConfig{Partitions: 2, Limit: 32 << 10, Dir: t.TempDir(), Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	for i := range 5000 {
		emitAll(t, free, fmt.Sprintf("u%05d", i*7%3000), "1")
		emitAll(t, bound, fmt.Sprintf("u%05d", i*7%3000), "1")
	}
	want, err := free.EncodeRuns(2)
	if err != nil {
		t.Fatal(err)
	}
	for part := range 2 {
		var buf writeBuffer
		n, err := bound.WriteRun(context.Background(), part, &buf)
		if err != nil {
			t.Fatal(err)
		}
		schema.PutRunHeader(buf, n)
		got, err := schema.DecodeRun(buf)
		if err != nil {
			t.Fatal(err)
		}
		wantPairs, err := schema.DecodeRun(want[part])
		if err != nil {
			t.Fatal(err)
		}
		if runString(got) != runString(wantPairs) {
			t.Errorf("partition %d: %d pairs, want %d", part, len(got), len(wantPairs))
		}
		if _, err := bound.WriteRun(context.Background(), 2, &buf); err == nil {
			t.Error("WriteRun of partition 2 of 2 should fail")
		}
	}
}

type writeBuffer []byte

func (b *writeBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// TestWordcountWithinCombinerLimit counts a chunk far larger than the
// combiner's limit, whatever the chunk size gave: ids (Wordcount counts
// straight into the combiner), and prose followed by ids (its own word
// table fills and hands over). The combiner and word table together never
// hold more than the limit, and the counts are the reference's.
func TestWordcountWithinCombinerLimit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	var ids []byte
	for range 300000 {
		ids = fmt.Appendf(ids, "u%07d ", rng.IntN(200000))
	}
	const limit = 1 << 20
	for name, in := range map[string][]byte{"ids": ids, "prose then ids": append(englishText(1<<20), ids...)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := referenceWordcount(in)
			c, err := NewBoundedCombiner(fold.Sum, CombineConfig{Partitions: 2, Limit: limit, Dir: t.TempDir(), Name: "wc"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := Wordcount(context.Background(), in, c); err != nil {
				t.Fatal(err)
			}
			if !c.Spilled() {
				t.Fatal("the combiner never spilled")
			}
			if c.Peak() > limit {
				t.Errorf("held %d bytes, more than the limit %d", c.Peak(), limit)
			}
			runs, err := c.Runs(2)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, run := range runs {
				if !slices.IsSortedFunc(run, func(a, b schema.Pair) int { return compareKeys(a.Key, b.Key) }) {
					t.Error("run not sorted")
				}
				for _, p := range run {
					n, err := strconv.ParseInt(string(p.Value), 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					got[string(p.Key)] = n
				}
			}
			if !maps.Equal(got, want) {
				t.Fatalf("%d words, want %d", len(got), len(want))
			}
		})
	}
}

func compareKeys(a, b []byte) int { return slices.Compare(a, b) }

// TestBoundedCombinerSpillOnFullDisk makes the combiner's first spilled
// run land on a full disk (/dev/full, through a symlink where the run is
// written) and checks that Emit fails with an error that wraps ENOSPC and
// names the folder and the setting to change.
func TestBoundedCombinerSpillOnFullDisk(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	for _, fd := range []fold.Fold{fold.Sum, nil} {
		dir := t.TempDir()
		if err := os.Symlink("/dev/full", filepath.Join(dir, "full.c0.p0.run.tmp")); err != nil {
			t.Fatal(err)
		}
		c, err := NewBoundedCombiner(fd, CombineConfig{Limit: 64 << 10, Dir: dir, Name: "full"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; err == nil && i < 1_000_000; i++ {
			err = c.Emit(fmt.Appendf(nil, "key-%07d", i), []byte("1"))
		}
		c.Close()
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fold %v: error %v, want one wrapping ENOSPC", fd, err)
		}
		for _, w := range []string{dir, "--memory"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("fold %v: error does not mention %q: %v", fd, w, err)
			}
		}
	}
}
