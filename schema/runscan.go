package schema

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// AppendRunHeader appends the header of a run of n pairs (see [EncodeRun]).
func AppendRunHeader(dst []byte, n int) []byte {
	items := uint64(2 * n)
	switch {
	case items < 16:
		return append(dst, 0x90|byte(items))
	case items <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(items))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(items))
}

// AppendRunItem appends a key or value of a run (a msgpack binary string),
// as [EncodeRun] writes it.
func AppendRunItem(dst, b []byte) []byte {
	n := len(b)
	switch {
	case n <= 0xff:
		dst = append(dst, 0xc4, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

// RunScanner reads a run as [RunReader] does, accepting the same runs and
// rejecting the same with [ErrMalformed], but without allocating per pair:
// the key and value it returns stay valid only until the next call. It
// reads a run from its start ([NewRunScanner]) or from any of its pairs,
// at the offset [RunScanner.Offset] gave for it ([NewRunScannerAt]), and
// checks the same in both.
type RunScanner struct {
	br        *bufio.Reader
	remaining int
	started   bool
	off       int64 // the offset in the run of the next byte to read
	at        int64 // what Offset returns
	key, prev []byte
	value     []byte
	cmp       func(a, b []byte) int // nil: bytes.Compare
	// skipValues: Next skips values (see SkipValues).
	skipValues bool
}

// NewRunScanner reads a run from r. It reads through r if r is a
// *bufio.Reader.
func NewRunScanner(r io.Reader) *RunScanner {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &RunScanner{br: br}
}

// NewRunScannerBy reads a run sorted by cmp (see [Keys.Comparer]; nil is
// bytewise) from r.
func NewRunScannerBy(r io.Reader, cmp func(a, b []byte) int) *RunScanner {
	s := NewRunScanner(r)
	s.cmp = cmp
	return s
}

// NewRunScannerAt reads the rest of a run sorted by cmp from r, which is
// at the pair that starts at byte offset off of the run, as
// [RunScanner.Offset] gave it, with left pairs from it to the run's end
// (the header's count less the pairs before it); it reads no header. It
// reads through r if r is a *bufio.Reader.
func NewRunScannerAt(r io.Reader, off int64, left int, cmp func(a, b []byte) int) *RunScanner {
	s := NewRunScannerBy(r, cmp)
	s.started, s.remaining, s.off, s.at = true, left, off, off
	return s
}

// Offset is the byte offset in the run at which the pair the last Next
// returned starts (where the scanner started, before the first Next);
// once Next has returned io.EOF, the offset after the run's last pair;
// after an error, where the pair it could not read starts.
func (s *RunScanner) Offset() int64 { return s.at }

// Next returns the next pair, or io.EOF after the last one.
func (s *RunScanner) Next() (key, value []byte, err error) {
	if !s.started {
		n, err := s.arrayLen()
		if err != nil {
			return nil, nil, fmt.Errorf("reading run: %w: %v", ErrMalformed, err)
		}
		if n%2 != 0 {
			return nil, nil, fmt.Errorf("reading run: %w: array of %d items", ErrMalformed, n)
		}
		s.started, s.remaining = true, n/2
	}
	s.at = s.off
	if s.remaining == 0 {
		return nil, nil, io.EOF
	}
	s.prev, s.key = s.key, s.prev
	if s.key, err = s.item(s.key, "key"); err != nil {
		return nil, nil, err
	}
	if s.skipValues {
		err = s.skip()
	} else {
		s.value, err = s.item(s.value, "value")
	}
	if err != nil {
		return nil, nil, err
	}
	if s.prev != nil && CompareBy(s.cmp, s.prev, s.key) > 0 {
		return nil, nil, fmt.Errorf("reading run: %w: key %q after %q is out of order", ErrMalformed, s.key, s.prev)
	}
	s.remaining--
	return s.key, s.value, nil
}

func (s *RunScanner) arrayLen() (int, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.off++
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xc0:
		return -1, nil // nil, which RunReader rejects too
	case c == 0xdc:
		n, err := s.uint(2)
		return int(n), err
	case c == 0xdd:
		n, err := s.uint(4)
		return int(n), err
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding array length", c)
}

func (s *RunScanner) uint(size int) (uint64, error) {
	var b [4]byte
	if _, err := io.ReadFull(s.br, b[:size]); err != nil {
		return 0, err
	}
	s.off += int64(size)
	if size == 2 {
		return uint64(binary.BigEndian.Uint16(b[:])), nil
	}
	return uint64(binary.BigEndian.Uint32(b[:])), nil
}

// SkipValues makes Next return each pair's key and a nil value, whose
// bytes it skips unread (checking its encoding as it does a value read),
// for a reader of keys and offsets only.
func (s *RunScanner) SkipValues() { s.skipValues, s.value = true, nil }

// skip skips a value.
func (s *RunScanner) skip() error {
	n, err := s.itemLen()
	if err == nil && n > MaxRunItem {
		err = fmt.Errorf("%d bytes, more than %d", n, MaxRunItem)
	}
	if err == nil {
		var d int
		d, err = s.br.Discard(n)
		s.off += int64(d)
	}
	if err != nil {
		return fmt.Errorf("reading run value: %w: %v", ErrMalformed, err)
	}
	return nil
}

// item reads one binary or text string into buf.
func (s *RunScanner) item(buf []byte, what string) ([]byte, error) {
	n, err := s.itemLen()
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w: %v", what, ErrMalformed, err)
	}
	if n > MaxRunItem {
		return nil, fmt.Errorf("reading run %s: %w: %d bytes, more than %d", what, ErrMalformed, n, MaxRunItem)
	}
	if buf, err = ReadItem(s.br, buf, n); err != nil {
		return nil, fmt.Errorf("reading run %s: %w: %v", what, ErrMalformed, err)
	}
	s.off += int64(n)
	return buf, nil
}

// ReadItem reads a run's key or value of n bytes from br into buf's
// storage, or into a new slice that grows as the bytes arrive when buf is
// too short, so that a corrupt length cannot force a huge allocation
// before the input runs out.
func ReadItem(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	if n > 0 && cap(buf) >= n && br.Buffered() >= n {
		// Most items: one copy from br's buffer, inline.
		buf = buf[:n]
		br.Read(buf)
		return buf, nil
	}
	return readItem(br, buf, n)
}

func readItem(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		buf = buf[:n]
		_, err := io.ReadFull(br, buf)
		return buf, err
	}
	buf = buf[:0]
	for len(buf) < n {
		chunk := min(n-len(buf), max(len(buf), 64<<10))
		buf = append(buf, make([]byte, chunk)...)
		if _, err := io.ReadFull(br, buf[len(buf)-chunk:]); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func (s *RunScanner) itemLen() (int, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.off++
	switch {
	case c == 0xc0:
		return 0, nil
	case c&0xe0 == 0xa0:
		return int(c & 0x1f), nil
	case c == 0xc4 || c == 0xd9:
		b, err := s.br.ReadByte()
		s.off++
		return int(b), err
	case c == 0xc5 || c == 0xda:
		n, err := s.uint(2)
		return int(n), err
	case c == 0xc6 || c == 0xdb:
		n, err := s.uint(4)
		return int(n), err
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding bytes length", c)
}

// RunHeaderLen is the length of the header [PutRunHeader] writes.
const RunHeaderLen = 5

// PutRunHeader writes into b[:RunHeaderLen] the header of a run of n
// pairs in its longest form, so that a run written as a stream, whose
// count is known only at its end, can have its header filled in last.
// Readers accept it as they accept the shortest form.
func PutRunHeader(b []byte, n int) {
	b[0] = 0xdd
	binary.BigEndian.PutUint32(b[1:RunHeaderLen], uint32(2*n))
}
