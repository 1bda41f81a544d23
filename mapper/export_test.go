package mapper

// SetChunkFileMax sets the largest chunk a pipe command reads from a file
// in memory and returns what restores it. Tests that call it must not run
// in parallel.
func SetChunkFileMax(n int64) (restore func()) {
	old := chunkFileMax
	chunkFileMax = n
	return func() { chunkFileMax = old }
}
