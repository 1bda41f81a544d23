package splitter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compressions of input files, chosen by their name's extension.
const (
	Gzip = "gzip" // .gz
	Zstd = "zstd" // .zst
)

// ErrCorrupt wraps the error of a compressed input that does not
// decompress: a damaged, truncated or mislabelled file. Found while
// resolving the inputs (the file's start) it wraps [ErrBadInput] too;
// found while splitting, after tasks started, it does not.
var ErrCorrupt = errors.New("compressed input is corrupt")

// DefaultStreamChunkMax bounds a chunk of a streamed input, which travels
// inside its task message: well below NATS's default maximum payload of
// 1 MiB.
const DefaultStreamChunkMax = 512 << 10

// corruptError is a compressed input that stopped decompressing once
// tasks had started. Its message is written for the user; it matches
// ErrCorrupt and unwraps to its cause.
type corruptError struct {
	msg   string
	cause error
}

func (e *corruptError) Error() string   { return e.msg }
func (e *corruptError) Unwrap() []error { return []error{ErrCorrupt, e.cause} }

// compressionOf returns the compression of the file at p, from its name.
func compressionOf(p string) string {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".gz":
		return Gzip
	case ".zst":
		return Zstd
	}
	return ""
}

// decompressor reads the decompressed bytes of r.
func decompressor(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case Gzip:
		return gzip.NewReader(r) // reads concatenated members, as gzip -d does
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// checkCompressed decompresses the start of the file f, named p, to check
// that it is a compressed file of the kind its name says.
func checkCompressed(f io.Reader, p, compression string) error {
	d, err := decompressor(f, compression)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // not even a header
	}
	if err == nil {
		_, err = d.Read(make([]byte, 1))
		d.Close()
		if errors.Is(err, io.EOF) {
			err = nil // a valid file of nothing
		}
	}
	if err != nil {
		return badInput(errors.Join(ErrCorrupt, err), "input %q is not a valid %s file (%v): check the file (e.g. with %s -t) or rename it if it is not compressed",
			p, compression, err, compression)
	}
	return nil
}

// splitStream cuts the input in, read as one stream (standard input from
// stdin, or a decompressed file), into chunks of whole lines of about
// chunkSize bytes, at most limit unless one line is longer, which is an
// error wrapping [ErrLineTooLong]. A stream that stops decompressing is an
// error wrapping [ErrCorrupt]. The chunks are cut the same way every time
// the same bytes are read, so a job can skip the chunks it already has.
func splitStream(ctx context.Context, in Input, stdin io.Reader, rec Records, chunkSize int64, limit int, yield func(Chunk) error) error {
	var r io.Reader
	name := "standard input"
	if in.Path == Stdin {
		r = stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		name = fmt.Sprintf("input %q", in.Path)
		f, err := os.Open(in.Path)
		if err != nil {
			return badInput(err, "input %q cannot be opened for splitting (%s): check it still exists and is readable",
				in.Path, causeText(err))
		}
		defer f.Close()
		d, err := decompressor(bufio.NewReaderSize(f, readBufferSize), in.Compression)
		if err != nil {
			return &corruptError{msg: fmt.Sprintf("%s is not a valid %s file (%v): check the file (e.g. with %s -t)",
				name, in.Compression, err, in.Compression), cause: err}
		}
		defer d.Close()
		r = d
	}
	return splitRecords(ctx, r, name, rec, chunkSize, limit, yield, func(err error, at int64) error {
		if errors.Is(err, ErrBadInput) {
			return err
		}
		if in.Compression != "" && !errors.Is(err, ErrLineTooLong) {
			return &corruptError{msg: fmt.Sprintf("%s is corrupt: it stopped decompressing after %d bytes (%v): check the file (e.g. with %s -t)",
				name, at, err, in.Compression), cause: err}
		}
		return fmt.Errorf("reading %s after %d bytes: %w", name, at, err)
	})
}

// splitRecords reads r once and yields chunks of whole records of about
// chunkSize bytes and at most limit, each carrying the first rec.Header
// records of r as its header; wrap describes a read error after the first
// at bytes.
func splitRecords(ctx context.Context, r io.Reader, name string, rec Records, chunkSize int64, limit int, yield func(Chunk) error, wrap func(err error, at int64) error) error {
	if limit <= 0 {
		limit = DefaultStreamChunkMax
	}
	size := int(min(max(chunkSize, 1), int64(limit)))
	rr := recordReader{br: bufio.NewReaderSize(r, readBufferSize), name: name, rec: rec, limit: limit}
	var chunk, header []byte
	headers := rec.Header
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		record, err := rr.next()
		if len(record) > 0 {
			switch {
			case headers > 0:
				headers--
				if len(header)+len(record) > MaxHeader {
					return wrap(badInput(ErrMalformed, "the header of %s (%d %ss) is more than the %d bytes a header may have: check --header",
						name, rec.Header, rec.describe(), MaxHeader), rr.read)
				}
				header = append(header, record...)
			case len(chunk) > 0 && len(chunk)+len(record) > size:
				if yerr := yield(Chunk{Data: chunk, Header: header}); yerr != nil {
					return yerr
				}
				chunk = nil
				fallthrough
			default:
				chunk = append(chunk, record...)
			}
		}
		if errors.Is(err, io.EOF) {
			if len(chunk) > 0 {
				return yield(Chunk{Data: chunk, Header: header})
			}
			return nil
		}
		if err != nil {
			return wrap(err, rr.read)
		}
	}
}

// recordReader reads the records of a stream one at a time.
type recordReader struct {
	br    *bufio.Reader
	name  string // the input, in messages
	rec   Records
	limit int
	buf   []byte
	read  int64 // bytes read so far
	lines int64 // newlines read so far, for CSV messages
}

// next returns the next record, valid until the next call, and io.EOF
// with the last one (which may lack its end).
func (r *recordReader) next() ([]byte, error) {
	end := r.rec.end()
	last := end[len(end)-1]
	csv := r.rec.csv()
	var quotes csvState
	dst := r.buf[:0]
	defer func() { r.buf = dst[:0] }()
	for {
		part, err := r.br.ReadSlice(last)
		if len(dst)+len(part) > r.limit {
			return nil, fmt.Errorf("%w: a %s is longer than %d bytes; give the input as an uncompressed file instead", ErrLineTooLong, r.rec.describe(), r.limit)
		}
		dst = append(dst, part...)
		r.read += int64(len(part))
		if csv {
			quotes.scan(part, int64(len(dst)-len(part)))
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && quotes.quoted():
			at := r.read - int64(len(dst)) + quotes.open
			line := r.lines + 1 + int64(bytes.Count(dst[:quotes.open], []byte{'\n'}))
			return nil, unterminatedQuote(r.name, at, line)
		case err != nil:
			return dst, err
		case quotes.quoted() || !bytes.HasSuffix(dst, end):
			continue
		}
		if r.rec.Start != "" {
			// A record ends here if the next begins with Start, or the
			// stream ends.
			if next, _ := r.br.Peek(len(r.rec.Start)); len(next) > 0 && string(next) != r.rec.Start {
				continue
			}
		}
		if csv {
			r.lines += int64(bytes.Count(dst, []byte{'\n'}))
		}
		return dst, nil
	}
}
