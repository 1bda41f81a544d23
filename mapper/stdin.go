package mapper

import (
	"io"
	"sync"

	"github.com/jetmr/jetmr/schema"
)

// chunkFileMax bounds the chunks a pipe task hands its command as a file
// in memory (see [chunkFile]): a larger chunk, which --chunk-size can
// ask for, streams through a pipe instead, so that a worker never holds
// more than this per slot.
var chunkFileMax int64 = 64 << 20

// copyBufSize is the size of the buffer a chunk is copied through on its
// way into its file in memory: few system calls per chunk.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// commandInput returns what a pipe task's command reads as its standard
// input: in, which holds the task's header and data, copied whole into a
// sealed file in memory when the system has them and the chunk is at
// most chunkFileMax, else in itself, to stream through a pipe.
//
// A command whose stdin is a file reads at its own pace with no help from
// this process: a pipe would wake the goroutine that fills it every few
// KiB the command reads, and that costs more CPU than the copy. A file
// is also what many commands read fastest (tail and wc look at its size).
//
// When a file is returned, sum (if not nil) has seen every byte and is
// verified already; verified tells the caller so. done closes the file.
func commandInput(t schema.Task, in io.Reader, sum *summingReader) (stdin io.Reader, verified bool, done func(), err error) {
	noop := func() {}
	size := taskLength(t) + int64(len(t.Header))
	if size > chunkFileMax {
		return in, false, noop, nil
	}
	f := newChunkFile()
	if f == nil {
		// No file in memory on this system: stream.
		return in, false, noop, nil
	}
	bp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(writerOnly{f}, in, *bp)
	copyBufs.Put(bp)
	if err == nil && sum != nil {
		err = sum.verify(&t)
	}
	if err == nil {
		err = sealChunkFile(f)
	}
	if err != nil {
		f.Close()
		return nil, false, nil, err
	}
	return f, true, func() { f.Close() }, nil
}

// writerOnly hides a file's ReadFrom, so that io.CopyBuffer copies
// through the buffer it is given.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
