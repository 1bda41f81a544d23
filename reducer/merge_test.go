package reducer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// randomRuns returns n sorted runs of random pairs, with keys repeated
// within and across runs; a value names its run and position.
func randomRuns(rng *rand.Rand, n int) [][]schema.Pair {
	runs := make([][]schema.Pair, n)
	for i := range runs {
		run := make([]schema.Pair, rng.IntN(40))
		for j := range run {
			run[j] = schema.Pair{
				Key:   fmt.Appendf(nil, "k%d", rng.IntN(25)),
				Value: fmt.Appendf(nil, "r%d.%d", i, j),
			}
		}
		if rng.IntN(5) == 0 {
			run = nil
		}
		slices.SortStableFunc(run, comparePairs)
		runs[i] = run
	}
	return runs
}

func comparePairs(a, b schema.Pair) int { return bytes.Compare(a.Key, b.Key) }

// wantMerge is the stable sort of all pairs, in run order.
func wantMerge(runs [][]schema.Pair) []schema.Pair {
	all := slices.Concat(runs...)
	slices.SortStableFunc(all, comparePairs)
	return all
}

func encodeRun(t testing.TB, run []schema.Pair) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := schema.EncodeRun(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func collect(pairs *[]schema.Pair) func(schema.Pair) error {
	return func(p schema.Pair) error {
		*pairs = append(*pairs, p)
		return nil
	}
}

func equalPairs(a, b []schema.Pair) bool {
	return slices.EqualFunc(a, b, func(x, y schema.Pair) bool {
		return bytes.Equal(x.Key, y.Key) && bytes.Equal(x.Value, y.Value)
	})
}

func TestMergeRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		runs := randomRuns(rng, rng.IntN(8))
		readers := make([]io.Reader, len(runs))
		for i, run := range runs {
			readers[i] = bytes.NewReader(encodeRun(t, run))
		}
		var got []schema.Pair
		if err := MergeRuns(context.Background(), readers, collect(&got)); err != nil {
			t.Fatal(err)
		}
		if want := wantMerge(runs); !equalPairs(got, want) {
			t.Fatalf("merged %d pairs, want %d, or in another order", len(got), len(want))
		}
	}
}

