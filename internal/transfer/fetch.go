package transfer

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/schema"
)

// ErrUnavailable means the job's submitter did not answer a range
// request, again and again: it is not running (it crashed, or stopped) or
// not reachable. The task is not at fault; it runs once the submitter
// serves its job again (--resume).
var ErrUnavailable = errors.New("the job's submitter does not answer range requests")

// ErrRefused means the submitter answered a range request with an error:
// the message says why (an input that is gone or shorter than it was, a
// file that is not the job's).
var ErrRefused = errors.New("the job's submitter could not serve the range")

// replyHeadroom is what a reply's piece leaves of the maximum payload for
// its protocol line and headers.
const replyHeadroom = 16 << 10

// maxPiece bounds a piece even when the server allows larger messages, so
// that a lost piece costs little to ask for again.
const maxPiece = 8 << 20

// Fetcher fetches chunks. The zero value uses the documented defaults.
type Fetcher struct {
	// Parallel is how many pieces of a chunk are asked for at once.
	// Default 4.
	Parallel int
	// Timeout bounds one request of a piece; a piece not received by
	// then is asked for again. Default 15s.
	Timeout time.Duration
	// Tries is how many times a piece is asked for before the fetch
	// gives up with [ErrUnavailable]. Default 4.
	Tries int
	// Backoff is the wait before asking again a submitter that had no
	// responder. Default 500ms.
	Backoff time.Duration
	// NATSOnly fetches over NATS even when the submitter offers the
	// direct path.
	NATSOnly bool
	// DialTimeout bounds connecting to the submitter's direct path;
	// past it the chunk comes over NATS. Default 3s.
	DialTimeout time.Duration
}

// PieceSize is the size of the pieces a chunk is fetched in over nc: the
// largest that fits the server's maximum payload with room to spare.
func PieceSize(nc *nats.Conn) int64 {
	return min(max(nc.MaxPayload()-replyHeadroom, 64<<10), maxPiece)
}

// Fetch reads the chunk of the fetched task t, Length bytes of Path from
// Offset, from the job's submitter into buf, whose length must be
// t.Length: on the submitter's direct path when it offers one and this
// process can reach it, else over NATS. When t carries a checksum, Fetch
// checks the chunk against it (on the direct path as the bytes arrive,
// while they are in the cache) and returns an error wrapping
// [schema.ErrChecksum] when they differ.
func (f Fetcher) Fetch(ctx context.Context, nc *nats.Conn, t *schema.Task, buf []byte) error {
	if int64(len(buf)) != t.Length {
		panic(fmt.Sprintf("transfer.Fetch: a buffer of %d bytes for a chunk of %d", len(buf), t.Length))
	}
	if !f.NATSOnly {
		done, crc, err := f.fetchDirect(ctx, nc, t, buf)
		if done {
			if t.Sum == nil {
				return nil
			}
			return schema.VerifySum(t, binary.BigEndian.AppendUint32(nil, crc), t.Length)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrRefused) {
			return fmt.Errorf("fetching the chunk of task %d (%s at %d+%d): %w", t.Index, t.Path, t.Offset, t.Length, err)
		}
		// Not offered, not reachable, or cut: over NATS then.
	}
	if err := f.fetchNATS(ctx, nc, t, buf); err != nil {
		return err
	}
	if t.Sum == nil {
		return nil
	}
	return schema.VerifyChecksum(t, buf)
}

// fetchNATS fetches the chunk over NATS, in pieces.
func (f Fetcher) fetchNATS(ctx context.Context, nc *nats.Conn, t *schema.Task, buf []byte) error {
	piece := PieceSize(nc)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(cmp.Or(f.Parallel, 4), 1))
	for off := int64(0); off < t.Length; off += piece {
		n := min(piece, t.Length-off)
		req := schema.RangeRequest{Index: t.Index, Path: t.Path, Offset: t.Offset + off, Length: n}
		dst := buf[off : off+n]
		g.Go(func() error { return f.piece(gctx, nc, t.Job, req, dst) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("fetching the chunk of task %d (%s at %d+%d): %w", t.Index, t.Path, t.Offset, t.Length, err)
	}
	return nil
}

// piece fetches one piece into dst, asking again when it is lost or late.
func (f Fetcher) piece(ctx context.Context, nc *nats.Conn, job string, req schema.RangeRequest, dst []byte) error {
	data, err := schema.EncodeRangeRequest(req)
	if err != nil {
		return err
	}
	timeout := cmp.Or(f.Timeout, 15*time.Second)
	backoff := cmp.Or(f.Backoff, 500*time.Millisecond)
	tries := max(cmp.Or(f.Tries, 4), 1)
	var last error
	for try := range tries {
		if try > 0 && errors.Is(last, nats.ErrNoResponders) {
			select {
			case <-time.After(backoff << (try - 1)):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		m, err := nc.RequestWithContext(rctx, schema.RangeSubject(job), data)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			last = err // lost, late or no submitter: ask again
			continue
		}
		if why := m.Header.Get(schema.RangeErrorHeader); why != "" {
			return fmt.Errorf("%w: %s", ErrRefused, why)
		}
		if len(m.Data) != len(dst) {
			return fmt.Errorf("%w: %d bytes at %d came as %d", ErrRefused, len(dst), req.Offset, len(m.Data))
		}
		copy(dst, m.Data)
		return nil
	}
	return fmt.Errorf("%w: bytes %d-%d asked for %d times: %w", ErrUnavailable, req.Offset, req.Offset+req.Length, tries, last)
}
