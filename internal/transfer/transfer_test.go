package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/schema"
)

// natsServer starts a NATS server on a random loopback port with the
// given maximum payload (0: the default) and returns a connection to it.
func natsServer(t testing.TB, maxPayload int32) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	return connect(t, s.ClientURL())
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// memFiles serves in-memory files by name; read, when set, is called
// before each read with its offset, and fails the read when it fails.
type memFiles struct {
	files map[string][]byte
	read  func(off int64) error
}

func (m memFiles) Open(path string) (io.ReaderAt, error) {
	data, ok := m.files[path]
	if !ok {
		return nil, fmt.Errorf("serving %s: %w", path, transfer.ErrNotServed)
	}
	return readerAt{bytes.NewReader(data), m.read}, nil
}

type readerAt struct {
	r    *bytes.Reader
	read func(off int64) error
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if r.read != nil {
		if err := r.read(off); err != nil {
			return 0, err
		}
	}
	return r.r.ReadAt(p, off)
}

// serve runs a range server of job j on nc for the test's lifetime.
func serve(t testing.TB, nc *nats.Conn, files transfer.Files) *transfer.Server {
	t.Helper()
	return serveWith(t, transfer.ServerConfig{NC: nc, Job: "j", Files: files})
}

// serveWith runs a range server configured by cfg for the test's lifetime.
func serveWith(t testing.TB, cfg transfer.ServerConfig) *transfer.Server {
	t.Helper()
	srv, err := transfer.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return srv.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestFetchPieces fetches chunks of several sizes and offsets through a
// server whose maximum payload makes them several pieces: each arrives
// whole and in order.
func TestFetchPieces(t *testing.T) {
	t.Parallel()
	nc := natsServer(t, 128<<10)
	file := randomBytes(1<<20+12345, 1)
	serve(t, connect(t, nc.ConnectedUrl()), memFiles{files: map[string][]byte{"/in": file}})
	if p := transfer.PieceSize(nc); p >= 128<<10 || p < 64<<10 {
		t.Fatalf("piece size %d for a maximum payload of 128 KiB", p)
	}
	cases := []struct{ off, n int64 }{
		{0, 1}, {0, int64(len(file))}, {77, 64 << 10}, {1000, transfer.PieceSize(nc)*3 + 1}, {int64(len(file)) - 5, 5},
	}
	for _, c := range cases {
		task := schema.Task{Job: "j", Index: 7, Path: "/in", Offset: c.off, Length: c.n, Fetch: true}
		buf := make([]byte, c.n)
		if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
			t.Fatalf("%d+%d: %v", c.off, c.n, err)
		}
		if !bytes.Equal(buf, file[c.off:c.off+c.n]) {
			t.Fatalf("%d+%d: the fetched bytes differ from the file's", c.off, c.n)
		}
	}
}

// TestFetchRefused: a file that is not served, a range past the end of
// the file and a malformed request are answered with the reason, which the
// fetch returns as ErrRefused.
func TestFetchRefused(t *testing.T) {
	t.Parallel()
	nc := natsServer(t, 0)
	serve(t, connect(t, nc.ConnectedUrl()), memFiles{files: map[string][]byte{"/in": []byte("abc\n")}})
	cases := []struct {
		name string
		task schema.Task
		want string
	}{
		{"not served", schema.Task{Job: "j", Path: "/etc/passwd", Length: 4, Fetch: true}, "not one of the job's inputs"},
		{"past the end", schema.Task{Job: "j", Path: "/in", Offset: 2, Length: 4, Fetch: true}, "EOF"},
	}
	for _, c := range cases {
		err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &c.task, make([]byte, c.task.Length))
		if !errors.Is(err, transfer.ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrRefused saying %q", c.name, err, c.want)
		}
	}
	m, err := nc.Request(schema.RangeSubject("j"), []byte{0xc1}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if why := m.Header.Get(schema.RangeErrorHeader); !strings.Contains(why, "malformed") || len(m.Data) != 0 {
		t.Errorf("a malformed request: reply %q with %q, want an error header saying it is malformed", m.Data, why)
	}
}

// TestFetchUnavailable: with no submitter serving the job, the fetch gives
// up with ErrUnavailable after its tries.
func TestFetchUnavailable(t *testing.T) {
	t.Parallel()
	nc := natsServer(t, 0)
	task := schema.Task{Job: "j", Path: "/in", Length: 4, Fetch: true}
	f := transfer.Fetcher{Tries: 3, Backoff: 10 * time.Millisecond, Timeout: time.Second}
	err := f.Fetch(context.Background(), nc, &task, make([]byte, 4))
	if !errors.Is(err, transfer.ErrUnavailable) || !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("got %v, want ErrUnavailable after no responders", err)
	}
}

// TestFetchAsksAgain: over NATS, a piece whose reply does not come within the
// timeout (lost, or late) is asked for again, and the chunk arrives whole.
func TestFetchAsksAgain(t *testing.T) {
	t.Parallel()
	nc := natsServer(t, 128<<10)
	file := randomBytes(400<<10, 2)
	piece := transfer.PieceSize(nc)
	var asked atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	files := memFiles{files: map[string][]byte{"/in": file}, read: func(off int64) error {
		if off == piece && asked.Add(1) == 1 {
			<-release // the first reply of the second piece comes too late
		}
		return nil
	}}
	serve(t, connect(t, nc.ConnectedUrl()), files)
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	task := schema.Task{Job: "j", Path: "/in", Length: int64(len(file)), Fetch: true}
	buf := make([]byte, len(file))
	f := transfer.Fetcher{Timeout: 300 * time.Millisecond, NATSOnly: true}
	done := make(chan error, 1)
	go func() { done <- f.Fetch(context.Background(), nc, &task, buf) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the fetch did not end within 20s")
	}
	once.Do(func() { close(release) })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, file) {
		t.Fatal("the fetched bytes differ from the file's")
	}
	if n := asked.Load(); n < 2 {
		t.Fatalf("the late piece was read %d time(s), want it asked for again", n)
	}
}

// BenchmarkFetch measures fetching 64 MiB chunks of a file through a NATS
// server on loopback, over NATS (with the default maximum payload of
// 1 MiB, and with 8 MiB) and on the direct path; the CPU time of the
// whole process (NATS server, submitter and worker) is reported per GiB.
func BenchmarkFetch(b *testing.B) {
	file := randomBytes(64<<20, 3)
	path, disk := diskFile(b, file)
	for _, c := range []struct {
		name       string
		maxPayload int32
		fetcher    transfer.Fetcher
	}{
		{"nats-1MiB", 0, transfer.Fetcher{NATSOnly: true}},
		{"nats-8MiB", 8 << 20, transfer.Fetcher{NATSOnly: true}},
		{"direct", 0, transfer.Fetcher{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			nc := natsServer(b, c.maxPayload)
			serve(b, connect(b, nc.ConnectedUrl()), disk)
			task := schema.Task{Job: "j", Path: path, Length: int64(len(file)), Fetch: true}
			buf := make([]byte, len(file))
			b.SetBytes(int64(len(file)))
			start := cpuTime()
			for b.Loop() {
				if err := c.fetcher.Fetch(context.Background(), nc, &task, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-start).Seconds()/(float64(b.N)*float64(len(file))/(1<<30)), "CPU-s/GiB")
		})
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
