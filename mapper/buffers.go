package mapper

import "sync"

// chunkBuffers keeps the buffers that a worker reads chunks into, for the
// tasks that follow. Unlike a sync.Pool, it is not emptied by the garbage
// collector: in a worker process whose heap is little more than a chunk
// or two, a pool lost its buffers at nearly every collection, and each
// task then read its chunk into a new allocation, which the runtime zeroes
// and the kernel faults in, and which brought the next collection closer.
// It keeps at most keep buffers; the zero value keeps none.
type chunkBuffers struct {
	mu   sync.Mutex
	free []*[]byte
	keep int
}

// get returns a buffer of n bytes and what gives it back. A new buffer
// has room for a chunk a little longer than n, as the chunks of a job
// differ by the lines cut at their ends.
func (b *chunkBuffers) get(n int64) ([]byte, func()) {
	b.mu.Lock()
	var bp *[]byte
	for i, f := range b.free {
		if int64(cap(*f)) >= n {
			bp = f
			last := len(b.free) - 1
			b.free[i], b.free[last] = b.free[last], nil
			b.free = b.free[:last]
			break
		}
	}
	b.mu.Unlock()
	if bp == nil {
		const page = 4 << 10
		size := (n + n/16 + page - 1) &^ (page - 1)
		s := make([]byte, n, size)
		bp = &s
	}
	return (*bp)[:n], func() { b.put(bp) }
}

// put keeps bp for a later get, in place of the smallest kept buffer when
// keep are kept already.
func (b *chunkBuffers) put(bp *[]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) < b.keep {
		b.free = append(b.free, bp)
		return
	}
	small := -1
	for i, f := range b.free {
		if cap(*f) < cap(*bp) && (small < 0 || cap(*f) < cap(*b.free[small])) {
			small = i
		}
	}
	if small >= 0 {
		b.free[small] = bp
	}
}
