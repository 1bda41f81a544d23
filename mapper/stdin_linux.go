package mapper

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// newChunkFile returns a new, empty file in memory (memfd), or nil if
// the kernel has none.
func newChunkFile() *os.File {
	fd, err := unix.MemfdCreate("jetmr-chunk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "jetmr-chunk")
}

// sealChunkFile makes f read-only for good (a command that writes to its
// stdin gets an error rather than changing what a retry reads) and moves
// its offset to its start.
func sealChunkFile(f *os.File) error {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		return fmt.Errorf("sealing the chunk file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewinding the chunk file: %w", err)
	}
	return nil
}
