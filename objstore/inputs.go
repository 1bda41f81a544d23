package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/splitter"
)

// Inputs lists the objects the URLs name (see [Client.List]) as a job's
// inputs, in the order given, each object once: Path is its URL, Size
// and Fingerprint (size and ETag) what the listing said.
func (c *Client) Inputs(ctx context.Context, urls []string) ([]splitter.Input, error) {
	seen := make(map[string]bool)
	var out []splitter.Input
	for _, u := range urls {
		loc, err := Parse(u)
		if err != nil {
			return nil, err
		}
		objs, err := c.List(ctx, loc)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if seen[o.URL()] {
				continue
			}
			if strings.HasSuffix(o.Key, ".gz") || strings.HasSuffix(o.Key, ".zst") {
				return nil, errs.BadInput("", "object %s is compressed, and workers read objects by byte ranges, which a compressed stream cannot be cut into: store it decompressed, or copy it to a local folder and give that path", o.URL())
			}
			seen[o.URL()] = true
			out = append(out, splitter.Input{Path: o.URL(), Size: o.Size, Fingerprint: splitter.Fingerprint{Size: o.Size, ETag: o.ETag}})
		}
	}
	return out, nil
}

// Source is the job's source of the inputs [Client.Inputs] listed: each
// object cut into ranges by size alone, which workers read with
// [Client.OpenRange]; only headers are read here.
func (c *Client) Source(inputs []splitter.Input, rec splitter.Records) splitter.Remote {
	return splitter.Remote{Inputs: inputs, Records: rec, Open: c.OpenInput}
}

// OpenInput returns a reader of the listed version of an input.
func (c *Client) OpenInput(ctx context.Context, in splitter.Input) io.ReaderAt {
	obj, err := objectOf(in)
	if err != nil {
		return errReader{err}
	}
	return c.ReaderAt(ctx, obj)
}

// OpenRange returns the records of in that begin in the byte range
// [off, off+n), a range [splitter.Remote] cut: it moves both ends to
// record boundaries with [splitter.Boundary] (which reads a little past
// each), then reads the bytes between them with one ranged GET. Every
// request is answered only by the listed version of the object (an error
// wrapping ErrChanged otherwise). It also returns the offset in the
// object of the first byte the reader yields, and the number of bytes it
// yields, 0 for a range inside a record longer than it.
func (c *Client) OpenRange(ctx context.Context, in splitter.Input, rec splitter.Records, off, n int64) (r io.ReadCloser, start, size int64, err error) {
	obj, err := objectOf(in)
	if err != nil {
		return nil, 0, 0, err
	}
	ra := c.ReaderAt(ctx, obj)
	start, err = splitter.Boundary(ctx, ra, in, rec, off)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("finding where the range at %d of %s starts: %w", off, in.Path, err)
	}
	end, err := splitter.Boundary(ctx, ra, in, rec, off+n)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("finding where the range at %d+%d of %s ends: %w", off, n, in.Path, err)
	}
	if end <= start {
		return io.NopCloser(bytes.NewReader(nil)), start, 0, nil
	}
	body, err := c.Range(ctx, obj, start, end-start)
	if err != nil {
		return nil, 0, 0, err
	}
	return body, start, end - start, nil
}

// objectOf is the listed object of an input.
func objectOf(in splitter.Input) (Object, error) {
	loc, err := Parse(in.Path)
	if err != nil {
		return Object{}, err
	}
	return Object{Location: loc, Size: in.Size, ETag: in.Fingerprint.ETag}, nil
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) ReadAt([]byte, int64) (int, error) { return 0, e.err }
