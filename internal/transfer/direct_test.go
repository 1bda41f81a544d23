package transfer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/schema"
)

// diskFiles serves the files of a folder, each request its own open file
// (as the job's served files do), so that the direct path sends them with
// sendfile.
type diskFiles struct{ dir string }

func (d diskFiles) Open(path string) (io.ReaderAt, error) {
	if filepath.Dir(path) != d.dir {
		return nil, fmt.Errorf("serving %s: %w", path, transfer.ErrNotServed)
	}
	return os.Open(path)
}

// diskFile writes data to a file of a fresh folder and returns its path.
func diskFile(t testing.TB, data []byte) (path string, files diskFiles) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "in")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, diskFiles{dir}
}

// TestFetchDirect fetches chunks of a file and of memory on the direct
// path: each arrives whole, and no byte crosses NATS.
func TestFetchDirect(t *testing.T) {
	t.Parallel()
	file := randomBytes(3<<20+777, 4)
	path, disk := diskFile(t, file)
	for _, c := range []struct {
		name  string
		files transfer.Files
	}{
		{"file", disk},
		{"memory", memFiles{files: map[string][]byte{path: file}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nc := natsServer(t, 128<<10)
			srv := serve(t, connect(t, nc.ConnectedUrl()), c.files)
			if srv.DirectAddr() == "" {
				t.Fatal("no direct path with a NATS server on loopback")
			}
			var want int64
			for _, r := range []struct{ off, n int64 }{{0, 1}, {0, int64(len(file))}, {12345, 1 << 20}, {int64(len(file)) - 9, 9}} {
				task := schema.Task{Job: "j", Index: 3, Path: path, Offset: r.off, Length: r.n, Fetch: true}
				buf := make([]byte, r.n)
				if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
					t.Fatalf("%d+%d: %v", r.off, r.n, err)
				}
				if !bytes.Equal(buf, file[r.off:r.off+r.n]) {
					t.Fatalf("%d+%d: the fetched bytes differ from the file's", r.off, r.n)
				}
				want += r.n
			}
			if direct, overNATS := waitServed(srv, func(d, n int64) bool { return d == want && n == 0 }); direct != want || overNATS != 0 {
				t.Fatalf("served %d bytes directly and %d over NATS, want %d and 0", direct, overNATS, want)
			}
		})
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFetchDirectFallback: with the direct path off, unreachable, another
// service on its address, or cut in the middle of a chunk, the chunk comes
// whole over NATS.
func TestFetchDirectFallback(t *testing.T) {
	t.Parallel()
	file := randomBytes(2<<20+5, 5)
	cases := []struct {
		name      string
		cfg       transfer.ServerConfig
		fetcher   transfer.Fetcher
		failFirst bool // the first read past the chunk's start fails
		toNATS    bool // the address advertised is the NATS server's
	}{
		{name: "off", cfg: transfer.ServerConfig{DirectListen: transfer.DirectOff}},
		{name: "unreachable", cfg: transfer.ServerConfig{DirectAdvertise: []string{closedAddr(t)}}},
		{name: "not answering", cfg: transfer.ServerConfig{DirectAdvertise: []string{"192.0.2.1:9"}}, fetcher: transfer.Fetcher{DialTimeout: 200 * time.Millisecond}},
		{name: "NATS only", fetcher: transfer.Fetcher{NATSOnly: true}},
		{name: "another service", toNATS: true},
		{name: "cut", failFirst: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nc := natsServer(t, 128<<10)
			var failed atomic.Bool
			files := memFiles{files: map[string][]byte{"/in": file}, read: func(off int64) error {
				if c.failFirst && off > 1<<20 && failed.CompareAndSwap(false, true) {
					return errors.New("a read that fails")
				}
				return nil
			}}
			cfg := c.cfg
			cfg.NC, cfg.Job, cfg.Files = connect(t, nc.ConnectedUrl()), "j", files
			if c.toNATS { // a service that speaks first, on the port
				cfg.DirectAdvertise = []string{nc.ConnectedAddr()}
			}
			srv := serveWith(t, cfg)
			task := schema.Task{Job: "j", Path: "/in", Length: int64(len(file)), Fetch: true}
			buf := make([]byte, len(file))
			if err := c.fetcher.Fetch(context.Background(), nc, &task, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, file) {
				t.Fatal("the fetched bytes differ from the file's")
			}
			direct, overNATS := waitServed(srv, func(d, n int64) bool { return n == int64(len(file)) && c.failFirst == (d > 0) })
			if overNATS != int64(len(file)) {
				t.Fatalf("served %d bytes over NATS, want the chunk's %d", overNATS, len(file))
			}
			if c.failFirst != (direct > 0) {
				t.Fatalf("served %d bytes directly", direct)
			}
			if c.failFirst && !failed.Load() {
				t.Fatal("the read meant to fail did not happen")
			}
		})
	}
}

// request encodes a direct request, as the worker does.
func request(token []byte, off, n int64, path string) []byte {
	b := append([]byte("JMRD"), 1)
	b = append(b, token...)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	b = binary.BigEndian.AppendUint16(b, uint16(len(path)))
	return append(b, path...)
}

