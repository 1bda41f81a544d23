package mapper

// SetChunkInMemoryMax sets the largest chunk a pipe task reads whole
// before its command starts, and returns what restores it. Tests that
// call it must not run in parallel.
func SetChunkInMemoryMax(n int64) (restore func()) {
	old := chunkInMemoryMax
	chunkInMemoryMax = n
	return func() { chunkInMemoryMax = old }
}
