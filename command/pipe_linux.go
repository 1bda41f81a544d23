package command

import (
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// growPipe grows the pipe whose write end is w toward need bytes, within
// the system's limit for a user's pipe (/proc/sys/fs/pipe-max-size) and
// what is left of pipeBudget, and returns what it took from the budget.
// A pipe that cannot grow keeps its size: its writer only wakes more.
func growPipe(w *os.File, need int64) int64 {
	rc, err := w.SyscallConn()
	if err != nil {
		return 0
	}
	var cur int
	if rc.Control(func(fd uintptr) { cur, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) }) != nil || err != nil {
		return 0
	}
	if need <= int64(cur) {
		return 0
	}
	// The kernel rounds a pipe's pages up to a power of two; pipe-max-size
	// is one already.
	size := min(int64(1)<<bits.Len64(uint64(need-1)), maxPipeSize())
	extra := size - int64(cur)
	if extra <= 0 {
		return 0
	}
	if pipeBudget.Add(-extra) < 0 {
		pipeBudget.Add(extra)
		return 0
	}
	var got int
	if rc.Control(func(fd uintptr) { got, err = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, int(size)) }) != nil || err != nil {
		pipeBudget.Add(extra)
		return 0
	}
	pipeBudget.Add(extra - (int64(got) - int64(cur)))
	return int64(got) - int64(cur)
}

// maxPipeSize is the largest pipe a user without privileges may make.
var maxPipeSize = sync.OnceValue(func() int64 {
	return readProcInt("/proc/sys/fs/pipe-max-size", 1<<20)
})

// pipeBudgetBytes is a quarter of the pipe pages a user may hold before
// their new pipes are made small (/proc/sys/fs/pipe-user-pages-soft; 0
// means no limit).
func pipeBudgetBytes() int64 {
	soft := readProcInt("/proc/sys/fs/pipe-user-pages-soft", 16384)
	if soft == 0 {
		return math.MaxInt64 / 2
	}
	return soft * pageSize / 4
}

// readProcInt reads a number from a file of /proc, or returns def.
func readProcInt(path string, def int64) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return def
	}
	return n
}
