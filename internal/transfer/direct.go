package transfer

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetmr/jetmr/schema"
)

// The direct path: a worker that can reach the submitter over TCP reads a
// whole chunk on one connection, which the submitter answers with
// sendfile(2) from the input file, instead of asking for it piece by piece
// over NATS, where every byte crosses the NATS server. A worker learns the
// submitter's address and the job's secret by asking on the job's range
// subject (a request with [directHeader]); it authenticates each
// connection with the secret.
//
// A request is, big-endian: the magic "JMRD", the version byte 1, the
// 32-byte secret, the task index (8 bytes), the offset (8), the length
// (8), the path's length (2) and the path. The answer is a status byte:
// 0 followed by exactly length bytes, or 1 followed by a message (its
// length in 2 bytes, then its text) saying why the range is not served.
const (
	directMagic   = "JMRD"
	directVersion = 1
	tokenSize     = 32
	// directFixed is the size of a request before its path.
	directFixed = len(directMagic) + 1 + tokenSize + 8 + 8 + 8 + 2
	// maxDirectPath bounds the path of a request.
	maxDirectPath = 4096

	statusOK      = 0
	statusRefused = 1
)

// Headers of the request that asks for the direct path, and of its reply.
const (
	directHeader      = "Jetmr-Range-Direct"
	directAddrsHeader = "Jetmr-Range-Direct-Addrs"
	directTokenHeader = "Jetmr-Range-Direct-Token"
)

// DirectOff as [ServerConfig].DirectListen serves ranges over NATS only.
const DirectOff = "off"

// ErrListen means the direct path could not listen on its address (one
// in use, say): the server can still serve over NATS alone.
var ErrListen = errors.New("cannot listen for the direct path")

// errBadDirectRequest means a direct connection sent something that is not
// a request of this protocol.
var errBadDirectRequest = errors.New("not a range request of jetmr's direct path")

// directRequest is a decoded request of the direct path.
type directRequest struct {
	token  [tokenSize]byte
	index  uint64
	offset int64
	length int64
	path   string
}

func (r directRequest) append(b []byte) []byte {
	b = append(b, directMagic...)
	b = append(b, directVersion)
	b = append(b, r.token[:]...)
	b = binary.BigEndian.AppendUint64(b, r.index)
	b = binary.BigEndian.AppendUint64(b, uint64(r.offset))
	b = binary.BigEndian.AppendUint64(b, uint64(r.length))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.path)))
	return append(b, r.path...)
}

// readDirectRequest reads and validates one request from r.
func readDirectRequest(r io.Reader) (directRequest, error) {
	var fixed [directFixed]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return directRequest{}, fmt.Errorf("reading a direct range request: %w", err)
	}
	b := fixed[:]
	if string(b[:len(directMagic)]) != directMagic || b[len(directMagic)] != directVersion {
		return directRequest{}, fmt.Errorf("reading a direct range request: %w", errBadDirectRequest)
	}
	b = b[len(directMagic)+1:]
	var req directRequest
	copy(req.token[:], b)
	b = b[tokenSize:]
	req.index = binary.BigEndian.Uint64(b)
	req.offset = int64(binary.BigEndian.Uint64(b[8:]))
	req.length = int64(binary.BigEndian.Uint64(b[16:]))
	n := int(binary.BigEndian.Uint16(b[24:]))
	if req.offset < 0 || req.length <= 0 || n == 0 || n > maxDirectPath {
		return directRequest{}, fmt.Errorf("reading a direct range request: %w: range of %d bytes at %d of a path of %d bytes", errBadDirectRequest, req.length, req.offset, n)
	}
	path := make([]byte, n)
	if _, err := io.ReadFull(r, path); err != nil {
		return directRequest{}, fmt.Errorf("reading a direct range request: %w", err)
	}
	req.path = string(path)
	return req, nil
}

// direct is a [Server]'s listener of the direct path.
type direct struct {
	ln    net.Listener
	token [tokenSize]byte
	addrs []string // what workers are told to dial

	mu    sync.Mutex
	conns map[net.Conn]bool // open connections, closed as the server stops
}

// listenDirect opens the direct path's listener for cfg, or returns nil
// when the direct path is off: asked so, or a NATS connection with TLS,
// whose bytes the direct path would send in the clear.
func listenDirect(cfg *ServerConfig) (*direct, error) {
	if cfg.DirectListen == DirectOff {
		return nil, nil
	}
	if _, err := cfg.NC.TLSConnectionState(); err == nil && cfg.DirectListen == "" {
		return nil, nil
	}
	listen, advertise := cfg.DirectListen, ""
	if listen == "" {
		listen, advertise = autoListen(cfg.NC)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrListen, listen, err)
	}
	d := &direct{ln: ln, conns: map[net.Conn]bool{}}
	rand.Read(d.token[:]) // never fails: crypto/rand panics rather than return an error
	port := ln.Addr().(*net.TCPAddr).Port
	if len(cfg.DirectAdvertise) > 0 {
		d.addrs = cfg.DirectAdvertise
		return d, nil
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		d.addrs = []string{net.JoinHostPort(host, fmt.Sprint(port))}
		return d, nil
	}
	// Every interface: the address this process reaches NATS from
	// first, then the machine's others, loopback last.
	hosts := []string{}
	if advertise != "" {
		hosts = append(hosts, advertise)
	}
	hosts = append(hosts, interfaceIPs()...)
	hosts = append(hosts, "127.0.0.1")
	seen := map[string]bool{}
	for _, h := range hosts {
		if !seen[h] {
			seen[h] = true
			d.addrs = append(d.addrs, net.JoinHostPort(h, fmt.Sprint(port)))
		}
	}
	return d, nil
}

