package splitter

import (
	"bufio"
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
func splitStream(ctx context.Context, in Input, stdin io.Reader, chunkSize int64, limit int, yield func(Chunk) error) error {
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
	return splitLines(ctx, r, chunkSize, limit, yield, func(err error, at int64) error {
		if in.Compression != "" && !errors.Is(err, ErrLineTooLong) {
			return &corruptError{msg: fmt.Sprintf("%s is corrupt: it stopped decompressing after %d bytes (%v): check the file (e.g. with %s -t)",
				name, at, err, in.Compression), cause: err}
		}
		return fmt.Errorf("reading %s after %d bytes: %w", name, at, err)
	})
}

// splitLines reads r once and yields chunks of whole lines of about
// chunkSize bytes and at most limit; wrap describes a read error after the
// first at bytes.
func splitLines(ctx context.Context, r io.Reader, chunkSize int64, limit int, yield func(Chunk) error, wrap func(err error, at int64) error) error {
	if limit <= 0 {
		limit = DefaultStreamChunkMax
	}
	size := int(min(max(chunkSize, 1), int64(limit)))
	br := bufio.NewReaderSize(r, readBufferSize)
	var chunk, line []byte
	var read int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		line, err = readLine(br, line[:0], limit)
		read += int64(len(line))
		if len(line) > 0 {
			if len(chunk) > 0 && len(chunk)+len(line) > size {
				if yerr := yield(Chunk{Data: chunk}); yerr != nil {
					return yerr
				}
				chunk = nil
			}
			chunk = append(chunk, line...)
		}
		if errors.Is(err, io.EOF) {
			if len(chunk) > 0 {
				return yield(Chunk{Data: chunk})
			}
			return nil
		}
		if err != nil {
			return wrap(err, read)
		}
	}
}
