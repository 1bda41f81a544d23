package runfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// magic starts every run file.
const magic = "jetmr-run\x01"

// Magic starts every run file: a reader of runs from an offset checks it.
const Magic = magic

// ErrCorrupt means a run file is not one this package wrote in full.
var ErrCorrupt = errors.New("corrupt run file")

// MaxItem is the longest key or value a run file holds.
const MaxItem = 1 << 30

// Writer writes a run file. Pairs must come sorted by key.
type Writer struct {
	f     *os.File
	path  string
	bw    *bufio.Writer
	pairs uint64
	buf   []byte
	sync  bool
}

// Create starts a run file that will be at path once [Writer.Close]
// returns; until then it is path + ".tmp". With sync it is fsynced before
// the rename.
func Create(path string, sync bool) (*Writer, error) {
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating run file: %w", err)
	}
	w := &Writer{f: f, path: path, bw: bufio.NewWriterSize(f, 256<<10), sync: sync}
	if _, err := w.bw.WriteString(magic); err != nil {
		w.Abort()
		return nil, fmt.Errorf("writing run file %s: %w", path, err)
	}
	return w, nil
}

// Write appends one pair; key must not sort before the previous one.
func (w *Writer) Write(key, value []byte) error {
	w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(key))+1)
	w.buf = append(w.buf, key...)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
	if _, err := w.bw.Write(w.buf); err != nil {
		return fmt.Errorf("writing run file %s: %w", w.path, err)
	}
	if _, err := w.bw.Write(value); err != nil {
		return fmt.Errorf("writing run file %s: %w", w.path, err)
	}
	w.pairs++
	return nil
}

// Close ends the run and renames it into place.
func (w *Writer) Close() error {
	w.buf = binary.AppendUvarint(append(w.buf[:0], 0), w.pairs)
	_, err := w.bw.Write(w.buf)
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil && w.sync {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.path+".tmp", w.path)
	}
	if err != nil {
		os.Remove(w.path + ".tmp")
		return fmt.Errorf("writing run file %s: %w", w.path, err)
	}
	if w.sync {
		return syncDir(filepath.Dir(w.path))
	}
	return nil
}

// Abort removes the unfinished run.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.path + ".tmp")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Reader reads a run file's pairs in order.
type Reader struct {
	name  string
	br    *bufio.Reader
	close func() error
	key   []byte
	value []byte
	pairs uint64
	done  bool
}

// Open opens the run file at path.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening run file: %w", err)
	}
	r, err := NewReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.close = f.Close
	return r, nil
}

// NewReader reads a run from rd, naming it name in errors.
func NewReader(name string, rd io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(rd, 64<<10)
	var m [len(magic)]byte
	if _, err := io.ReadFull(br, m[:]); err != nil || string(m[:]) != magic {
		return nil, fmt.Errorf("reading run file %s: %w: no run header", name, ErrCorrupt)
	}
	return &Reader{name: name, br: br, close: func() error { return nil }}, nil
}

// Next returns the next pair, or io.EOF after the last one. Key and value
// stay valid until the next call.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.done {
		return nil, nil, io.EOF
	}
	kn, err := binary.ReadUvarint(r.br)
	if err != nil {
		return nil, nil, r.corrupt("cut short")
	}
	if kn == 0 {
		n, err := binary.ReadUvarint(r.br)
		if err != nil || n != r.pairs {
			return nil, nil, r.corrupt("bad end")
		}
		r.done = true
		return nil, nil, io.EOF
	}
	if r.key, err = r.item(r.key, kn-1); err != nil {
		return nil, nil, err
	}
	vn, err := binary.ReadUvarint(r.br)
	if err != nil {
		return nil, nil, r.corrupt("cut short")
	}
	if r.value, err = r.item(r.value, vn); err != nil {
		return nil, nil, err
	}
	r.pairs++
	return r.key, r.value, nil
}

func (r *Reader) item(buf []byte, n uint64) ([]byte, error) {
	if n > MaxItem {
		return nil, r.corrupt("item too long")
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return nil, r.corrupt("cut short")
	}
	return buf, nil
}

func (r *Reader) corrupt(why string) error {
	return fmt.Errorf("reading run file %s: %w: %s after %d pairs", r.name, ErrCorrupt, why, r.pairs)
}

// Close closes the file.
func (r *Reader) Close() error { return r.close() }
