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
	return splitFrom(ctx, inputs, 0, 0, func() int64 { return chunkSize }, yield)
}

// splitFrom splits inputs[first:], the first of them from offset start,
// asking size for the size of each range just before cutting it.
func splitFrom(ctx context.Context, inputs []Input, first int, start int64, size func() int64, yield func(Range) error) error {
	s := &fileSplitter{ctx: ctx, size: size, yield: yield, buf: make([]byte, readBufferSize)}
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
	size   func() int64 // the size of the next range; below 1 counts as 1
	yield  func(Range) error
	buf    []byte // the read buffer, of readBufferSize bytes
	win    []byte // the bytes of the current file last read into buf
	winOff int64  // the offset of win in the current file
}

// split yields the ranges of one input from offset from, which must be
// the start of a line.
func (s *fileSplitter) split(in Input, from int64) error {
	if in.Size <= from {
		return nil
	}
	f, err := openInput(in)
	if err != nil {
		return err
	}
	defer f.Close()
	s.win = nil
	for start := from; start < in.Size; {
		end, err := s.rangeEnd(f, in, start)
		if err != nil {
			return err
		}
		sum, err := s.checksum(f, in, start, end)
		if err != nil {
			return err
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if err := s.yield(Range{Path: in.Path, Offset: start, Length: end - start, CRC: sum}); err != nil {
			return err
		}
		start = end
	}
	return nil
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

// rangeEnd returns the end (exclusive) of the range of in that starts at
// start: just after the first '\n' at or after start+chunkSize-1, or the
// end of the file.
func (s *fileSplitter) rangeEnd(f io.ReaderAt, in Input, start int64) (int64, error) {
	size := max(s.size(), 1)
	if size >= in.Size-start {
		return in.Size, nil
	}
	nl, err := s.findNewline(f, in, start+size-1)
	if err != nil {
		return 0, err
	}
	if nl < 0 {
		return in.Size, nil
	}
	return nl + 1, nil
}

// findNewline returns the position of the first '\n' of in at or after
// from, or -1 if there is none before in.Size. It scans one window at a
// time and checks for cancellation between windows.
func (s *fileSplitter) findNewline(f io.ReaderAt, in Input, from int64) (int64, error) {
	for from < in.Size {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		w, err := s.window(f, in, from)
		if err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(w, '\n'); i >= 0 {
			return from + int64(i), nil
		}
		from += int64(len(w))
	}
	return -1, nil
}

// checksum returns the CRC-32C of the bytes of in from start to end.
func (s *fileSplitter) checksum(f io.ReaderAt, in Input, start, end int64) (uint32, error) {
	var sum uint32
	for at := start; at < end; {
		w, err := s.window(f, in, at)
		if err != nil {
			return 0, err
		}
		w = w[:min(int64(len(w)), end-at)]
		sum = crc32.Update(sum, castagnoli, w)
		at += int64(len(w))
	}
	return sum, nil
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
