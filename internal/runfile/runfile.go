package runfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jetmr/jetmr/schema"
)

// magic starts every run file.
const magic = "jetmr-run\x01"

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

// Reader reads a run file's pairs in order. It reads a run from its
// start ([Open], [NewReader]) or from any of its pairs, at the offset
// [Reader.Offset] gave for it ([NewReaderAt]), and checks the same in
// both: every length, and the end marker with its count.
type Reader struct {
	name  string
	br    *bufio.Reader
	close func() error
	key   []byte
	value []byte
	off   int64  // the offset in the run of the next byte to read
	at    int64  // what Offset returns
	pairs uint64 // the index of the next pair
	done  bool
	// skipValues: Next skips values (see SkipValues).
	skipValues bool
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

// NewReader reads a run from rd, naming it name in errors. It reads
// through rd if rd is a *bufio.Reader.
func NewReader(name string, rd io.Reader) (*Reader, error) {
	r := NewReaderAt(name, rd, 0, 0)
	var m [len(magic)]byte
	if _, err := io.ReadFull(r.br, m[:]); err != nil || string(m[:]) != magic {
		return nil, fmt.Errorf("reading run file %s: %w: no run header", name, ErrCorrupt)
	}
	r.off, r.at = int64(len(magic)), int64(len(magic))
	return r, nil
}

// NewReaderAt reads the rest of a run from rd, which is at the run's
// pair of index pairs (from 0), at byte offset off, as [Reader.Offset]
// gave them; it reads no header. It reads through rd if rd is a
// *bufio.Reader.
func NewReaderAt(name string, rd io.Reader, off int64, pairs uint64) *Reader {
	br, ok := rd.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(rd, 64<<10)
	}
	return &Reader{name: name, br: br, close: func() error { return nil }, off: off, at: off, pairs: pairs}
}

// Offset is the byte offset in the run at which the pair the last Next
// returned starts (where the reader started, before the first Next); once
// Next has returned io.EOF, the run's length; after an error, where the
// pair it could not read starts.
func (r *Reader) Offset() int64 { return r.at }

// Next returns the next pair, or io.EOF after the last one. Key and value
// stay valid until the next call.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.done {
		return nil, nil, io.EOF
	}
	r.at = r.off
	kn, err := r.uvarint()
	if err != nil {
		return nil, nil, err
	}
	if kn == 0 {
		n, err := r.uvarint()
		if err != nil || n != r.pairs {
			return nil, nil, r.corrupt("bad end")
		}
		r.done, r.at = true, r.off
		return nil, nil, io.EOF
	}
	if r.key, err = r.item(r.key, kn-1); err != nil {
		return nil, nil, err
	}
	vn, err := r.uvarint()
	if err != nil {
		return nil, nil, err
	}
	if r.skipValues {
		err = r.skip(vn)
	} else {
		r.value, err = r.item(r.value, vn)
	}
	if err != nil {
		return nil, nil, err
	}
	r.pairs++
	return r.key, r.value, nil
}

// SkipValues makes Next return each pair's key and a nil value, whose
// bytes it skips unread (checking its length as it does a value read),
// for a reader of keys and offsets only.
func (r *Reader) SkipValues() { r.skipValues, r.value = true, nil }

func (r *Reader) skip(n uint64) error {
	if n > MaxItem {
		return r.corrupt("item too long")
	}
	d, err := r.br.Discard(int(n))
	r.off += int64(d)
	if err != nil {
		return r.corrupt("cut short")
	}
	return nil
}

// uvarint reads a length, as binary.ReadUvarint does but without an
// interface call per byte.
func (r *Reader) uvarint() (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		c, err := r.br.ReadByte()
		if err != nil {
			return 0, r.corrupt("cut short")
		}
		r.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, r.corrupt("bad length")
}

func (r *Reader) item(buf []byte, n uint64) ([]byte, error) {
	if n > MaxItem {
		return nil, r.corrupt("item too long")
	}
	buf, err := schema.ReadItem(r.br, buf, int(n))
	if err != nil {
		return nil, r.corrupt("cut short")
	}
	r.off += int64(n)
	return buf, nil
}

func (r *Reader) corrupt(why string) error {
	return fmt.Errorf("reading run file %s: %w: %s at byte %d, pair %d", r.name, ErrCorrupt, why, r.at, r.pairs)
}

// Close closes the file.
func (r *Reader) Close() error { return r.close() }
