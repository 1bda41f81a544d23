package mapper

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/schema"
)

// tableRuns is the runs a summing combiner that hashes every word encodes
// for the counts want: what Wordcount's output must be byte for byte.
func tableRuns(t *testing.T, want map[string]int64, partitions int) [][]byte {
	t.Helper()
	ref := NewCombiner(fold.Sum)
	for _, w := range slices.Sorted(func(yield func(string) bool) {
		for w := range want {
			if !yield(w) {
				return
			}
		}
	}) {
		if err := ref.EmitInt([]byte(w), want[w]); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := ref.EncodeRuns(partitions)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// idText is n lines of ids drawn from distinct ones with rng, each
// prefix+digits; every 500th line adds an upper-case and a non-ASCII word.
func idText(rng *rand.Rand, n, distinct int, prefix string) []byte {
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "%s%07d\n", prefix, rng.IntN(distinct))
		if i%500 == 0 {
			b = append(b, "Ünïcode ID x\n"...)
		}
	}
	return b
}

// TestWordcountSortedCountsEncodeAsTable checks that a chunk of mostly
// distinct words, which Wordcount counts by sorting, encodes the very
// runs a combiner that hashes every word encodes: short keys, keys longer
// than 8 bytes that share their first 8, prose then ids, one and several
// partitions, unbounded and with limits small enough that the sorted
// batches spill.
func TestWordcountSortedCountsEncodeAsTable(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	inputs := map[string][]byte{
		"short ids":       idText(rng, 200000, 150000, "u"),
		"long ids":        idText(rng, 100000, 60000, "usersessionid"),
		"prose then ids":  append(englishText(150<<10), idText(rng, 50000, 40000, "k")...),
		"ids repeat much": idText(rng, 100000, 20000, "u"),
	}
	for name, in := range inputs {
		want := referenceWordcount(in)
		for _, partitions := range []int{1, 3} {
			for _, limit := range []int64{0, 1 << 20, 256 << 10} {
				t.Run(fmt.Sprintf("%s/p%d/limit%d", name, partitions, limit), func(t *testing.T) {
					t.Parallel()
					wantRuns := tableRuns(t, want, partitions)
					cfg := CombineConfig{Partitions: partitions, Limit: limit, Name: "wc"}
					if limit > 0 {
						cfg.Dir = t.TempDir()
					}
					c, err := NewBoundedCombiner(fold.Sum, cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if err := Wordcount(context.Background(), in, c); err != nil {
						t.Fatal(err)
					}
					if limit > 0 && c.Peak() > limit {
						t.Errorf("held %d bytes, more than the limit %d", c.Peak(), limit)
					}
					var got [][]byte
					if c.Spilled() {
						for part := range partitions {
							var buf bytes.Buffer
							n, err := c.WriteRun(context.Background(), part, &buf)
							if err != nil {
								t.Fatal(err)
							}
							schema.PutRunHeader(buf.Bytes(), n)
							got = append(got, buf.Bytes())
						}
					} else {
						if c.batch == nil && (name == "short ids" || name == "long ids") {
							t.Error("the chunk of ids was not counted by sorting")
						}
						if got, err = c.EncodeRuns(partitions); err != nil {
							t.Fatal(err)
						}
					}
					for part := range partitions {
						if !c.Spilled() {
							if !bytes.Equal(got[part], wantRuns[part]) {
								t.Fatalf("partition %d: %d bytes differ from the table's %d", part, len(got[part]), len(wantRuns[part]))
							}
							continue
						}
						// A merged run's header takes 5 bytes whatever its
						// length: the pairs must be the same.
						g, err := schema.DecodeRun(got[part])
						if err != nil {
							t.Fatal(err)
						}
						w, err := schema.DecodeRun(wantRuns[part])
						if err != nil {
							t.Fatal(err)
						}
						if !slices.EqualFunc(g, w, func(a, b schema.Pair) bool {
							return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
						}) {
							t.Fatalf("partition %d: %d pairs differ from the table's %d", part, len(g), len(w))
						}
					}
				})
			}
		}
	}
}

// TestCombinerBatchThenEmit checks that pairs emitted after a sorted batch
// was taken fold into the same state, whichever way the runs are read.
func TestCombinerBatchThenEmit(t *testing.T) {
	t.Parallel()
	in := idText(rand.New(rand.NewPCG(13, 14)), 40000, 30000, "u")
	want := referenceWordcount(in)
	c := NewCombiner(fold.Sum)
	if err := Wordcount(context.Background(), in, c); err != nil {
		t.Fatal(err)
	}
	if c.batch == nil {
		t.Fatal("the chunk of ids was not counted by sorting")
	}
	if c.Len() != len(want) {
		t.Errorf("Len %d, want %d", c.Len(), len(want))
	}
	for _, w := range []string{"u0000001", "zzz", "u0000001"} {
		if err := c.EmitInt([]byte(w), 2); err != nil {
			t.Fatal(err)
		}
		want[w] += 2
	}
	got, err := c.EncodeRuns(2)
	if err != nil {
		t.Fatal(err)
	}
	wantRuns := tableRuns(t, want, 2)
	for part := range got {
		if !bytes.Equal(got[part], wantRuns[part]) {
			t.Fatalf("partition %d differs from the table's", part)
		}
	}
}

func TestRadixSortRecs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{0, 1, 255, 256, 5000} {
		recs := make([]countRec, n)
		for i := range recs {
			recs[i].pre = rng.Uint64() & 0x00ff00ffff0000ff // some bytes all alike
			recs[i].count = int64(i)
		}
		want := slices.Clone(recs)
		slices.SortStableFunc(want, func(a, b countRec) int {
			switch {
			case a.pre < b.pre:
				return -1
			case a.pre > b.pre:
				return 1
			}
			return 0
		})
		radixSortRecs(recs)
		if n >= 256 && !slices.Equal(recs, want) {
			t.Fatalf("%d records: not sorted stably", n)
		}
		if !slices.IsSortedFunc(recs, func(a, b countRec) int {
			if a.pre < b.pre {
				return -1
			}
			if a.pre > b.pre {
				return 1
			}
			return 0
		}) {
			t.Fatalf("%d records: not sorted", n)
		}
	}
}

