package nettest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Relay passes TCP connections on to a server until silenced; silent, it
// takes new connections and neither relays nor answers them, as the
// listening socket of a suspended process does.
type Relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	silent  bool
	clients []net.Conn // every connection taken, closed at the end
	servers []net.Conn // the connections to the server, closed when silenced
}

// StartRelay relays to the server at serverURL (nats://HOST:PORT) until
// the end of the test.
func StartRelay(t testing.TB, serverURL string) *Relay {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, target: u.Host}
	r.wg.Go(r.accept)
	t.Cleanup(r.close)
	return r
}

// Addr is the relay's HOST:PORT.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

func (r *Relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.clients = append(r.clients, c)
		silent := r.silent
		r.mu.Unlock()
		if silent {
			continue
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.silent { // silenced while dialing
			r.mu.Unlock()
			up.Close()
			continue
		}
		r.servers = append(r.servers, up)
		r.mu.Unlock()
		r.wg.Go(func() { io.Copy(up, c); up.Close() })
		r.wg.Go(func() { io.Copy(c, up); up.Close() })
	}
}

// Silence cuts the relayed connections from the server, and with drop
// closes them on the client's side too (else they stay open, silent).
func (r *Relay) Silence(drop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.silent = true
	for _, up := range r.servers {
		up.Close()
	}
	r.servers = nil
	if drop {
		for _, c := range r.clients {
			c.Close()
		}
		r.clients = nil
	}
}

// Speak relays new connections again.
func (r *Relay) Speak() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.silent = false
	// The connections taken while silent are dropped, as a process that
	// resumes would find its clients gone.
	for _, c := range r.clients {
		c.Close()
	}
	r.clients = nil
}

func (r *Relay) close() {
	r.ln.Close()
	r.Silence(true)
	r.wg.Wait()
}
