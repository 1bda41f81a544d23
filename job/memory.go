package job

import (
	"fmt"

	"github.com/jetmr/jetmr/internal/memory"
	"github.com/jetmr/jetmr/splitter"
)

// MinMemory is the least --memory per reduce partition: a fold table with
// its index, one entry and a key of typical size.
const MinMemory = 1 << 20

// Bounds of the default memory budget.
const (
	// MaxDefaultMemory caps the default budget so that a job of 10 million
	// distinct keys peaks under 200 MiB of RSS: its reduce share (3/8, 48
	// MiB) holds some 400,000 short keys before the first spill, counting
	// the room the table needs to grow and to sort; more keys spill sorted
	// runs instead of growing the heap.
	MaxDefaultMemory = 128 << 20
	// minDefaultMemory is the default when the machine reports less.
	minDefaultMemory = 16 << 20
)

// DefaultMemory is the default memory budget of a job: a quarter of the
// memory this process may still use (internal/memory.Available), at most
// [MaxDefaultMemory] and at least 16 MiB.
func DefaultMemory() int64 {
	avail, err := memory.Available()
	if err != nil || avail <= 0 {
		return MaxDefaultMemory
	}
	return max(min(avail/4, MaxDefaultMemory), minDefaultMemory)
}

// sizeText prints a byte count for messages.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// mapChunkCap is the largest default chunk of a mapreduce job within its
// memory budget: a map task holds its chunk, its combiner's table and its
// encoded runs; the table is bounded by mapper.CombineShare (half the
// budget over the slots) whatever the chunk, and a chunk of this size
// fills about half of that with short distinct keys. Never below the
// smallest default chunk.
func mapChunkCap(budget int64, slots int) int64 {
	return max(budget/(16*int64(max(slots, 1))), splitter.MinDefaultChunk)
}

// reduceShare is the part of a job's memory budget the reduce's fold
// state may hold, all partitions together: 3/8 of it. The rest goes to
// the map tasks (see mapChunkCap), the results in flight, the broker and
// the garbage collector's headroom.
func reduceShare(budget int64) int64 { return budget * 3 / 8 }
