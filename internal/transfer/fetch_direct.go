package transfer

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetmr/jetmr/schema"
)

// endpoint is what a worker knows of a job's direct path.
type endpoint struct {
	addrs []string // empty: none known, until retry
	token [tokenSize]byte
	retry time.Time
}

type endpointKey struct {
	nc  *nats.Conn
	job string
}

// endpoints caches the direct paths of the jobs this process fetched
// chunks of; an entry is dropped when its path fails, so that a submitter
// that was replaced (a resumed job) is asked again.
var endpoints = struct {
	sync.Mutex
	m map[endpointKey]*endpoint
}{m: map[endpointKey]*endpoint{}}

// maxEndpoints bounds the cache; past it, it starts over.
const maxEndpoints = 256

// noDirectFor is how long a worker fetches a job's chunks over NATS
// before it asks again for a direct path that was not offered or failed.
const noDirectFor = 30 * time.Second

// forget drops what is known of job's direct path, and fetches over NATS
// for a while.
func forget(nc *nats.Conn, job string) {
	endpoints.Lock()
	defer endpoints.Unlock()
	endpoints.m[endpointKey{nc, job}] = &endpoint{retry: time.Now().Add(noDirectFor)}
}

// prefer puts addr first among the known addresses of job's direct path.
func prefer(nc *nats.Conn, job, addr string) {
	endpoints.Lock()
	defer endpoints.Unlock()
	e := endpoints.m[endpointKey{nc, job}]
	if e == nil || len(e.addrs) == 0 {
		return
	}
	addrs := []string{addr}
	for _, a := range e.addrs {
		if a != addr {
			addrs = append(addrs, a)
		}
	}
	// A new entry: fetches running now keep the slice they were given.
	endpoints.m[endpointKey{nc, job}] = &endpoint{addrs: addrs, token: e.token}
}

// endpoint returns the direct path of job, asking the submitter when it is
// not known; nil when there is none to use.
func (f Fetcher) endpoint(ctx context.Context, nc *nats.Conn, job string) *endpoint {
	key := endpointKey{nc, job}
	endpoints.Lock()
	e := endpoints.m[key]
	endpoints.Unlock()
	if e != nil && (len(e.addrs) > 0 || time.Now().Before(e.retry)) {
		if len(e.addrs) == 0 {
			return nil
		}
		return e
	}
	e = f.askDirect(ctx, nc, job)
	if e == nil {
		return nil // no answer: the NATS path finds out why
	}
	endpoints.Lock()
	defer endpoints.Unlock()
	if len(endpoints.m) >= maxEndpoints {
		clear(endpoints.m)
	}
	endpoints.m[key] = e
	if len(e.addrs) == 0 {
		return nil
	}
	return e
}

