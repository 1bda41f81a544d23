package mapper

import "time"

// SetChunkInMemoryMax sets the largest chunk a pipe task reads whole
// before its command starts, and returns what restores it. Tests that
// call it must not run in parallel.
func SetChunkInMemoryMax(n int64) (restore func()) {
	old := chunkInMemoryMax
	chunkInMemoryMax = n
	return func() { chunkInMemoryMax = old }
}

// SetPoolResync sets how often a pool built from cfg checks its watch of
// the jobs bucket.
func SetPoolResync(cfg *PoolConfig, every time.Duration) { cfg.resync = every }