// TestFetchDirectRefusals: a connection with a wrong secret, or with
// bytes that are not a request, gets no byte of the file; a file the job
// does not serve is refused with the reason, which the fetch returns.
func TestFetchDirectRefusals(t *testing.T) {
	t.Parallel()
	file := []byte("secret lines\n")
	path, disk := diskFile(t, file)
	nc := natsServer(t, 0)
	srv := serve(t, connect(t, nc.ConnectedUrl()), disk)
	cases := []struct {
		name string
		send []byte
		want string
	}{
		{"wrong secret", request(make([]byte, 32), 0, int64(len(file)), path), "\x01\x00\x0cwrong secret"},
		{"not a request", []byte(strings.Repeat("GET / HTTP/1.1\r\n", 8)), ""},
		{"cut short", request(make([]byte, 32), 0, 1, path)[:40], ""},
	}
	for _, c := range cases {
		conn, err := net.Dial("tcp", srv.DirectAddr())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(c.send); err != nil {
			t.Fatal(err)
		}
		if c.name == "cut short" {
			conn.(*net.TCPConn).CloseWrite()
		}
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: answered %q, want %q", c.name, got, c.want)
		}
	}
	task := schema.Task{Job: "j", Path: "/etc/passwd", Length: 4, Fetch: true}
	err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, make([]byte, 4))
	if !errors.Is(err, transfer.ErrRefused) || !strings.Contains(err.Error(), "not one of the job's inputs") {
		t.Errorf("a file not served: got %v, want ErrRefused saying why", err)
	}
	if direct, overNATS := srv.Served(); direct != 0 || overNATS != 0 {
		t.Errorf("served %d bytes directly and %d over NATS, want none", direct, overNATS)
	}
}

// TestFetchDirectReaderGone: a worker that goes away in the middle of a
// chunk (killed) leaves the server serving others, and stopping it.
func TestFetchDirectReaderGone(t *testing.T) {
	t.Parallel()
	file := randomBytes(32<<20, 6)
	path, disk := diskFile(t, file)
	nc := natsServer(t, 0)
	srvCtx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := transfer.NewServer(transfer.ServerConfig{NC: connect(t, nc.ConnectedUrl()), Job: "j", Files: disk})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(srvCtx) }()
	// The secret a worker is told, as a worker asks for it.
	task := schema.Task{Job: "j", Path: path, Length: int64(len(file)), Fetch: true}
	buf := make([]byte, len(file))
	if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
		t.Fatal(err)
	}
	// Readers that stop reading: one that closes, one that stalls while
	// the server stops.
	token := directToken(t, nc)
	for range 2 {
		conn, err := net.Dial("tcp", srv.DirectAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(request(token, 0, int64(len(file)), path)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	stalled, err := net.Dial("tcp", srv.DirectAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Write(request(token, 0, int64(len(file)), path)); err != nil {
		t.Fatal(err)
	}
	clear(buf)
	if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, file) {
		t.Fatal("the fetched bytes differ from the file's")
	}
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop within 20s with a stalled reader")
	}
}

// directToken asks job j's submitter for its direct path, as a worker
// does, and returns the secret.
func directToken(t *testing.T, nc *nats.Conn) []byte {
	t.Helper()
	req := &nats.Msg{Subject: schema.RangeSubject("j"), Header: nats.Header{}}
	req.Header.Set("Jetmr-Range-Direct", "1")
	m, err := nc.RequestMsg(req, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	token, err := hex.DecodeString(m.Header.Get("Jetmr-Range-Direct-Token"))
	if err != nil || len(token) != 32 {
		t.Fatalf("the secret of the direct path: %q (%v)", m.Header.Get("Jetmr-Range-Direct-Token"), err)
	}
	return token
}

// TestFetchDirectBusy: connections that send nothing hold the direct
// path's places; past them a connection is closed unanswered, and a fetch
// then comes over NATS.
func TestFetchDirectBusy(t *testing.T) {
	t.Parallel()
	file := randomBytes(1<<20, 7)
	nc := natsServer(t, 0)
	srv := serve(t, connect(t, nc.ConnectedUrl()), memFiles{files: map[string][]byte{"/in": file}})
	const places = 128 // the server's bound
	for range places {
		c, err := net.Dial("tcp", srv.DirectAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The server takes the idle connections in its own time: wait until
	// one more is closed at once.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", srv.DirectAddr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if errors.Is(err, io.EOF) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection past the %d idle ones was not closed: %v", places, err)
		}
	}
	task := schema.Task{Job: "j", Path: "/in", Length: int64(len(file)), Fetch: true}
	buf := make([]byte, len(file))
	if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, file) {
		t.Fatal("the fetched bytes differ from the file's")
	}
	if direct, overNATS := waitServed(srv, func(d, n int64) bool { return d == 0 && n == int64(len(file)) }); direct != 0 || overNATS != int64(len(file)) {
		t.Fatalf("served %d bytes directly and %d over NATS, want all over NATS", direct, overNATS)
	}
}

// TestFetchDirectAddresses: a direct path on every interface, and one
// whose first advertised address does not answer, serve the chunk
// directly.
func TestFetchDirectAddresses(t *testing.T) {
	t.Parallel()
	file := randomBytes(1<<20+3, 8)
	port := closedAddr(t)
	cases := []struct {
		name string
		cfg  transfer.ServerConfig
	}{
		{"every interface", transfer.ServerConfig{DirectListen: ":0"}},
		{"second address", transfer.ServerConfig{DirectListen: port, DirectAdvertise: []string{closedAddr(t), port}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nc := natsServer(t, 0)
			cfg := c.cfg
			cfg.NC, cfg.Job, cfg.Files = connect(t, nc.ConnectedUrl()), "j", memFiles{files: map[string][]byte{"/in": file}}
			srv := serveWith(t, cfg)
			task := schema.Task{Job: "j", Path: "/in", Length: int64(len(file)), Fetch: true}
			for range 2 {
				buf := make([]byte, len(file))
				if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, file) {
					t.Fatal("the fetched bytes differ from the file's")
				}
			}
			if direct, overNATS := waitServed(srv, func(d, n int64) bool { return d == 2*int64(len(file)) && n == 0 }); direct != 2*int64(len(file)) || overNATS != 0 {
				t.Fatalf("served %d bytes directly and %d over NATS, want all directly", direct, overNATS)
			}
		})
	}
}

