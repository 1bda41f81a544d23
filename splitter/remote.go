package splitter

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// Remote is the source of inputs that this process does not read whole:
// objects in an object store, which each worker reads by byte ranges
// itself. Split cuts each input into ranges of exactly the chunk size by
// arithmetic alone (the last of an input is shorter); a worker moves both
// ends of its range to record boundaries with [Boundary] before it reads
// it, so that the ranges of an input, so moved, hold every record once.
// Only an input's header (see [Records.Header]) is read here, through
// Open, so that every chunk carries it; the first range of an input
// starts where its header ends.
//
// CSV inputs cannot be cut this way (a quote opened before a range's
// start is not known without reading everything before it): Split
// refuses them with an error wrapping ErrBadInput.
type Remote struct {
	// Inputs are the objects, in order: Path names one (a URL), Size and
	// Fingerprint are what a listing said of it.
	Inputs  []Input
	Records Records
	// Open returns a reader of the input's bytes; needed only when
	// Records.Header is set.
	Open func(ctx context.Context, in Input) io.ReaderAt
}

// Split implements [Source].
func (r Remote) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	if chunkSize < 1 {
		panic(fmt.Sprintf("splitter: chunk size %d is below 1", chunkSize))
	}
	return r.SplitSized(ctx, nil, func() int64 { return chunkSize }, yield)
}

// SplitSized implements [AdaptiveSource]. A last chunk that none of the
// inputs contains is an error wrapping [ErrBadInput].
func (r Remote) SplitSized(ctx context.Context, last *Chunk, size func() int64, yield func(Chunk) error) error {
	if r.Records.csv() {
		return badInput(nil, "--format csv follows quotes from the start of each input, which needs every byte before a chunk: it cannot cut inputs that workers read by byte ranges (%s): copy them to a local or shared folder first", r.Inputs[0].Path)
	}
	first, start := 0, int64(-1)
	if last != nil {
		first = slices.IndexFunc(r.Inputs, func(in Input) bool { return in.Path == last.Path })
		if first < 0 || last.Offset < 0 || last.Length < 1 || last.Offset+last.Length > r.Inputs[first].Size {
			return badInput(nil, "the split checkpoint names %q at %d+%d, which is not part of the inputs: start the job again without --resume",
				last.Path, last.Offset, last.Length)
		}
		start = last.Offset + last.Length
	}
	yield = r.Records.sameHeader(yield, chunkInput)
	for i, in := range r.Inputs[first:] {
		var header []byte
		from := int64(0)
		if r.Records.Header > 0 && in.Size > 0 {
			var err error
			if header, from, err = ReadHeader(ctx, r.Open(ctx, in), in, r.Records); err != nil {
				return err
			}
		}
		if i == 0 && start >= 0 {
			from = start
		}
		for from < in.Size {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(max(size(), 1), in.Size-from)
			if err := yield(Chunk{Path: in.Path, Offset: from, Length: n, Header: header}); err != nil {
				return err
			}
			from += n
		}
	}
	return nil
}

// Describe implements [Describer].
func (r Remote) Describe() ([]string, []int64) { return describe(r.Inputs) }

// Fingerprints implements [Fingerprinter].
func (r Remote) Fingerprints() []Fingerprint { return fingerprints(r.Inputs) }

// ReadHeader returns the header of in (its first rec.Header records, see
// [Records.Header]) read through f, and where it ends: the offset of the
// input's first range. A header longer than [MaxHeader] is an error
// wrapping ErrBadInput and ErrMalformed.
func ReadHeader(ctx context.Context, f io.ReaderAt, in Input, rec Records) ([]byte, int64, error) {
	if rec.Header == 0 || in.Size == 0 {
		return nil, 0, nil
	}
	s := &fileSplitter{ctx: ctx, rec: rec, buf: make([]byte, readBufferSize)}
	return s.header(f, in)
}

// Boundary returns the first record boundary of in at or after offset
// at, read through f: 0 for at 0, the end of the record that ends at or
// after at-1 otherwise (in.Size when none does). It is where a range
// that [Remote] cut at at really starts, and where the range before it
// really ends, so that a record belongs to the range its first byte
// falls in and a record longer than a range leaves the ranges it covers
// empty. It reads from at-1 in windows of 64 KiB until it finds the
// record's end. CSV records are not supported.
func Boundary(ctx context.Context, f io.ReaderAt, in Input, rec Records, at int64) (int64, error) {
	if at <= 0 {
		return 0, nil
	}
	if at >= in.Size {
		return in.Size, nil
	}
	if rec.csv() {
		return 0, fmt.Errorf("splitter: finding a CSV record boundary in %q needs the input from its start", in.Path)
	}
	s := &fileSplitter{ctx: ctx, rec: rec, buf: make([]byte, readBufferSize)}
	if rec.simple() {
		end, _, err := s.simpleEnd(f, in, at-1, 0)
		return end, err
	}
	return s.markedEnd(f, in, at-1)
}
