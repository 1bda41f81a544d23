package splitter

import (
	"context"
	"encoding/binary"
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
	// Sum is the checksum of a byte range's bytes as the splitter read
	// them: their CRC-32C (Castagnoli), 4 bytes big-endian. A worker that
	// reads the range again checks it, so that a file changed after it was
	// split fails its task instead of mixing two versions. Nil when the
	// source does not compute one.
	Sum []byte
	// Header is the header of the chunk's input (see [Records.Header]),
	// which the chunk's command reads before the chunk; nil when the
	// input has none.
	Header []byte
}

// rangeChunk is the chunk of the byte range r.
func rangeChunk(r Range) Chunk {
	return Chunk{Path: r.Path, Offset: r.Offset, Length: r.Length, Sum: binary.BigEndian.AppendUint32(nil, r.CRC), Header: r.Header}
}

// Files is the source of input files read by byte ranges: ranges on line
// boundaries, with their checksums (see [Ranges]). A job with inputs read
// as streams (standard input, compressed files) uses [Inputs] instead.
type Files []Input

// Split implements [Source].
func (f Files) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	return RecordFiles{Inputs: f}.Split(ctx, chunkSize, yield)
}

// SplitSized implements [AdaptiveSource]. A last chunk that none of the
// files contains is an error wrapping [ErrBadInput].
func (f Files) SplitSized(ctx context.Context, last *Chunk, size func() int64, yield func(Chunk) error) error {
	return RecordFiles{Inputs: f}.SplitSized(ctx, last, size, yield)
}

// RecordFiles is [Files] whose ranges start and end on the boundaries of
// the given records rather than of lines, and carry each file's header
// (see [RangesOf]).
type RecordFiles struct {
	Inputs  []Input
	Records Records
}

// Split implements [Source].
func (f RecordFiles) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	yield = f.Records.sameHeader(yield, chunkInput)
	return RangesOf(ctx, f.Inputs, f.Records, chunkSize, func(r Range) error { return yield(rangeChunk(r)) })
}

// SplitSized implements [AdaptiveSource]. A last chunk that none of the
// files contains is an error wrapping [ErrBadInput].
func (f RecordFiles) SplitSized(ctx context.Context, last *Chunk, size func() int64, yield func(Chunk) error) error {
	first, start := 0, int64(0)
	if last != nil {
		first = slices.IndexFunc(f.Inputs, func(in Input) bool { return in.Path == last.Path })
		if first < 0 || last.Offset < 0 || last.Length < 1 || last.Offset+last.Length > f.Inputs[first].Size {
			return badInput(nil, "the split checkpoint names %q at %d+%d, which is not part of the inputs: start the job again without --resume",
				last.Path, last.Offset, last.Length)
		}
		start = last.Offset + last.Length
	}
	yield = f.Records.sameHeader(yield, chunkInput)
	return splitFrom(ctx, f.Inputs, f.Records, first, start, size, func(r Range) error { return yield(rangeChunk(r)) })
}

// Describe implements [Describer].
func (f RecordFiles) Describe() ([]string, []int64) { return describe(f.Inputs) }

// Fingerprints implements [Fingerprinter].
func (f RecordFiles) Fingerprints() []Fingerprint { return fingerprints(f.Inputs) }

// Describe implements [Describer].
func (f Files) Describe() ([]string, []int64) { return describe(f) }

// Fingerprints implements [Fingerprinter].
func (f Files) Fingerprints() []Fingerprint { return fingerprints(f) }

func describe(inputs []Input) ([]string, []int64) {
	names, sizes := make([]string, len(inputs)), make([]int64, len(inputs))
	for i, in := range inputs {
		names[i], sizes[i] = in.Path, in.Size
	}
	return names, sizes
}

func fingerprints(inputs []Input) []Fingerprint {
	fps := make([]Fingerprint, len(inputs))
	for i, in := range inputs {
		fps[i] = in.Fingerprint
	}
	return fps
}

// Inputs is the source of a job's inputs when some of them are read as
// streams (see [Input.Streamed]): each input in turn, a file by byte
// ranges as [Files] does, standard input and compressed files as chunks
// of whole lines carried in the task messages, cut as the stream is read
// (never held whole). The chunks of a compressed file are cut the same way
// each time it is split, so a job reading one can be resumed; standard
// input can be read only once.
type Inputs struct {
	Inputs []Input
	// Stdin is read for the input [Stdin]; os.Stdin when nil.
	Stdin io.Reader
	// Max bounds a streamed chunk. Default [DefaultStreamChunkMax].
	Max int
	// Records says where chunks may be cut and what header each input
	// has; the zero value is lines and no header.
	Records Records
}

// Split implements [Source].
func (s Inputs) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	current := ""
	yield = s.Records.sameHeader(yield, func(Chunk) string { return current })
	for i, in := range s.Inputs {
		current = chunkInput(Chunk{Path: in.Path})
		var err error
		if in.Streamed() {
			err = splitStream(ctx, in, s.Stdin, s.Records, chunkSize, s.Max, yield)
		} else {
			err = RangesOf(ctx, s.Inputs[i:i+1], s.Records, chunkSize, func(r Range) error { return yield(rangeChunk(r)) })
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Describe implements [Describer].
func (s Inputs) Describe() ([]string, []int64) { return describe(s.Inputs) }

// Fingerprints implements [Fingerprinter].
func (s Inputs) Fingerprints() []Fingerprint { return fingerprints(s.Inputs) }

// Fingerprinter is implemented by sources of input files, so that a
// resumed job can refuse files that changed since it started.
type Fingerprinter interface {
	// Fingerprints returns the fingerprints of the inputs Describe names,
	// in the same order.
	Fingerprints() []Fingerprint
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
	return splitRecords(ctx, l.R, "the input", Records{}, chunkSize, l.Max, yield, func(err error, _ int64) error {
		if errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrBadInput) {
			return err
		}
		return fmt.Errorf("reading input: %w", err)
	})
}

// chunkInput names the input of a chunk in messages.
func chunkInput(c Chunk) string {
	if c.Path == Stdin || c.Path == "" {
		return "standard input"
	}
	return fmt.Sprintf("input %q", c.Path)
}