// TestWordcountTwiceIntoOneCombiner counts two chunks of ids into one
// combiner, unbounded and bounded: the second chunk's sorted batch must
// add to the first's, not replace it.
func TestWordcountTwiceIntoOneCombiner(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 18))
	a, b := idText(rng, 40000, 30000, "u"), idText(rng, 40000, 30000, "u")
	want := referenceWordcount(append(bytes.Clone(a), b...))
	for _, limit := range []int64{0, 4 << 20} {
		cfg := CombineConfig{Limit: limit, Name: "wc"}
		if limit > 0 {
			cfg.Dir = t.TempDir()
		}
		c, err := NewBoundedCombiner(fold.Sum, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{a, b} {
			if err := Wordcount(context.Background(), in, c); err != nil {
				t.Fatal(err)
			}
		}
		var got []schema.Pair
		if c.Spilled() {
			var buf bytes.Buffer
			n, err := c.WriteRun(context.Background(), 0, &buf)
			if err != nil {
				t.Fatal(err)
			}
			schema.PutRunHeader(buf.Bytes(), n)
			got, err = schema.DecodeRun(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
		} else {
			runs, err := c.EncodeRuns(1)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = schema.DecodeRun(runs[0]); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		if len(got) != len(want) {
			t.Fatalf("limit %d: %d words, want %d", limit, len(got), len(want))
		}
		for _, p := range got {
			if w := fmt.Sprint(want[string(p.Key)]); string(p.Value) != w {
				t.Fatalf("limit %d: %q counted %s, want %s", limit, p.Key, p.Value, w)
			}
		}
	}
}
