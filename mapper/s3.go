package mapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// objectInputs reads the byte ranges of a job's s3:// inputs, which each
// worker reads itself from the object store the job record names, with
// the credentials of its own environment. It is safe for concurrent use.
type objectInputs struct {
	once   sync.Once
	client *objstore.Client
	err    error
}

// openObjectRange returns a reader of the records of task t, a range of
// an object (see [objstore.Client.OpenRange]), the offset in the object
// of its first byte, and how many bytes it yields. A read of an object written again since the job listed it is a
// permanent failure: no retry reads the listed version again.
func (p *processor) openObjectRange(ctx context.Context, t schema.Task) (io.ReadCloser, int64, int64, error) {
	rec := p.job.Record
	o := &p.objects
	o.once.Do(func() {
		if rec.S3 == nil {
			o.err = fmt.Errorf("job %s reads %s, but its record names no object store", rec.ID, t.Path)
			return
		}
		o.client, o.err = objstore.Open(*rec.S3)
	})
	if o.err != nil {
		return nil, 0, 0, o.err
	}
	i := slices.Index(rec.Inputs, t.Path)
	if i < 0 || i >= len(rec.InputFingerprints) {
		return nil, 0, 0, &schema.TaskError{Permanent: true, Message: fmt.Sprintf("task %d reads %s, which is not one of the inputs of job %s", t.Index, t.Path, rec.ID)}
	}
	fp := rec.InputFingerprints[i]
	in := splitter.Input{Path: t.Path, Size: fp.Size, Fingerprint: splitter.Fingerprint{Size: fp.Size, ETag: fp.ETag}}
	records := splitter.Records{Header: rec.Header, End: rec.RecEnd, Start: rec.RecStart, Format: rec.Format}
	r, start, n, err := o.client.OpenRange(ctx, in, records, t.Offset, t.Length)
	if err != nil {
		if errors.Is(err, objstore.ErrChanged) {
			return nil, 0, 0, schema.Permanent(err)
		}
		return nil, 0, 0, fmt.Errorf("reading task %d's range of %s: %w", t.Index, t.Path, err)
	}
	return &exactReader{ReadCloser: r, left: n}, start, n, nil
}

// exactReader fails a read that ends before the n bytes it was promised,
// so that a body cut short is a failed attempt, never a short chunk.
type exactReader struct {
	io.ReadCloser
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left != 0 {
		err = fmt.Errorf("the object store's answer ended %d bytes early: %w", e.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

// readObjectRange reads the records of task t whole, in a buffer from
// the pool that the caller gives back with release, and returns the
// offset in the object of its first byte.
func (p *processor) readObjectRange(ctx context.Context, t schema.Task) ([]byte, int64, func(), error) {
	r, start, n, err := p.openObjectRange(ctx, t)
	if err != nil {
		return nil, 0, nil, err
	}
	defer r.Close()
	buf, release := p.buffer(n)
	if _, err := io.ReadFull(r, buf); err != nil {
		release()
		if errors.Is(err, objstore.ErrChanged) {
			return nil, 0, nil, schema.Permanent(err)
		}
		return nil, 0, nil, fmt.Errorf("reading task %d's range of %s: %w", t.Index, t.Path, err)
	}
	return buf, start, release, nil
}
