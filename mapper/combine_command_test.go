package mapper

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/schema"
)

// heapPeak samples the bytes of live and unswept heap objects until
// stop is called, which returns the most it saw above the heap of
// when it started (after a collection).
func heapPeak() (stop func() int64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	runtime.GC()
	base := read()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return max(peak, read()) - base
	}
}

// TestCombineCommandStreamsSpilledRuns feeds a combiner command (cat) the
// 12 MiB of pairs of a map task whose combiner, of a 256 KiB limit,
// spilled them: the command's pairs are the task's, in key order, and the
// heap never grows by more than the limits, the merge's read buffers and
// some slack, far below the pairs' size (reading them back whole takes
// twice their size). Not parallel: the heap is measured for this test
// alone.
func TestCombineCommandStreamsSpilledRuns(t *testing.T) {
	const (
		limit = 256 << 10
		total = 12 << 20
		bound = 8 << 20
	)
	dir := t.TempDir()
	keys := schema.Keys{}
	in, err := NewBoundedCombiner(nil, CombineConfig{Partitions: 1, Limit: limit, Dir: dir, Name: "in", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var sum uint64 // of the pairs' hashes: the same whatever their order
	n := 0
	for size := 0; size < total; n++ {
		k := fmt.Appendf(nil, "key%07d", rng.IntN(1<<20))
		v := fmt.Appendf(nil, "%0100x", rng.Uint64())
		if err := in.Emit(k, v); err != nil {
			t.Fatal(err)
		}
		sum += pairHash(k, v)
		size += len(k) + len(v) + 2
	}
	if !in.Spilled() {
		t.Fatal("the combiner never spilled")
	}

	old := debug.SetGCPercent(10) // the heap then stays close to what is live
	stop := heapPeak()
	out, err := combineCommand(context.Background(), []string{"cat"}, "", nil, in, CombineConfig{Partitions: 1, Limit: limit, Dir: dir, Name: "out", Keys: keys}, &counter.Set{})
	grew := stop()
	debug.SetGCPercent(old)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	t.Logf("heap grew by %d KiB around the combine of %d KiB of pairs", grew>>10, total>>10)
	if grew > bound {
		t.Errorf("the heap grew by %d MiB while the combiner command ran, more than %d MiB: the spilled pairs were read back whole", grew>>20, bound>>20)
	}

	var got uint64
	var prev []byte
	m, err := out.merge(context.Background(), 0, func(k, v []byte) error {
		if prev != nil && string(k) < string(prev) {
			return fmt.Errorf("key %q after %q", k, prev)
		}
		prev = append(prev[:0], k...)
		got += pairHash(k, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m != n || got != sum {
		t.Errorf("the command printed %d pairs (hash sum %x), want the task's %d (%x)", m, got, n, sum)
	}
}

// pairHash is the FNV-1a hash of a pair.
func pairHash(k, v []byte) uint64 {
	h := fnv.New64a()
	h.Write(k)
	h.Write([]byte{'\t'})
	h.Write(v)
	return h.Sum64()
}