// interfaceIPs are the machine's global unicast addresses.
func interfaceIPs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
			ips = append(ips, n.IP.String())
		}
	}
	return ips
}

// autoListen is where the direct path listens when not told: on loopback
// when the NATS server is on this machine (or in this process), else on
// every interface, telling workers the address this process reaches the
// NATS server from, which they most likely reach too.
func autoListen(nc *nats.Conn) (listen, advertise string) {
	host, _, err := net.SplitHostPort(nc.ConnectedAddr())
	ip := net.ParseIP(host)
	if err != nil || ip == nil || ip.IsLoopback() {
		return "127.0.0.1:0", ""
	}
	// Dialing UDP sends nothing: it picks the route's local address.
	c, err := net.Dial("udp", nc.ConnectedAddr())
	if err != nil {
		return "127.0.0.1:0", ""
	}
	defer c.Close()
	local := c.LocalAddr().(*net.UDPAddr).IP.String()
	return ":0", local
}

// maxDirectConns bounds the connections served at once: workers open one
// per chunk they fetch; past it a connection is closed unanswered, and its
// worker fetches over NATS.
const maxDirectConns = 128

// track adds or removes an open connection; it refuses to add one while
// the server stops or serves maxDirectConns already.
func (d *direct) track(c net.Conn, open bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns == nil || open && len(d.conns) >= maxDirectConns {
		return false
	}
	if open {
		d.conns[c] = true
	} else {
		delete(d.conns, c)
	}
	return true
}

// close stops accepting and cuts the connections being served.
func (d *direct) close() {
	d.ln.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// directIdle bounds the wait for a request on a new connection, and for
// the worker to take each part of the answer.
const directIdle = 30 * time.Second

// serveDirect answers the one request of connection c.
func (s *Server) serveDirect(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(directIdle))
	req, err := readDirectRequest(bufio.NewReaderSize(c, 512))
	if err != nil {
		s.cfg.Logger.Debug().Err(err).Stringer("from", c.RemoteAddr()).Msg("refusing a direct connection")
		return
	}
	if subtle.ConstantTimeCompare(req.token[:], s.direct.token[:]) != 1 {
		s.cfg.Logger.Warn().Stringer("from", c.RemoteAddr()).Msg("refusing a direct range request with a wrong secret")
		refuse(c, errWrongSecret.Error())
		return
	}
	c.SetDeadline(time.Time{})
	sent, err := s.sendRange(c, req)
	s.directBytes.Add(sent)
	if err != nil {
		s.cfg.Logger.Debug().Err(err).Stringer("to", c.RemoteAddr()).Msg("serving a direct range request")
	}
}

// sendRange answers req on c: the bytes, with sendfile(2) from an
// *os.File, or the reason they are not served.
func (s *Server) sendRange(c net.Conn, req directRequest) (int64, error) {
	f, err := s.cfg.Files.Open(req.path)
	if err != nil {
		return 0, refuse(c, fmt.Sprintf("task %d: %v", req.index, err))
	}
	if cl, ok := f.(io.Closer); ok {
		defer cl.Close()
	}
	var src io.Reader = io.NewSectionReader(f, req.offset, req.length)
	if file, ok := f.(*os.File); ok {
		// A file's own offset is what sendfile reads from: this file was
		// opened for this request alone.
		info, err := file.Stat()
		if err == nil && req.offset+req.length > info.Size() {
			err = fmt.Errorf("reading %s at %d+%d for task %d: %w", req.path, req.offset, req.length, req.index, io.ErrUnexpectedEOF)
		}
		if err == nil {
			_, err = file.Seek(req.offset, io.SeekStart)
		}
		if err != nil {
			return 0, refuse(c, err.Error())
		}
		src = &io.LimitedReader{R: file, N: req.length}
	}
	if _, err := c.Write([]byte{statusOK}); err != nil {
		return 0, err
	}
	// The worker takes the bytes at its pace, at least 1 MiB a second
	// past the first directIdle; a stalled one is cut.
	var n int64
	tc, isTCP := c.(*net.TCPConn)
	if _, isFile := src.(*io.LimitedReader); isFile && isTCP {
		c.SetWriteDeadline(time.Now().Add(directIdle + time.Duration(req.length>>20)*time.Second))
		n, err = tc.ReadFrom(src) // sendfile(2)
	} else {
		n, err = io.Copy(&deadlineWriter{c: c}, src)
	}
	if err == nil && n != req.length {
		err = fmt.Errorf("reading %s at %d+%d for task %d: %w", req.path, req.offset, req.length, req.index, io.ErrUnexpectedEOF)
	}
	// On an error the worker sees the connection end short of length.
	return n, err
}

// deadlineWriter writes to c, each write within directIdle.
type deadlineWriter struct{ c net.Conn }

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(directIdle))
	return w.c.Write(p)
}

// refuse answers a request with the reason it is not served, and returns
// that reason as an error.
func refuse(c net.Conn, why string) error {
	if len(why) > 1<<10 {
		why = why[:1<<10]
	}
	b := append([]byte{statusRefused}, byte(len(why)>>8), byte(len(why)))
	c.SetWriteDeadline(time.Now().Add(directIdle))
	c.Write(append(b, why...))
	return errors.New(why)
}

// answerDirect replies to a worker asking for the direct path: the
// addresses to dial and the secret, or an error header when there is none.
func (s *Server) answerDirect(m *nats.Msg) error {
	reply := &nats.Msg{Header: nats.Header{}}
	if s.direct == nil {
		reply.Header.Set(schema.RangeErrorHeader, "no direct path: ask over NATS")
	} else {
		reply.Header.Set(directAddrsHeader, strings.Join(s.direct.addrs, ","))
		reply.Header.Set(directTokenHeader, hex.EncodeToString(s.direct.token[:]))
	}
	return m.RespondMsg(reply)
}
