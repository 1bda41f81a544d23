package splitter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// readBufferSize is the size of the window Ranges reads while looking for
// the end of a line.
const readBufferSize = 64 << 10

// Range is a byte range of a file: it starts at the beginning of a line,
// and ends just after a '\n' or at the end of the file.
type Range struct {
	// Path is the file's path, as in Input.Path.
	Path string
	// Offset is the position of the range's first byte in the file.
	Offset int64
	// Length is the number of bytes in the range; it is at least 1.
	Length int64
	// CRC is the CRC-32C (Castagnoli) of the range's bytes as Ranges read
	// them.
	CRC uint32
	// Header is the header of the range's file (see [Records.Header]); nil
	// when it has none.
	Header []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Ranges splits each input, in order, into ranges of about chunkSize bytes
// that start and end on line boundaries and calls yield for each, in order.
//
// A range never spans two files. A range ends at the first '\n' at or
// after offset+chunkSize-1, or at the end of the file, so a range is at
// least chunkSize bytes unless it is the file's last, and a line longer
// than a chunk makes that chunk longer but is never split. Empty files
// yield nothing. CRLF line ends, a missing final newline and invalid UTF-8
// are just bytes. Only the first Input.Size bytes of a file are split:
// bytes appended since ResolveInputs are ignored, and a file that became
// shorter is an error wrapping ErrBadInput.
//
// Ranges reads each file once, start to end, in 64 KiB windows, to find
// line ends and compute each range's CRC, never holding a whole file, so
// its memory is bounded whatever the file size. Inputs read as streams
// (see [Input.Streamed]) are an error. It stops and
// returns ctx.Err() when ctx is cancelled, and returns yield's error
// unchanged if yield fails. A chunkSize below 1 panics.
func Ranges(ctx context.Context, inputs []Input, chunkSize int64, yield func(Range) error) error {
	if chunkSize < 1 {
		panic(fmt.Sprintf("splitter: chunk size %d is below 1", chunkSize))
	}
	return RangesOf(ctx, inputs, Records{}, chunkSize, yield)
}

// RangesOf is [Ranges] for inputs of the given records: ranges start and
// end on record boundaries rather than line boundaries, and each carries
// its input's header (see [Records]). A CSV input whose last quoted field
// is never closed is an error wrapping ErrBadInput that names the byte
// offset and line of its quote.
func RangesOf(ctx context.Context, inputs []Input, rec Records, chunkSize int64, yield func(Range) error) error {
	if chunkSize < 1 {
		panic(fmt.Sprintf("splitter: chunk size %d is below 1", chunkSize))
	}
	return splitFrom(ctx, inputs, rec, 0, 0, func() int64 { return chunkSize }, yield)
}

// splitFrom splits inputs[first:], the first of them from offset start,
// asking size for the size of each range just before cutting it.
func splitFrom(ctx context.Context, inputs []Input, rec Records, first int, start int64, size func() int64, yield func(Range) error) error {
	s := &fileSplitter{ctx: ctx, rec: rec, size: size, yield: yield, buf: make([]byte, readBufferSize)}
	for i, in := range inputs[first:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in.Streamed() {
			return fmt.Errorf("splitter: input %q is read as a stream, not by byte ranges: split it with Inputs", in.Path)
		}
		from := int64(0)
		if i == 0 {
			from = start
		}
		if err := s.split(in, from); err != nil {
			return err
		}
	}
	return nil
}

// fileSplitter holds the state shared by the files of one Ranges call.
type fileSplitter struct {
	ctx    context.Context
	rec    Records
	size   func() int64 // the size of the next range; below 1 counts as 1
	yield  func(Range) error
	buf    []byte   // the read buffer, of readBufferSize bytes
	win    []byte   // the bytes of the current file last read into buf
	winOff int64    // the offset of win in the current file
	csv    csvState // the CSV quotes up to the scan position
}

// split yields the ranges of one input from offset from, which must be
// the start of a record.
func (s *fileSplitter) split(in Input, from int64) error {
	if in.Size <= from {
		return nil
	}
	f, err := openInput(in)
	if err != nil {
		return err
	}
	defer f.Close()
	s.win, s.csv = nil, csvState{}
	var header []byte
	if s.rec.Header > 0 {
		var end int64
		if header, end, err = s.header(f, in); err != nil {
			return err
		}
		from = max(from, end)
	}
	for start := from; start < in.Size; {
		end, sum, err := s.cut(f, in, start, max(s.size(), 1))
		if err != nil {
			return err
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if err := s.yield(Range{Path: in.Path, Offset: start, Length: end - start, CRC: sum, Header: header}); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// CheckHeaders reads the header of each input read by byte ranges (see
// [Records.Header]) and, when rec.SameHeader is set, checks that they are
// all the same, so that a job can refuse inputs with different headers
// before it starts: an error wrapping ErrBadInput and ErrMalformed names
// the first input that differs. Streamed inputs are checked as they are
// split.
func CheckHeaders(ctx context.Context, inputs []Input, rec Records) error {
	if !rec.SameHeader || rec.Header == 0 {
		return nil
	}
	s := &fileSplitter{ctx: ctx, rec: rec, buf: make([]byte, readBufferSize)}
	var first []byte
	firstName := ""
	for _, in := range inputs {
		if in.Streamed() || in.Size == 0 {
			continue
		}
		header, err := s.fileHeader(in)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("input %q", in.Path)
		if firstName == "" {
			first, firstName = header, name
			continue
		}
		if !bytes.Equal(header, first) {
			return differentHeader(name, firstName, header, first)
		}
	}
	return nil
}

// fileHeader opens in and returns its header.
func (s *fileSplitter) fileHeader(in Input) ([]byte, error) {
	f, err := openInput(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s.win, s.csv = nil, csvState{}
	header, _, err := s.header(f, in)
	return header, err
}

// header returns the first Records.Header records of in and where they
// end.
func (s *fileSplitter) header(f io.ReaderAt, in Input) ([]byte, int64, error) {
	end := int64(0)
	for range s.rec.Header {
		if end >= in.Size || end > MaxHeader {
			break
		}
		next, _, err := s.cut(f, in, end, 1)
		if err != nil {
			return nil, 0, err
		}
		end = next
	}
	if end > MaxHeader {
		return nil, 0, badInput(ErrMalformed, "the header of input %q (%d %ss) is longer than the %d bytes a header may have: check --header",
			in.Path, s.rec.Header, s.rec.describe(), MaxHeader)
	}
	header := make([]byte, end)
	if _, err := f.ReadAt(header, 0); err != nil {
		return nil, 0, readError(in, 0, err)
	}
	return header, end, nil
}

// openInput opens the input's file and checks it is not shorter than when
// it was resolved.
func openInput(in Input) (*os.File, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, badInput(err, "input %q cannot be opened for splitting (%s): check it still exists and is readable",
			in.Path, causeText(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checking the size of input %q: %w", in.Path, err)
	}
	if info.Size() < in.Size {
		f.Close()
		return nil, changedError(in, info.Size())
	}
	return f, nil
}

// cut returns the end (exclusive) of the range of in that starts at
// start, a record boundary, and the CRC-32C of its bytes: the first record
// boundary at or after start+size, or the end of the file. It reads the
// range's bytes once, in windows, checking for cancellation between them.
func (s *fileSplitter) cut(f io.ReaderAt, in Input, start, size int64) (int64, uint32, error) {
	target := in.Size // where the search for the range's end starts
	if size < in.Size-start {
		target = start + size - 1 // an end byte here makes a range of size bytes
	}
	var sum uint32
	at := start
	// The bytes before the first place a range may end: checksum them and,
	// for CSV, follow the quotes.
	for at < target {
		if err := s.ctx.Err(); err != nil {
			return 0, 0, err
		}
		w, err := s.window(f, in, at)
		if err != nil {
			return 0, 0, err
		}
		w = w[:min(int64(len(w)), target-at)]
		sum = crc32.Update(sum, castagnoli, w)
		if s.rec.csv() {
			s.csv.scan(w, at)
		}
		at += int64(len(w))
	}
	var end int64
	var err error
	if s.rec.simple() {
		end, sum, err = s.simpleEnd(f, in, at, sum)
	} else {
		end, err = s.markedEnd(f, in, at)
		if err == nil {
			sum, err = s.checksum(f, in, at, end, sum)
		}
	}
	if err != nil {
		return 0, 0, err
	}
	if end == in.Size && s.csv.quoted() {
		return 0, 0, s.quoteError(f, in, start)
	}
	return end, sum, nil
}

// simpleEnd returns the end of the first record that ends at or after at
// (or the end of the file), for records that end with one byte, and the
// checksum sum carried on to it.
func (s *fileSplitter) simpleEnd(f io.ReaderAt, in Input, at int64, sum uint32) (int64, uint32, error) {
	end := s.rec.end()[0]
	csv := s.rec.csv()
	for at < in.Size {
		if err := s.ctx.Err(); err != nil {
			return 0, 0, err
		}
		w, err := s.window(f, in, at)
		if err != nil {
			return 0, 0, err
		}
		i := bytes.IndexByte(w, end)
		if i < 0 {
			sum = crc32.Update(sum, castagnoli, w)
			if csv {
				s.csv.scan(w, at)
			}
			at += int64(len(w))
			continue
		}
		w = w[:i+1]
		sum = crc32.Update(sum, castagnoli, w)
		if csv {
			s.csv.scan(w, at)
		}
		at += int64(len(w))
		if !s.csv.quoted() {
			return at, sum, nil
		}
	}
	return in.Size, sum, nil
}

// markedEnd returns the end of the first record that ends after at (or
// the end of the file), for records that end with Records.End and, when
// Records.Start is set, are followed by a record that starts with it. An
// End that began before at counts.
func (s *fileSplitter) markedEnd(f io.ReaderAt, in Input, at int64) (int64, error) {
	if at >= in.Size {
		return in.Size, nil
	}
	end, begin := s.rec.end(), []byte(s.rec.Start)
	q := at - int64(len(end)) + 1 // an End may straddle at
	for {
		k, err := s.index(f, in, max(q, 0), end)
		if err != nil || k < 0 {
			return in.Size, err
		}
		p := k + int64(len(end))
		if p > at && p <= in.Size {
			if len(begin) == 0 || p == in.Size {
				return p, nil
			}
			ok, err := s.hasAt(f, in, p, begin)
			if err != nil {
				return 0, err
			}
			if ok {
				return p, nil
			}
		}
		q = k + 1
	}
}

// index returns the offset of the first occurrence of sep in in at or
// after from, or -1.
func (s *fileSplitter) index(f io.ReaderAt, in Input, from int64, sep []byte) (int64, error) {
	for from+int64(len(sep)) <= in.Size {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		w, err := s.span(f, in, from, len(sep))
		if err != nil {
			return 0, err
		}
		if i := bytes.Index(w, sep); i >= 0 {
			return from + int64(i), nil
		}
		from += int64(len(w) - len(sep) + 1)
	}
	return -1, nil
}

// hasAt reports whether the bytes of in at offset at are b.
func (s *fileSplitter) hasAt(f io.ReaderAt, in Input, at int64, b []byte) (bool, error) {
	if at+int64(len(b)) > in.Size {
		return false, nil
	}
	w, err := s.span(f, in, at, len(b))
	if err != nil {
		return false, err
	}
	return bytes.HasPrefix(w, b), nil
}

// span is window, but returns at least n bytes unless the file ends
// first, reading again from at when the last window ends too soon.
func (s *fileSplitter) span(f io.ReaderAt, in Input, at int64, n int) ([]byte, error) {
	w, err := s.window(f, in, at)
	if err != nil || int64(len(w)) >= min(int64(n), in.Size-at) {
		return w, err
	}
	s.win = nil
	return s.window(f, in, at)
}

// checksum carries the CRC-32C sum on over the bytes of in from start to
// end, following CSV quotes.
func (s *fileSplitter) checksum(f io.ReaderAt, in Input, start, end int64, sum uint32) (uint32, error) {
	for at := start; at < end; {
		w, err := s.window(f, in, at)
		if err != nil {
			return 0, err
		}
		w = w[:min(int64(len(w)), end-at)]
		sum = crc32.Update(sum, castagnoli, w)
		if s.rec.csv() {
			s.csv.scan(w, at)
		}
		at += int64(len(w))
	}
	return sum, nil
}

// quoteError describes the CSV quoted field left open at the end of in by
// the range that starts at start: it finds the quote that opens it and
// its line.
func (s *fileSplitter) quoteError(f io.ReaderAt, in Input, start int64) error {
	var q csvState
	for from := start; from < in.Size; {
		w, err := s.span(f, in, from, 1)
		if err != nil {
			return err
		}
		q.scan(w, from)
		from += int64(len(w))
	}
	at := max(q.open, start)
	line := int64(1)
	for from := int64(0); from < at; {
		w, err := s.span(f, in, from, 1)
		if err != nil {
			return err
		}
		w = w[:min(int64(len(w)), at-from)]
		line += int64(bytes.Count(w, []byte{'\n'}))
		from += int64(len(w))
	}
	return unterminatedQuote(fmt.Sprintf("input %q", in.Path), at, line)
}

// window returns the bytes of in from offset from to the end of the read
// buffer. It reuses the last window read when it holds from, so that many
// short ranges in a row cost one read per window rather than one per range.
func (s *fileSplitter) window(f io.ReaderAt, in Input, from int64) ([]byte, error) {
	if from >= s.winOff && from < s.winOff+int64(len(s.win)) {
		return s.win[from-s.winOff:], nil
	}
	s.win = s.buf[:min(int64(len(s.buf)), in.Size-from)]
	s.winOff = from
	n, err := f.ReadAt(s.win, from)
	if n < len(s.win) {
		s.win = nil
		return nil, readError(in, from+int64(n), err)
	}
	return s.win, nil
}

// readError describes a short read of in that stopped at offset at.
func readError(in Input, at int64, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return changedError(in, at)
	}
	return fmt.Errorf("reading input %q at offset %d: %w", in.Path, at, err)
}

// changedError reports that in is now only size bytes long.
func changedError(in Input, size int64) error {
	return badInput(nil, "input %q changed while being split: it had %d bytes and now has %d: do not modify inputs while a job runs",
		in.Path, in.Size, size)
}
