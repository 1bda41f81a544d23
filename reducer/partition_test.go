package reducer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// TestRunPartitionEqualsReducer reduces each of 4 partitions apart, with
// RunPartition, from results published with duplicates, some in spill
// files: the part files are byte for byte those of the job's one reducer,
// and the results' spill files stay for a second run.
func TestRunPartitionEqualsReducer(t *testing.T) {
	t.Parallel()
	const parts, n = 4, 7
	awk := []string{"awk", "-F\t", `NR > 1 && $1 "" != k "" { print k "\t" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k "\t" s }`}
	tests := []struct {
		name  string
		keyed func(t *testing.T) reducer.KeyedConfig
	}{
		{"fold", func(*testing.T) reducer.KeyedConfig { return reducer.KeyedConfig{Fold: fold.Sum} }},
		{"reduce-command", func(t *testing.T) reducer.KeyedConfig {
			return reducer.KeyedConfig{ReduceCommand: awk, WorkDir: filepath.Join(t.TempDir(), "runs")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := schema.JobRecord{V: schema.Version, ID: "part-apart", Kind: schema.KindMapReduce, Partitions: parts, Map: "wordcount", Reduce: "sum"}
			b := openBroker(t, rec)
			p := publisher{t, b, rec.ID}
			spills := t.TempDir()
			var spilled []string
			for i := range uint64(n) {
				for _, r := range keyedTask(t, i, parts) {
					if i%3 == 1 { // in a spill file, as a large output is
						r.Spill = filepath.Join(spills, filepath.Base(t.Name())+"-"+string(rune('a'+i))+string(rune('0'+r.Partition)))
						if err := os.WriteFile(r.Spill, r.Payload, 0o600); err != nil {
							t.Fatal(err)
						}
						spilled = append(spilled, r.Spill)
						r.Payload = nil
					}
					p.result(r)
					if i%2 == 0 {
						p.result(r) // a task that ran twice
					}
				}
			}
			p.garbage(parts)

			folder := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			got := make([]reducer.PartitionPart, parts)
			g, gctx := errgroup.WithContext(ctx)
			for part := range parts {
				g.Go(func() error {
					kc := tt.keyed(t)
					kc.Dir = folder
					var err error
					got[part], err = reducer.RunPartition(gctx, reducer.PartitionConfig{JS: b.JS, Job: rec, Partition: part, Total: n, Keyed: kc})
					return err
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("RunPartition: %v", err)
			}
			var names []string
			for _, path := range spilled {
				if _, err := os.Stat(path); err != nil {
					t.Errorf("spill file of a result removed by the partition's reduce: %v", err)
				}
			}
			// The reference: the job's one reducer.
			refCfg := tt.keyed(t)
			refCfg.Dir, refCfg.Job, refCfg.Partitions = filepath.Join(t.TempDir(), "ref"), rec.ID, parts
			ref, err := reducer.NewKeyedSink(refCfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := run(t, b, rec, ref, n, nil); err != nil {
				t.Fatalf("reference Run: %v", err)
			}

			for part, pp := range got {
				if pp.Tasks != n {
					t.Errorf("partition %d merged %d tasks, want %d", part, pp.Tasks, n)
				}
				if q, ok := reducer.PartFile(pp.Name); !ok || q != part {
					t.Errorf("partition %d wrote %q, which PartFile reads as %d, %v", part, pp.Name, q, ok)
				}
				names = append(names, pp.Name)
				want, err := os.ReadFile(filepath.Join(refCfg.Dir, reducer.PartName(part)))
				if err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(filepath.Join(folder, pp.Name))
				if err != nil {
					t.Fatal(err)
				}
				if string(data) != string(want) {
					t.Errorf("partition %d:\n%s\nwant (the job's reducer):\n%s", part, data, want)
				}
			}
			slices.Sort(names)
			if left := dirNames(t, folder); !slices.Equal(left, names) {
				t.Errorf("folder holds %q, want the parts alone %q", left, names)
			}
		})
	}
}

// TestRunPartitionCancelled cancels the reduce of a partition whose tasks
// have not all run: it returns the context's error and leaves nothing in
// the folder.
func TestRunPartitionCancelled(t *testing.T) {
	t.Parallel()
	const parts = 2
	rec := schema.JobRecord{V: schema.Version, ID: "part-cancelled", Kind: schema.KindMapReduce, Partitions: parts, Map: "wordcount", Reduce: "sum"}
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	for _, r := range keyedTask(t, 0, parts) {
		p.result(r)
	}
	folder := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	merged := make(chan uint64, 1)
	done := make(chan error, 1)
	go func() {
		_, err := reducer.RunPartition(ctx, reducer.PartitionConfig{
			JS: b.JS, Job: rec, Partition: 1, Total: 3, Keyed: reducer.KeyedConfig{Dir: folder, Fold: fold.Sum},
			Merged: func(n uint64) { merged <- n },
		})
		done <- err
	}()
	select {
	case n := <-merged:
		if n != 1 {
			t.Errorf("merged %d, want 1", n)
		}
	case err := <-done:
		t.Fatalf("RunPartition ended before merging: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("RunPartition merged nothing")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunPartition: %v, want context.Canceled", err)
	}
	if left := dirNames(t, folder); len(left) != 0 {
		t.Errorf("a cancelled partition's reduce left %q", left)
	}
}

func TestPartFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		part int
		ok   bool
	}{
		{".part-3.0a1b", 3, true},
		{".part-12.ff.d", 12, true},
		{".part-03.ff", 0, false},
		{".part-x.ff", 0, false},
		{".part-3", 0, false},
		{"part-00003", 0, false},
		{".part--1.ff", 0, false},
	}
	for _, tt := range tests {
		p, ok := reducer.PartFile(tt.name)
		if p != tt.part || ok != tt.ok {
			t.Errorf("PartFile(%q) = %d, %v; want %d, %v", tt.name, p, ok, tt.part, tt.ok)
		}
	}
}
