package schema

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// A run is the keyed output of one task for one partition: key/value pairs
// sorted by key (bytewise), encoded as a msgpack array of 2n binary strings
// k1, v1, k2, v2, ... It is the payload of keyed results, inline or spilled.

// EncodeRun encodes pairs, which the caller has sorted by key, as a run.
func EncodeRun(w io.Writer, pairs []Pair) error {
	enc := msgpack.NewEncoder(w)
	if err := enc.EncodeArrayLen(2 * len(pairs)); err != nil {
		return err
	}
	for _, p := range pairs {
		if err := enc.EncodeBytes(p.Key); err != nil {
			return err
		}
		if err := enc.EncodeBytes(p.Value); err != nil {
			return err
		}
	}
	return nil
}

// RunReader reads the pairs of a run one at a time, so that a run spilled to
// a file is never held in memory whole.
type RunReader struct {
	dec       *msgpack.Decoder
	remaining int
	last      []byte
	started   bool
	cmp       func(a, b []byte) int // nil: bytes.Compare
}

// NewRunReader reads a run from r.
func NewRunReader(r io.Reader) *RunReader {
	if _, ok := r.(io.ByteScanner); !ok {
		r = bufio.NewReaderSize(r, 64<<10)
	}
	return &RunReader{dec: msgpack.NewDecoder(r)}
}

// NewRunReaderBy reads a run sorted by cmp (see [Keys.Comparer]; nil is
// bytewise) from r.
func NewRunReaderBy(r io.Reader, cmp func(a, b []byte) int) *RunReader {
	rr := NewRunReader(r)
	rr.cmp = cmp
	return rr
}

// Next returns the next pair, or io.EOF after the last one. Key and value
// are fresh slices the caller may keep. A run whose keys are not sorted, or
// that is cut short, yields an error wrapping [ErrMalformed].
func (r *RunReader) Next() (Pair, error) {
	if !r.started {
		n, err := r.dec.DecodeArrayLen()
		if err != nil {
			return Pair{}, fmt.Errorf("reading run: %w: %v", ErrMalformed, err) // %v: a cut-short run must not read as io.EOF
		}
		if n < 0 || n%2 != 0 {
			return Pair{}, fmt.Errorf("reading run: %w: array of %d items", ErrMalformed, n)
		}
		r.started, r.remaining = true, n/2
	}
	if r.remaining == 0 {
		return Pair{}, io.EOF
	}
	k, err := r.item("key")
	if err != nil {
		return Pair{}, err
	}
	v, err := r.item("value")
	if err != nil {
		return Pair{}, err
	}
	if r.last != nil && CompareBy(r.cmp, r.last, k) > 0 {
		return Pair{}, fmt.Errorf("reading run: %w: key %q after %q is out of order", ErrMalformed, k, r.last)
	}
	r.last = k
	r.remaining--
	return Pair{Key: k, Value: v}, nil
}

// MaxRunItem is the largest key or value a run may hold.
const MaxRunItem = 64 << 20

// item reads one binary string, allocating as the bytes arrive rather than
// trusting the claimed length: a corrupt header cannot force a huge
// allocation.
func (r *RunReader) item(what string) ([]byte, error) {
	n, err := r.dec.DecodeBytesLen()
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w: %v", what, ErrMalformed, err) // not io.EOF
	}
	if n < 0 {
		return []byte{}, nil
	}
	if n > MaxRunItem {
		return nil, fmt.Errorf("reading run %s: %w: %d bytes, more than %d", what, ErrMalformed, n, MaxRunItem)
	}
	b := make([]byte, 0, min(n, 64<<10))
	for len(b) < n {
		chunk := min(n-len(b), max(len(b), 64<<10))
		b = append(b, make([]byte, chunk)...)
		if err := r.dec.ReadFull(b[len(b)-chunk:]); err != nil {
			return nil, fmt.Errorf("reading run %s: %w: %v", what, ErrMalformed, err) // not io.EOF
		}
	}
	return b, nil
}

// DecodeRun decodes a whole in-memory run.
func DecodeRun(data []byte) ([]Pair, error) { return DecodeRunBy(data, nil) }

// DecodeRunBy decodes a whole in-memory run sorted by cmp (see
// [Keys.Comparer]; nil is bytewise).
func DecodeRunBy(data []byte, cmp func(a, b []byte) int) ([]Pair, error) {
	if len(data) > 0 {
		if err := checkBounds(data); err != nil {
			return nil, fmt.Errorf("reading run: %w", err)
		}
	}
	r := NewRunReaderBy(bytes.NewReader(data), cmp)
	var pairs []Pair
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return pairs, nil
		}
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
}

// CompareBy compares keys a and b in the key order cmp (see
// [Keys.Comparer]): cmp(a, b), or bytes.Compare(a, b) when cmp is nil.
func CompareBy(cmp func(a, b []byte) int, a, b []byte) int {
	if cmp == nil {
		return bytes.Compare(a, b)
	}
	return cmp(a, b)
}
