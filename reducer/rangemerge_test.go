package reducer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// orderedRun encodes pairs sorted in the key order k as a task's result.
func orderedRun(t testing.TB, k schema.Keys, i uint64, pairs map[string]string) *schema.Result {
	t.Helper()
	run := make([]schema.Pair, 0, len(pairs))
	for key, v := range pairs {
		run = append(run, schema.Pair{Key: []byte(key), Value: []byte(v)})
	}
	slices.SortFunc(run, func(a, b schema.Pair) int { return k.Compare(a.Key, b.Key) })
	var buf bytes.Buffer
	if err := schema.EncodeRun(&buf, run); err != nil {
		t.Fatal(err)
	}
	return &schema.Result{Index: i, Payload: buf.Bytes()}
}

// rangeSink makes a sink of cfg summing into parent/out, with its work
// folder parent/work, that keeps runs after keepAfter pairs, merges every
// keepMax of them and splits its final merge by key ranges whatever the
// runs' size, and merges results into it.
func rangeSink(tb testing.TB, parent string, cfg reducer.KeyedConfig, keepAfter int64, keepMax int, results []*schema.Result) *reducer.KeyedSink {
	tb.Helper()
	cfg.Dir, cfg.WorkDir, cfg.Fold = filepath.Join(parent, "out"), filepath.Join(parent, "work"), fold.Sum
	s, err := reducer.NewKeyedSink(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	reducer.SetKeep(s, keepAfter, keepMax)
	reducer.SetRangeMin(s, 0)
	for _, r := range results {
		if _, err := s.Merge(context.Background(), r); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// TestKeyedSinkRangeMergeKeyOrders merges runs of numbers and words in
// each key order, once in one merge and once split by key ranges across
// goroutines (with the table spilling, so that both kinds of run file are
// read from their marks): the part files must be the same bytes, every
// key once.
func TestKeyedSinkRangeMergeKeyOrders(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"", "reverse", "numeric", "numeric-reverse"} {
		t.Run("order "+order, func(t *testing.T) {
			t.Parallel()
			var k schema.Keys
			if order != "" {
				o, err := schema.ParseKeyOrder(order)
				if err != nil {
					t.Fatal(err)
				}
				k.Order = o
			}
			rng := rand.New(rand.NewPCG(31, uint64(len(order))))
			var results []*schema.Result
			all := map[string]bool{}
			for i := range uint64(20) {
				pairs := map[string]string{}
				for range 300 + rng.IntN(300) {
					var key string
					switch rng.IntN(3) {
					case 0:
						key = strconv.Itoa(rng.IntN(5000) - 1000)
					case 1:
						key = fmt.Sprintf("%d.%d", rng.IntN(100), rng.IntN(100))
					default:
						key = fmt.Sprintf("w%x", rng.IntN(3000))
					}
					pairs[key] = strconv.Itoa(rng.IntN(9) + 1)
					all[key] = true
				}
				results = append(results, orderedRun(t, k, i, pairs))
			}
			var first []byte
			for _, parallel := range []int{1, 4} {
				parent := t.TempDir()
				dir := filepath.Join(parent, "out")
				s := rangeSink(t, parent, reducer.KeyedConfig{Job: "rangejob", Keys: k, Parallel: parallel, Memory: 32 << 10}, 1000, 64, results)
				if err := s.Commit(context.Background(), false); err != nil {
					t.Fatalf("parallel %d: Commit: %v", parallel, err)
				}
				data, err := os.ReadFile(filepath.Join(dir, reducer.PartName(0)))
				if err != nil {
					t.Fatal(err)
				}
				lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
				if len(lines) != len(all) {
					t.Errorf("parallel %d: %d lines, want %d keys", parallel, len(lines), len(all))
				}
				if !slices.IsSortedFunc(lines, func(a, b []byte) int {
					return k.Compare(bytes.SplitN(a, []byte("\t"), 2)[0], bytes.SplitN(b, []byte("\t"), 2)[0])
				}) {
					t.Errorf("parallel %d: part file not in key order", parallel)
				}
				if first == nil {
					first = data
				} else if !bytes.Equal(data, first) {
					t.Errorf("parallel %d: part file differs from the one merge's", parallel)
				}
			}
		})
	}
}

// TestKeyedSinkRangeMergeRejectsBadRuns gives a sink whose final merge is
// split by key ranges a kept run (a result's spill file) that is out of
// order, cut short or followed by extra bytes: Commit must fail with
// schema.ErrMalformed and publish no output.
func TestKeyedSinkRangeMergeRejectsBadRuns(t *testing.T) {
	t.Parallel()
	good := func(i uint64) *schema.Result {
		pairs := map[string]string{}
		for j := range 2000 {
			pairs[fmt.Sprintf("k%06d", int(i)*100000+j)] = "1"
		}
		return orderedRun(t, schema.Keys{}, i, pairs)
	}
	swap := func(b []byte) []byte {
		// Swap task 1's keys k101000 and k101001.
		b = bytes.Clone(b)
		i := bytes.Index(b, []byte("k101000"))
		j := bytes.Index(b, []byte("k101001"))
		copy(b[i:], "k101001")
		copy(b[j:], "k101000")
		return b
	}
	for name, corrupt := range map[string]func([]byte) []byte{
		"out of order": swap,
		"cut short":    func(b []byte) []byte { return b[:len(b)-5] },
		"extra bytes":  func(b []byte) []byte { return append(bytes.Clone(b), 0xc4, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			s, err := reducer.NewKeyedSink(reducer.KeyedConfig{
				Dir: dir, Job: "badjob", Fold: fold.Sum, Parallel: 2, WorkDir: filepath.Join(parent, "work"),
			})
			if err != nil {
				t.Fatal(err)
			}
			reducer.SetKeep(s, 1, 64)
			reducer.SetRangeMin(s, 0)
			for i := range uint64(4) {
				r := good(i)
				if i == 1 {
					r.Spill = filepath.Join(parent, "task1.run")
					if err := os.WriteFile(r.Spill, corrupt(r.Payload), 0o600); err != nil {
						t.Fatal(err)
					}
					r.Payload = nil
				}
				if _, err := s.Merge(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Commit(context.Background(), false)
			if !errors.Is(err, schema.ErrMalformed) {
				t.Fatalf("Commit: %v, want schema.ErrMalformed", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("output published after a bad run: %v", err)
			}
		})
	}
}
