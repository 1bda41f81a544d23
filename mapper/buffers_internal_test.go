package mapper

import (
	"runtime"
	"testing"
	"unsafe"
)

func TestChunkBuffersOutliveCollections(t *testing.T) {
	t.Parallel()
	b := chunkBuffers{keep: 2}
	buf, release := b.get(3_700_000)
	if len(buf) != 3_700_000 {
		t.Fatalf("len = %d, want 3700000", len(buf))
	}
	first := unsafe.SliceData(buf)
	release()
	runtime.GC()
	runtime.GC() // a sync.Pool is empty by now
	// The next chunk is a little longer, as the lines at the ends of
	// chunks differ: it still fits.
	buf, release = b.get(3_700_100)
	if unsafe.SliceData(buf) != first {
		t.Error("a chunk after two collections got a new buffer, want the kept one")
	}
	release()
}

func TestChunkBuffersKeepAtMostKeep(t *testing.T) {
	t.Parallel()
	b := chunkBuffers{keep: 2}
	var releases []func()
	for _, n := range []int64{1 << 10, 2 << 10, 3 << 10} {
		_, release := b.get(n)
		releases = append(releases, release)
	}
	for _, release := range releases {
		release()
	}
	if len(b.free) != 2 {
		t.Fatalf("kept %d buffers, want 2", len(b.free))
	}
	// The smallest gave way to the largest.
	for _, f := range b.free {
		if cap(*f) < 2<<10 {
			t.Errorf("kept a buffer of %d bytes, want the two largest", cap(*f))
		}
	}
	// A chunk larger than every kept buffer gets a new one.
	buf, release := b.get(8 << 10)
	if len(buf) != 8<<10 {
		t.Errorf("len = %d, want %d", len(buf), 8<<10)
	}
	release()
	if len(b.free) != 2 || cap(*b.free[0]) < 8<<10 && cap(*b.free[1]) < 8<<10 {
		t.Error("the new larger buffer was not kept in place of a smaller one")
	}
}

func TestChunkBuffersZeroValueKeepsNone(t *testing.T) {
	t.Parallel()
	var b chunkBuffers
	_, release := b.get(100)
	release()
	if len(b.free) != 0 {
		t.Errorf("the zero value kept %d buffers, want none", len(b.free))
	}
}