// askDirect asks the job's submitter for its direct path: nil when it
// does not answer, an endpoint without addresses when it has none.
func (f Fetcher) askDirect(ctx context.Context, nc *nats.Conn, job string) *endpoint {
	ctx, cancel := context.WithTimeout(ctx, min(cmp.Or(f.Timeout, 15*time.Second), 5*time.Second))
	defer cancel()
	req := &nats.Msg{Subject: schema.RangeSubject(job), Header: nats.Header{}}
	req.Header.Set(directHeader, "1")
	m, err := nc.RequestMsgWithContext(ctx, req)
	if err != nil {
		return nil
	}
	none := &endpoint{retry: time.Now().Add(noDirectFor)}
	addrs, token := m.Header.Get(directAddrsHeader), m.Header.Get(directTokenHeader)
	raw, err := hex.DecodeString(token)
	if addrs == "" || err != nil || len(raw) != tokenSize {
		return none // none offered, or a submitter that does not know it
	}
	e := &endpoint{addrs: strings.Split(addrs, ",")}
	copy(e.token[:], raw)
	return e
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// directPiece bounds one read of the direct path, so that a stall is
// noticed within Timeout.
const directPiece = 4 << 20

// directReadBuffer bounds the receive buffer of a direct connection.
const directReadBuffer = 8 << 20

// fetchDirect reads the chunk on the job's direct path, and returns the
// CRC-32C of its bytes. done is false when it did not: with no error when
// none is offered, with an error wrapping [ErrRefused] when the submitter
// refused the range, or with the error of the path, which is then
// forgotten for a while.
func (f Fetcher) fetchDirect(ctx context.Context, nc *nats.Conn, t *schema.Task, buf []byte) (done bool, crc uint32, err error) {
	e := f.endpoint(ctx, nc, t.Job)
	if e == nil {
		return false, 0, nil
	}
	c, err := f.dial(ctx, nc, t.Job, e.addrs)
	if err != nil {
		if ctx.Err() == nil {
			forget(nc, t.Job)
		}
		return false, 0, err
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		// A buffer the size of the chunk from the start, rather than one
		// the kernel grows as the bytes come: far fewer wakeups and
		// acknowledgements, a third less CPU on loopback. The kernel caps
		// it at net.core.rmem_max.
		tc.SetReadBuffer(int(min(t.Length, directReadBuffer)))
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	crc, err = readRange(c, e.token, t, buf, cmp.Or(f.Timeout, 15*time.Second))
	if err != nil {
		if ctx.Err() == nil && (!errors.Is(err, ErrRefused) || errors.Is(err, errWrongSecret)) {
			forget(nc, t.Job) // not a task being stopped: the path failed
		}
		return false, 0, err
	}
	return true, crc, nil
}

// errNotDirect means what answered on the direct path's address is not a
// submitter's direct path.
var errNotDirect = errors.New("not a jetmr submitter's direct path")

// errWrongSecret is the refusal of a submitter that does not serve the
// job with the secret asked with: another one, on the same address.
var errWrongSecret = errors.New("wrong secret")

// readRange asks c for the task's range and reads it into buf, and
// returns the CRC-32C of the bytes, updated after each read while they
// are in the cache.
func readRange(c net.Conn, token [tokenSize]byte, t *schema.Task, buf []byte, timeout time.Duration) (crc uint32, err error) {
	req := directRequest{token: token, index: t.Index, offset: t.Offset, length: t.Length, path: t.Path}
	if len(req.path) > maxDirectPath {
		return 0, fmt.Errorf("%w: a path of %d bytes", errBadDirectRequest, len(req.path))
	}
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(req.append(make([]byte, 0, directFixed+len(req.path)))); err != nil {
		return 0, fmt.Errorf("asking for the chunk of task %d on the direct path: %w", t.Index, err)
	}
	var status [1]byte
	if _, err := io.ReadFull(c, status[:]); err != nil {
		return 0, fmt.Errorf("reading the chunk of task %d on the direct path: %w", t.Index, err)
	}
	switch status[0] {
	case statusOK:
	case statusRefused:
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return 0, fmt.Errorf("reading why the submitter refused the chunk of task %d: %w", t.Index, err)
		}
		msg := make([]byte, int(n[0])<<8|int(n[1]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return 0, fmt.Errorf("reading why the submitter refused the chunk of task %d: %w", t.Index, err)
		}
		why := string(msg)
		if why == errWrongSecret.Error() {
			return 0, fmt.Errorf("%w: %w", ErrRefused, errWrongSecret)
		}
		return 0, fmt.Errorf("%w: %s", ErrRefused, why)
	default: // not a submitter's direct path: another service took its port
		return 0, fmt.Errorf("reading the chunk of task %d on the direct path: %w: it answered %q", t.Index, errNotDirect, status[0])
	}
	for off := 0; off < len(buf); {
		c.SetReadDeadline(time.Now().Add(timeout))
		n, err := c.Read(buf[off:min(off+directPiece, len(buf))])
		crc = crc32.Update(crc, castagnoli, buf[off:off+n])
		off += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("reading the chunk of task %d on the direct path: %d of %d bytes: %w", t.Index, off, len(buf), err)
		}
	}
	return crc, nil
}

// dial connects to the first of addrs that answers, and puts it first
// among job's addresses for the fetches that follow.
func (f Fetcher) dial(ctx context.Context, nc *nats.Conn, job string, addrs []string) (net.Conn, error) {
	d := net.Dialer{Timeout: cmp.Or(f.DialTimeout, 3*time.Second)}
	var errs []error
	for i, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			if i > 0 {
				prefer(nc, job, a)
			}
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("connecting to the submitter's direct path: %w", errors.Join(errs...))
}
