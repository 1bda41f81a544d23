package mapper

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/jetmr/jetmr/schema"
)

// spillWriter keeps a task's output in memory up to a limit, and moves it to
// a file in dir once it grows past the limit, so that large outputs are
// never held in memory.
type spillWriter struct {
	dir, name string
	max       int
	sync      bool
	buf       []byte
	file      *os.File
	n         int64
}

func newSpillWriter(dir, name string, max int, sync bool) *spillWriter {
	return &spillWriter{dir: dir, name: name, max: max, sync: sync}
}

func (w *spillWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.file == nil && len(w.buf)+len(p) <= w.max {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if w.file == nil {
		f, err := os.OpenFile(filepath.Join(w.dir, w.name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return 0, fmt.Errorf("spilling output: %w", err)
		}
		w.file = f
		if _, err := f.Write(w.buf); err != nil {
			return 0, fmt.Errorf("spilling output: %w", err)
		}
		w.buf = nil
	}
	return w.file.Write(p)
}

// putRunHeader fills in the header of a run of n pairs written from the
// start of the output with a placeholder (see [schema.PutRunHeader]).
func (w *spillWriter) putRunHeader(n int) error {
	var hdr [schema.RunHeaderLen]byte
	schema.PutRunHeader(hdr[:], n)
	if w.file == nil {
		copy(w.buf, hdr[:])
		return nil
	}
	if _, err := w.file.WriteAt(hdr[:], 0); err != nil {
		return fmt.Errorf("spilling output: %w", err)
	}
	return nil
}

// finish closes the writer and returns the output: inline bytes, or the
// path of the file holding it. With sync, spilled output is flushed to disk
// first, so that a result published afterwards never points at data a
// power loss could take.
func (w *spillWriter) finish() (inline []byte, path string, err error) {
	if w.file == nil {
		if w.buf == nil {
			w.buf = []byte{}
		}
		return w.buf, "", nil
	}
	if w.sync {
		if err := w.file.Sync(); err != nil {
			w.file.Close()
			return nil, "", fmt.Errorf("syncing spilled output: %w", err)
		}
	}
	if err := w.file.Close(); err != nil {
		return nil, "", fmt.Errorf("closing spilled output: %w", err)
	}
	return nil, w.file.Name(), nil
}

// abort removes a spill file that will not be published.
func (w *spillWriter) abort() {
	if w.file != nil {
		w.file.Close()
		os.Remove(w.file.Name())
	}
}

// size is the number of bytes written.
func (w *spillWriter) size() int64 { return w.n }