func TestMergeRunsErrors(t *testing.T) {
	good := encodeRun(t, []schema.Pair{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("3")}})
	unsorted := encodeRun(t, []schema.Pair{{Key: []byte("b")}, {Key: []byte("a")}})
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)-1],
		"empty":     nil,
		"unsorted":  unsorted,
		"not a run": []byte("\xa3abc"),
	} {
		readers := []io.Reader{bytes.NewReader(good), bytes.NewReader(bad)}
		err := MergeRuns(context.Background(), readers, func(schema.Pair) error { return nil })
		if !errors.Is(err, schema.ErrMalformed) {
			t.Errorf("%s run: err = %v, want ErrMalformed", name, err)
		}
	}

	boom := errors.New("boom")
	err := MergeRuns(context.Background(), []io.Reader{bytes.NewReader(good)}, func(schema.Pair) error { return boom })
	if err != boom {
		t.Errorf("emit error: got %v, want it as is", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = MergeRuns(ctx, []io.Reader{bytes.NewReader(good)}, func(schema.Pair) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}

	if err := MergeRuns(context.Background(), nil, func(schema.Pair) error { return boom }); err != nil {
		t.Errorf("no runs: err = %v", err)
	}
}

// writeRuns writes each run to a file in a new directory.
func writeRuns(t *testing.T, runs [][]schema.Pair) []string {
	dir := t.TempDir()
	paths := make([]string, len(runs))
	for i, run := range runs {
		paths[i] = filepath.Join(dir, fmt.Sprintf("run%d", i))
		if err := os.WriteFile(paths[i], encodeRun(t, run), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func dirEntries(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestMergeRunFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ files, fanIn int }{{9, 2}, {0, 2}, {1, 2}, {2, 2}, {3, 2}, {10, 3}, {16, 4}, {17, 4}, {3, 10}, {40, 5}} {
		runs := randomRuns(rng, tc.files)
		paths := writeRuns(t, runs)
		tmp := t.TempDir()
		var got []schema.Pair
		if err := MergeRunFiles(context.Background(), paths, tmp, tc.fanIn, collect(&got)); err != nil {
			t.Fatalf("%d files, fan-in %d: %v", tc.files, tc.fanIn, err)
		}
		if want := wantMerge(runs); !equalPairs(got, want) {
			t.Errorf("%d files, fan-in %d: merged %d pairs, want %d, or in another order", tc.files, tc.fanIn, len(got), len(want))
		}
		if left := dirEntries(t, tmp); len(left) > 0 {
			t.Errorf("%d files, fan-in %d: left %q in the temporary directory", tc.files, tc.fanIn, left)
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("input file removed: %v", err)
			}
		}
	}
}

func TestMergeRunFilesErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	runs := randomRuns(rng, 9)
	runs[6] = []schema.Pair{{Key: []byte("z")}, {Key: []byte("a")}} // unsorted
	paths := writeRuns(t, runs)
	for _, fanIn := range []int{2, 3, 9} {
		tmp := t.TempDir()
		err := MergeRunFiles(context.Background(), paths, tmp, fanIn, func(schema.Pair) error { return nil })
		if !errors.Is(err, schema.ErrMalformed) {
			t.Errorf("fan-in %d: err = %v, want ErrMalformed", fanIn, err)
		}
		if left := dirEntries(t, tmp); len(left) > 0 {
			t.Errorf("fan-in %d: left %q in the temporary directory", fanIn, left)
		}
	}

	if err := MergeRunFiles(context.Background(), paths, t.TempDir(), 1, nil); err == nil {
		t.Error("fan-in 1 should fail")
	}
	missing := append(slices.Clone(paths[:3]), filepath.Join(t.TempDir(), "missing"))
	if err := MergeRunFiles(context.Background(), missing, t.TempDir(), 2, func(schema.Pair) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}

	// An emit error in the final pass, after intermediate merges.
	boom := errors.New("boom")
	var some [][]schema.Pair
	for i := range 7 {
		some = append(some, []schema.Pair{{Key: fmt.Appendf(nil, "k%d", i)}})
	}
	tmp := t.TempDir()
	if err := MergeRunFiles(context.Background(), writeRuns(t, some), tmp, 2, func(schema.Pair) error { return boom }); err != boom {
		t.Errorf("emit error: got %v, want it as is", err)
	}
	if left := dirEntries(t, tmp); len(left) > 0 {
		t.Errorf("emit error: left %q in the temporary directory", left)
	}
}

// TestRunWriterLargeCount checks the array32 header against the schema's
// reader with enough pairs to need more than 16 bits of count.
func TestRunWriterLargeCount(t *testing.T) {
	dir := t.TempDir()
	var runs [][]schema.Pair
	for r := range 2 {
		run := make([]schema.Pair, 40000)
		for i := range run {
			run[i] = schema.Pair{Key: fmt.Appendf(nil, "%08d", i), Value: fmt.Appendf(nil, "%d", r)}
		}
		runs = append(runs, run)
	}
	paths := writeRuns(t, runs)
	out, err := mergeToFile(context.Background(), paths, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeRun(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantMerge(runs); !equalPairs(got, want) {
		t.Errorf("decoded %d pairs, want %d", len(got), len(want))
	}
}

// FuzzMergeRuns checks that no bytes make a merge panic.
func FuzzMergeRuns(f *testing.F) {
	var buf bytes.Buffer
	schema.EncodeRun(&buf, []schema.Pair{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b")}})
	f.Add(buf.Bytes(), buf.Bytes())
	f.Add([]byte{0x90}, []byte{0xdd, 0, 0, 0, 2, 0xc4, 1, 'a', 0xc4, 0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var n int
		err := MergeRuns(context.Background(), []io.Reader{bytes.NewReader(a), bytes.NewReader(b)}, func(schema.Pair) error {
			n++
			return nil
		})
		if err != nil && !errors.Is(err, schema.ErrMalformed) {
			t.Fatalf("err = %v, not ErrMalformed", err)
		}
	})
}

// TestMergeRunFilesByKeyOrder merges runs sorted in a job's key order
// (numeric-reverse on the first field, text on the second) in passes of
// fan-in 2 and 3: the merge keeps that order, equal keys in run order, and
// a bytewise merge refuses the runs as out of order.
func TestMergeRunFilesByKeyOrder(t *testing.T) {
	order, err := schema.ParseKeyOrder("numeric-reverse,text")
	if err != nil {
		t.Fatal(err)
	}
	keys := schema.Keys{Fields: 2, Order: order}
	byKeys := func(a, b schema.Pair) int { return keys.Compare(a.Key, b.Key) }
	rng := rand.New(rand.NewPCG(11, 12))
	runs := make([][]schema.Pair, 9)
	for i := range runs {
		for j := range 30 {
			runs[i] = append(runs[i], schema.Pair{
				Key:   fmt.Appendf(nil, "%d\t%c", rng.IntN(200)-50, 'a'+rune(rng.IntN(3))),
				Value: fmt.Appendf(nil, "r%d.%d", i, j),
			})
		}
		slices.SortStableFunc(runs[i], byKeys)
	}
	all := slices.Concat(runs...)
	slices.SortStableFunc(all, byKeys)
	for _, fanIn := range []int{2, 3, 64} {
		var got []schema.Pair
		if err := MergeRunFilesBy(context.Background(), writeRuns(t, runs), t.TempDir(), fanIn, keys.Compare, collect(&got)); err != nil {
			t.Fatalf("fan-in %d: %v", fanIn, err)
		}
		if !equalPairs(got, all) {
			t.Errorf("fan-in %d: merged %d pairs, want %d, or in another order", fanIn, len(got), len(all))
		}
	}
	err = MergeRunFiles(context.Background(), writeRuns(t, runs), t.TempDir(), 64, collect(new([]schema.Pair)))
	if !errors.Is(err, schema.ErrMalformed) {
		t.Errorf("a bytewise merge of numeric-reverse runs: %v, want them refused as out of order", err)
	}
}
