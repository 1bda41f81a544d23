package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/schema"
)

// ErrNotServed means a range request named a file that the job's
// submitter does not serve: not one of the job's inputs.
var ErrNotServed = errors.New("not one of the job's inputs")

// Files opens the files a [Server] serves.
type Files interface {
	// Open returns the file at path for reading, or an error wrapping
	// [ErrNotServed] when the job does not serve it. What it returns is
	// closed, when it is an io.Closer, as the server stops.
	Open(path string) (io.ReaderAt, error)
}

// ServerConfig configures a [Server]. Zero fields take the documented
// defaults.
type ServerConfig struct {
	// NC is the submitter's NATS connection. Required.
	NC *nats.Conn
	// Job is the job whose ranges are served. Required.
	Job string
	// Files opens the files served. Required.
	Files Files
	// Handlers is how many requests are answered at once. Default 2.
	Handlers int
	// Logger receives the server's logs. Zero value: none.
	Logger zerolog.Logger
	// DirectListen is the TCP address of the direct path, on which
	// workers that can reach this process read whole chunks, authenticated
	// by a secret of the server's own, rather than piece by piece over
	// NATS. Empty: a random port, on loopback when the NATS server is on
	// this machine, else on every interface; and no direct path at all
	// when NC uses TLS. [DirectOff]: no direct path.
	DirectListen string
	// DirectAdvertise are the addresses workers are told to dial for the
	// direct path, in the order they try them. Default: the listener's
	// address; for a listener on every interface, the address this
	// process reaches the NATS server from, the machine's other global
	// unicast addresses, then 127.0.0.1.
	DirectAdvertise []string
}

// Server answers a job's range requests. Create it with [NewServer]
// before the job's fetched tasks are published, then [Server.Run] it.
type Server struct {
	cfg  ServerConfig
	sub  *nats.Subscription
	msgs chan *nats.Msg
	bufs sync.Pool

	mu    sync.Mutex
	files map[string]io.ReaderAt

	direct      *direct // nil: ranges are served over NATS only
	directBytes atomic.Int64
	natsBytes   atomic.Int64
}

// requestQueue bounds the requests waiting for a handler; the server
// drops those past it, and their workers ask again.
const requestQueue = 256

// NewServer subscribes to the job's range subject, so that requests made
// from now on are answered once Run runs.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.NC == nil || cfg.Files == nil {
		return nil, errors.New("transfer.NewServer: NC and Files are required")
	}
	if err := schema.ValidateJobID(cfg.Job); err != nil {
		return nil, fmt.Errorf("transfer.NewServer: %w", err)
	}
	if cfg.Handlers <= 0 {
		cfg.Handlers = 2
	}
	s := &Server{cfg: cfg, msgs: make(chan *nats.Msg, requestQueue), files: map[string]io.ReaderAt{}}
	d, err := listenDirect(&s.cfg)
	if err != nil {
		return nil, fmt.Errorf("serving the chunks of job %s: %w", cfg.Job, err)
	}
	s.direct = d
	// A queue group: a second submitter of the same job (one being
	// replaced) never answers the same request twice.
	sub, err := cfg.NC.ChanQueueSubscribe(schema.RangeSubject(cfg.Job), "submitter", s.msgs)
	if err == nil {
		if err = cfg.NC.Flush(); err != nil {
			sub.Unsubscribe()
		}
	}
	if err != nil {
		if d != nil {
			d.close()
		}
		return nil, fmt.Errorf("serving the chunks of job %s: %w", cfg.Job, err)
	}
	s.sub = sub
	return s, nil
}

// Served returns how many bytes of chunks the server sent, on the direct
// path and over NATS.
func (s *Server) Served() (direct, overNATS int64) {
	return s.directBytes.Load(), s.natsBytes.Load()
}

// DirectAddr is the address the direct path listens on, or "" when there
// is none.
func (s *Server) DirectAddr() string {
	if s.direct == nil {
		return ""
	}
	return s.direct.ln.Addr().String()
}

