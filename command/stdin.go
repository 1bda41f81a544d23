package command

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
)

// Bytes is a command's stdin held in memory, in parts read one after the
// other (a header, then a chunk). Given to [Run] (or any function of this
// package that takes a stdin), the parts are written into the command's
// stdin pipe before the command starts, as much of them as the pipe holds,
// and the pipe is first grown toward their size where the system allows
// it; whatever did not fit is written as the command reads. A command
// whose whole stdin fits reads it at its own pace without waking jetmr:
// fed through an ordinary pipe, every page it reads from the full pipe
// wakes the writer, which writes one more page.
//
// The parts are copied into the pipe: the caller may reuse them once the
// function it gave them to has returned. Bytes is also an io.Reader over
// the parts, for code that reads it any other way.
type Bytes struct {
	parts [][]byte
}

// NewBytes returns the stdin made of parts, in order. Empty parts are
// allowed.
func NewBytes(parts ...[]byte) *Bytes { return &Bytes{parts: slices.Clone(parts)} }

// Len returns the number of bytes left to read.
func (b *Bytes) Len() int {
	n := 0
	for _, p := range b.parts {
		n += len(p)
	}
	return n
}

// Read reads the parts in order, consuming them.
func (b *Bytes) Read(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && len(b.parts) > 0 {
		k := copy(p, b.parts[0])
		n += k
		p = p[k:]
		if b.parts[0] = b.parts[0][k:]; len(b.parts[0]) == 0 {
			b.parts = b.parts[1:]
		}
	}
	if n == 0 && len(b.parts) == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// pageSize is the unit a pipe holds data in: a write into it takes whole
// pages, but for its first bytes, which may fill the last page written.
const pageSize = 4096

// feeder writes a [Bytes] into the pipe that is a command's stdin: what
// fits before the command starts, the rest from a goroutine that finish
// waits for.
type feeder struct {
	r, w *os.File
	rest [][]byte // what did not fit before the start
	done chan error
	// grown is what the pipe was grown by, given back to pipeBudget by
	// finish.
	grown int64
}

// newFeeder makes the command's stdin pipe for in, grows it toward the
// size of in, and writes into it what it holds. The caller starts the
// command on f.r, then calls start, and finish once the command has
// exited; or abandon if the command did not start.
func newFeeder(in *Bytes) (*feeder, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("making the command's stdin pipe: %w", err)
	}
	f := &feeder{r: r, w: w}
	need := int64(0)
	for _, p := range in.parts {
		need += (int64(len(p)) + pageSize - 1) / pageSize * pageSize
	}
	f.grown = growPipe(w, need)
	if f.rest, err = f.prefill(slices.Clone(in.parts)); err != nil {
		f.abandon()
		return nil, err
	}
	return f, nil
}

// prefill writes parts into the empty pipe until it is full, without
// blocking, and returns what is left. It reslices the elements of parts.
func (f *feeder) prefill(parts [][]byte) ([][]byte, error) {
	rc, err := f.w.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("writing the command's stdin: %w", err)
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(parts) > 0 {
			n, err := syscall.Write(int(fd), parts[0])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return true // full: the rest is written as the command reads
			case err != nil:
				werr = err
				return true
			}
			if parts[0] = parts[0][n:]; len(parts[0]) == 0 {
				parts = parts[1:]
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the command's stdin: %w", err)
	}
	return parts, nil
}

// start closes this process's copy of the read end, which the started
// command holds, unless some of the stdin is left to write: then a
// goroutine writes it, in blocking writes, and the read end is kept for
// finish. A blocking write waits in the kernel for the command to read,
// and the kernel wakes the writer's thread once per page the command
// reads; through the runtime's poller every such wake-up also went
// through the Go scheduler, and often woke another thread.
func (f *feeder) start() {
	if len(f.rest) == 0 {
		f.r.Close()
		f.w.Close()
		return
	}
	f.done = make(chan error, 1)
	go func() {
		err := writeBlocking(f.w, f.rest)
		if cerr := f.w.Close(); err == nil {
			err = cerr
		}
		f.done <- err
	}()
}

// writeBlocking writes parts into w in blocking mode.
func writeBlocking(w *os.File, parts [][]byte) error {
	rc, err := w.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		if werr = syscall.SetNonblock(int(fd), false); werr != nil {
			return true
		}
		for _, p := range parts {
			for len(p) > 0 {
				n, err := syscall.Write(int(fd), p)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				p = p[n:]
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return err
}

// finish returns once the whole stdin is written, after the command has
// exited and its group has been killed, and returns a failure to write
// it. What the command left unread, if anything, is read and dropped here
// from this process's copy of the read end: a command that exits without
// reading its whole stdin is no failure (as with os/exec), and a process
// outside its group that holds the pipe cannot keep the writer waiting.
func (f *feeder) finish() error {
	defer pipeBudget.Add(f.grown)
	if f.done == nil {
		return nil
	}
	// The writer closes its end when it is done: the read ends then.
	_, derr := io.Copy(io.Discard, f.r)
	f.r.Close()
	if err := <-f.done; err != nil {
		return fmt.Errorf("writing the command's stdin: %w", err)
	}
	if derr != nil {
		return fmt.Errorf("reading what the command left of its stdin: %w", derr)
	}
	return nil
}

// abandon closes the pipe of a command that did not start.
func (f *feeder) abandon() {
	f.r.Close()
	f.w.Close()
	pipeBudget.Add(f.grown)
}

// pipeBudget is how many bytes this process may still grow its commands'
// stdin pipes by (see growPipe): the pages of the pipes a user holds are
// counted against a system-wide soft limit, past which every new pipe of
// theirs, not only jetmr's, is made small.
var pipeBudget atomic.Int64

func init() { pipeBudget.Store(pipeBudgetBytes()) }
