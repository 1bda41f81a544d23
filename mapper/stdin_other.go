//go:build !linux

package mapper

import "os"

// newChunkFile returns nil: only Linux has files in memory (memfd), and
// a chunk streams through a pipe elsewhere.
func newChunkFile() *os.File { return nil }

func sealChunkFile(*os.File) error { return nil }
