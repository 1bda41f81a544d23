package splitter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Source is where a job's tasks come from. Files, item lists and SQL key
// ranges are built-in sources; a user's own (an object-store listing, a
// queue of IDs) implements Source too.
//
// Split calls yield for each chunk, in order, from one goroutine, and stops
// when yield returns an error (returning it) or ctx ends. A job that is to
// be resumed after a crash needs a deterministic Source: the same chunks in
// the same order every time Split is called.
type Source interface {
	Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error
}

// Describer is implemented by sources that can say what they read, so that
// a resumed job can check it reads the same inputs.
type Describer interface {
	// Describe returns the names of the inputs and their sizes.
	Describe() (names []string, sizes []int64)
}

// CursorSource is a Source that can go on after a given chunk without
// splitting again what came before it, for inputs that change as the job
// runs (a table being migrated). A job checkpoints each chunk of such a
// source before publishing it; a resumed job publishes that chunk again and
// continues with SplitAfter.
type CursorSource interface {
	Source
	// SplitAfter calls yield for each chunk after last, in order.
	SplitAfter(ctx context.Context, last Chunk, chunkSize int64, yield func(Chunk) error) error
}

// AdaptiveSource is a source whose chunks may change size from one to the
// next and that can go on after a given chunk: a job sized by --task-time
// asks for each chunk's size as tasks finish, and checkpoints each chunk
// before publishing it, because such a split cannot be repeated.
type AdaptiveSource interface {
	Source
	// SplitSized calls yield for each chunk after last, or from the start
	// when last is nil, calling size for the size of each chunk just before
	// cutting it.
	SplitSized(ctx context.Context, last *Chunk, size func() int64, yield func(Chunk) error) error
}

// Chunk is one task's input: a byte range of a file, or the bytes
// themselves. Workers read a byte range from the file when they share a
// filesystem with the splitter; with transport "object" the job reads the
// range and ships its bytes to them.
type Chunk struct {
	Path           string
	Offset, Length int64
	// Data holds the chunk's bytes when Path is empty.
	Data []byte
}

// Files is the source of input files: byte ranges on line boundaries (see
// [Ranges]).
type Files []Input

// Split implements [Source].
func (f Files) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	return Ranges(ctx, f, chunkSize, func(r Range) error {
		return yield(Chunk{Path: r.Path, Offset: r.Offset, Length: r.Length})
	})
}

// SplitSized implements [AdaptiveSource]. A last chunk that none of the
// files contains is an error wrapping [ErrBadInput].
func (f Files) SplitSized(ctx context.Context, last *Chunk, size func() int64, yield func(Chunk) error) error {
	first, start := 0, int64(0)
	if last != nil {
		first = slices.IndexFunc(f, func(in Input) bool { return in.Path == last.Path })
		if first < 0 || last.Offset < 0 || last.Length < 1 || last.Offset+last.Length > f[first].Size {
			return badInput(nil, "the split checkpoint names %q at %d+%d, which is not part of the inputs: start the job again without --resume",
				last.Path, last.Offset, last.Length)
		}
		start = last.Offset + last.Length
	}
	return splitFrom(ctx, f, first, start, size, func(r Range) error {
		return yield(Chunk{Path: r.Path, Offset: r.Offset, Length: r.Length})
	})
}

// Describe implements [Describer].
func (f Files) Describe() ([]string, []int64) {
	names, sizes := make([]string, len(f)), make([]int64, len(f))
	for i, in := range f {
		names[i], sizes[i] = in.Path, in.Size
	}
	return names, sizes
}

// ErrLineTooLong is returned by a [Lines] source for a line longer than
// its limit.
var ErrLineTooLong = errors.New("line too long")

// Lines is a source that reads r once and cuts it into chunks of whole
// lines carried inside the task messages, for input that is not a file
// workers can read: a pipe, a string, a network stream. A chunk holds at
// most Max bytes unless one line is longer, which is an error wrapping
// [ErrLineTooLong]. Lines cannot be split twice: a job reading it cannot be
// resumed.
type Lines struct {
	R io.Reader
	// Max bounds a chunk, below NATS's message size. Default 512 KiB.
	Max int
}

// Split implements [Source].
func (l Lines) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	limit := l.Max
	if limit <= 0 {
		limit = 512 << 10
	}
	size := int(min(chunkSize, int64(limit)))
	br := bufio.NewReaderSize(l.R, 64<<10)
	var chunk, line []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		line, err = readLine(br, line[:0], limit)
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
			return err
		}
	}
}

// readLine appends the next line of br, with its newline, to dst.
func readLine(br *bufio.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		part, err := br.ReadSlice('\n')
		if len(dst)+len(part) > limit {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes; give the input as a file instead", ErrLineTooLong, limit)
		}
		dst = append(dst, part...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil || errors.Is(err, io.EOF):
			return dst, err
		default:
			return dst, fmt.Errorf("reading input: %w", err)
		}
	}
}