// Run answers requests until ctx is done, then unsubscribes, stops the
// direct path, cutting the connections it serves, closes the files it
// opened and returns nil.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	g, ctx := errgroup.WithContext(ctx)
	if s.direct != nil {
		g.Go(func() error {
			<-ctx.Done()
			s.direct.close()
			return nil
		})
		g.Go(func() error { s.acceptDirect(ctx); return nil })
	}
	for range s.cfg.Handlers {
		g.Go(func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case m := <-s.msgs:
					s.answer(m)
				}
			}
		})
	}
	return g.Wait()
}

// acceptDirect serves the direct path's connections until ctx is done,
// then waits for those being served.
func (s *Server) acceptDirect(ctx context.Context) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.direct.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.cfg.Logger.Warn().Err(err).Msg("accepting a direct range request")
			select { // out of descriptors, say: a moment for some to close
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			continue
		}
		if !s.direct.track(c, true) {
			c.Close()
			continue
		}
		conns.Go(func() {
			defer s.direct.track(c, false)
			s.serveDirect(c)
		})
	}
}

func (s *Server) close() {
	if s.direct != nil {
		s.direct.close()
	}
	direct, overNATS := s.Served()
	if direct+overNATS > 0 {
		s.cfg.Logger.Info().Str("job", s.cfg.Job).Int64("direct_bytes", direct).Int64("nats_bytes", overNATS).Msg("served the chunks workers fetched")
	}
	if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.cfg.Logger.Debug().Err(err).Msg("unsubscribing from range requests")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if c, ok := f.(io.Closer); ok {
			c.Close()
		}
	}
	s.files = nil
}

// answer replies to one request with the bytes asked for, or with the
// reason it cannot.
func (s *Server) answer(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if m.Header.Get(directHeader) != "" {
		if err := s.answerDirect(m); err != nil {
			s.cfg.Logger.Debug().Err(err).Msg("answering a request for the direct path")
		}
		return
	}
	err := s.serve(m)
	if err == nil {
		return
	}
	s.cfg.Logger.Warn().Err(err).Str("job", s.cfg.Job).Msg("refusing a range request")
	reply := &nats.Msg{Header: nats.Header{}}
	reply.Header.Set(schema.RangeErrorHeader, err.Error())
	if rerr := m.RespondMsg(reply); rerr != nil {
		s.cfg.Logger.Debug().Err(rerr).Msg("answering a range request")
	}
}

func (s *Server) serve(m *nats.Msg) error {
	req, err := schema.DecodeRangeRequest(m.Data)
	if err != nil {
		return err
	}
	if max := s.cfg.NC.MaxPayload() - replyHeadroom; req.Length > max {
		return fmt.Errorf("task %d asks for %d bytes at once; at most %d fit in a message", req.Index, req.Length, max)
	}
	f, err := s.open(req.Path)
	if err != nil {
		return fmt.Errorf("task %d: %w", req.Index, err)
	}
	bp := s.buffer(int(req.Length))
	defer s.bufs.Put(bp)
	buf := (*bp)[:req.Length]
	if _, err := f.ReadAt(buf, req.Offset); err != nil {
		return fmt.Errorf("reading %s at %d+%d for task %d: %w", req.Path, req.Offset, req.Length, req.Index, err)
	}
	// Respond copies the bytes into the connection's buffer: buf may go
	// back to the pool.
	if err := m.Respond(buf); err != nil {
		return err
	}
	s.natsBytes.Add(req.Length)
	return nil
}

func (s *Server) buffer(n int) *[]byte {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	return bp
}

// open returns the file at path, opened once for the job.
func (s *Server) open(path string) (io.ReaderAt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		return nil, errors.New("the range server is stopping")
	}
	if f, ok := s.files[path]; ok {
		return f, nil
	}
	f, err := s.cfg.Files.Open(path)
	if err != nil {
		return nil, err
	}
	s.files[path] = f
	return f, nil
}