// TestFetchDirectStopped: a fetch stopped by its caller in the middle of
// a chunk returns at once, and the next one still takes the direct path.
func TestFetchDirectStopped(t *testing.T) {
	t.Parallel()
	file := randomBytes(2<<20, 9)
	release := make(chan struct{})
	var stalled atomic.Bool
	files := memFiles{files: map[string][]byte{"/in": file}, read: func(off int64) error {
		if off > 1<<20 && stalled.CompareAndSwap(false, true) {
			<-release
		}
		return nil
	}}
	nc := natsServer(t, 0)
	srv := serve(t, connect(t, nc.ConnectedUrl()), files)
	t.Cleanup(func() { close(release) }) // before the server stops
	task := schema.Task{Job: "j", Path: "/in", Length: int64(len(file)), Fetch: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (transfer.Fetcher{}).Fetch(ctx, nc, &task, make([]byte, len(file))) }()
	deadline := time.Now().Add(20 * time.Second)
	for !stalled.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the fetch did not reach the stalled read within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a stopped fetch returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stopped fetch did not return within 10s")
	}
	before, _ := srv.Served()
	buf := make([]byte, len(file))
	if err := (transfer.Fetcher{}).Fetch(context.Background(), nc, &task, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, file) {
		t.Fatal("the fetched bytes differ from the file's")
	}
	if direct, overNATS := waitServed(srv, func(d, n int64) bool { return d-before == int64(len(file)) && n == 0 }); direct-before != int64(len(file)) || overNATS != 0 {
		t.Fatalf("after a stopped fetch: served %d bytes directly and %d over NATS, want the chunk directly", direct-before, overNATS)
	}
}

// waitServed returns srv's counts of bytes served once ok accepts them,
// or after 10s: the server counts a range once it has sent it, which may
// be after the worker has it.
func waitServed(srv *transfer.Server, ok func(direct, overNATS int64) bool) (direct, overNATS int64) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		direct, overNATS = srv.Served()
		if ok(direct, overNATS) || time.Now().After(deadline) {
			return direct, overNATS
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFetchChecksChecksum: a task that carries a checksum gets its chunk
// checked on either path: the right bytes pass, and bytes that are not
// the ones the checksum was taken of (the file changed after the split)
// fail with schema.ErrChecksum; a chunk of a task without a checksum is
// not checked.
func TestFetchChecksChecksum(t *testing.T) {
	t.Parallel()
	file := randomBytes(1<<20+333, 6)
	path, disk := diskFile(t, file)
	nc := natsServer(t, 128<<10)
	serve(t, connect(t, nc.ConnectedUrl()), disk)
	const off, n = 4321, 600 << 10
	right := schema.Checksum(file[off : off+n])
	wrong := schema.Checksum(file[off+1 : off+n+1])
	for _, f := range []struct {
		name    string
		fetcher transfer.Fetcher
	}{{"direct", transfer.Fetcher{}}, {"nats", transfer.Fetcher{NATSOnly: true}}} {
		for _, c := range []struct {
			name string
			sum  []byte
			want error
		}{{"right sum", right, nil}, {"wrong sum", wrong, schema.ErrChecksum}, {"no sum", nil, nil}} {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				task := schema.Task{Job: "j", Index: 1, Path: path, Offset: off, Length: n, Fetch: true, Sum: c.sum}
				buf := make([]byte, n)
				err := f.fetcher.Fetch(context.Background(), nc, &task, buf)
				if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
					t.Fatalf("Fetch: %v, want %v", err, c.want)
				}
				if err == nil && !bytes.Equal(buf, file[off:off+n]) {
					t.Fatal("the fetched bytes differ from the file's")
				}
			})
		}
	}
}
