package splitter_test

import (
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// TestTaperShrinksTowardTheEnd cuts inputs with a taper: every size stays
// within [floor, chunk size], sizes never grow, the last chunks are
// smaller than the first when the chunk size is above the floor, and the
// same input is cut the same way twice.
func TestTaperShrinksTowardTheEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		total, chunk int64
		slots        int
		wantShrink   bool
	}{
		{"16MiB on 2 slots", 16 << 20, 1 << 20, 2, true},
		{"1GiB on 8 slots", 1 << 30, 8 << 20, 8, true},
		{"chunk at the floor", 16 << 20, 256 << 10, 2, false},
		{"small chunks", 1 << 20, 64 << 10, 4, false},
		{"one chunk", 100, 1 << 20, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cut := func() []int64 {
				tp := splitter.NewTaper(tt.total, tt.chunk, tt.slots)
				var sizes []int64
				for left := tt.total; left > 0; {
					n := min(tp.Size(), left)
					sizes = append(sizes, n)
					tp.Took(n)
					left -= n
				}
				return sizes
			}
			sizes := cut()
			floor := min(tt.chunk, max(tt.chunk/8, splitter.MinDefaultChunk))
			for i, n := range sizes {
				last := i == len(sizes)-1
				if n > tt.chunk || (n < floor && !last) {
					t.Fatalf("chunk %d is %d bytes, outside [%d, %d]", i, n, floor, tt.chunk)
				}
				if i > 0 && n > sizes[i-1] {
					t.Fatalf("chunk %d grew from %d to %d bytes", i, sizes[i-1], n)
				}
			}
			// The last chunk is what is left: compare the one before it.
			shrank := len(sizes) > 2 && sizes[len(sizes)-2] < sizes[0]
			if shrank != tt.wantShrink {
				t.Errorf("chunk sizes %v: shrank %v, want %v", sizes, shrank, tt.wantShrink)
			}
			again := cut()
			if len(again) != len(sizes) {
				t.Fatalf("cut twice: %d then %d chunks", len(sizes), len(again))
			}
			for i := range sizes {
				if sizes[i] != again[i] {
					t.Fatalf("cut twice: chunk %d is %d then %d bytes", i, sizes[i], again[i])
				}
			}
		})
	}
}
