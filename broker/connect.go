package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Reconnection policy of an external connection: retry for ever, so that
// workers and submitters ride out a server restart or the failover of a
// cluster node, but give up at once on refused credentials (nats.go closes
// the connection on a repeated authentication error).
const (
	reconnectWait   = 500 * time.Millisecond
	reconnectJitter = 250 * time.Millisecond
	// pingInterval and maxPingsOut notice a server that went silent (a
	// dead machine, a partition) within about 15 s, not the NATS default
	// of several minutes.
	pingInterval = 5 * time.Second
	maxPingsOut  = 3
)

func (c Config) validate() error {
	switch c.Sync {
	case "", SyncInterval, SyncAlways:
	default:
		return fmt.Errorf("%w: sync policy %q is not valid: use %s or %s", ErrConfig, c.Sync, SyncAlways, SyncInterval)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("%w: --replicas %d is not valid: use 1, or 3 on a cluster", ErrConfig, c.Replicas)
	}
	if c.URL == "" {
		switch {
		case c.Replicas > 1:
			return fmt.Errorf("%w: --replicas %d needs a NATS cluster: pass its URL with --nats", ErrConfig, c.Replicas)
		case c.Creds != "" || c.TLSCA != "":
			return fmt.Errorf("%w: --creds and --tls-ca are for an external server: pass its URL with --nats", ErrConfig)
		}
	}
	if c.TokenFile != "" {
		switch {
		case c.URL == "":
			return fmt.Errorf("%w: --token-file is for an external server: pass its URL with --nats", ErrConfig)
		case urlHasUser(c.URL) || c.Creds != "":
			return fmt.Errorf("%w: --token-file and credentials in the --nats URL (or --creds) both authenticate: give one of them", ErrConfig)
		}
		if _, err := ReadTokenFile(c.TokenFile); err != nil {
			return err
		}
	}
	if c.Creds != "" {
		if _, err := os.Stat(c.Creds); err != nil {
			return fmt.Errorf("%w: --creds %s: %w", ErrConfig, c.Creds, err)
		}
	}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return fmt.Errorf("%w: --tls-ca %s: %w", ErrConfig, c.TLSCA, err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: --tls-ca %s holds no PEM certificate: give the CA certificate file", ErrConfig, c.TLSCA)
		}
	}
	return nil
}

// checkCluster refuses replicas a single server cannot keep, before any
// stream or bucket is created.
func (b *Broker) checkCluster(cfg Config) error {
	if cfg.Replicas > 1 && b.NC.ConnectedClusterName() == "" {
		return fmt.Errorf("%w: --replicas %d needs a NATS cluster, and %s is a single server: use --replicas 1, or point --nats at a cluster",
			ErrConfig, cfg.Replicas, redactURL(cfg.URL))
	}
	return nil
}

func (b *Broker) openExternal(cfg Config) error {
	b.link = newLink(cfg.URL, cfg.ConnectTimeout)
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.SetCustomDialer(b.link),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.link.down.Store(true)
			if err != nil { // nil: closed on purpose
				b.log.Warn().Err(err).Msg("disconnected from NATS; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.link.down.Store(false)
			b.log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := b.log.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("NATS connection error")
		}),
		nats.DiscoveredServersHandler(func(nc *nats.Conn) {
			b.log.Debug().Strs("servers", nc.DiscoveredServers()).Msg("discovered NATS cluster nodes")
		}),
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.Creds != "" {
		opt, err := credsOption(cfg.Creds)
		if err != nil {
			return err
		}
		opts = append(opts, opt)
	}
	if tok, err := cfg.token(); err != nil {
		return err
	} else if tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return connectError(cfg, err)
	}
	return b.attach(nc)
}

// credsOption reads a --creds file: a credentials file with a user JWT, or
// a bare nkey seed.
func credsOption(path string) (nats.Option, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading --creds %s: %w", ErrConfig, path, err)
	}
	if strings.Contains(string(data), "BEGIN NATS USER JWT") {
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --creds %s holds neither a NATS credentials file nor an nkey seed: %w", ErrConfig, path, err)
	}
	return opt, nil
}

// connectError explains a failed connection: refused credentials, an
// untrusted certificate, or an unreachable server, each with its fix.
func connectError(cfg Config, err error) error {
	where := redactURL(cfg.URL)
	var (
		unknownCA *x509.UnknownAuthorityError
		verify    *tls.CertificateVerificationError
		hostname  x509.HostnameError
	)
	switch {
	case isAuthError(err) && !hasCredentials(cfg):
		return fmt.Errorf("%w: %w: %s requires credentials: set JETMR_TOKEN or pass --token-file FILE, put them in the --nats URL (nats://TOKEN@HOST:PORT or nats://USER:PASSWORD@HOST:PORT), or pass --creds FILE",
			ErrUnreachable, ErrAuthentication, where)
	case isAuthError(err):
		return fmt.Errorf("%w: %w: %s refused the credentials (%v): check the token (in the --nats URL, --token-file or JETMR_TOKEN), the user:password in the URL, or the --creds file",
			ErrUnreachable, ErrAuthentication, where, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: %w: the TLS certificate of %s does not name the host (%v): connect with a host name the certificate lists",
			ErrUnreachable, ErrTLS, where, err)
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		fix := "pass the CA that signed it with --tls-ca FILE"
		if cfg.TLSCA != "" {
			fix = fmt.Sprintf("--tls-ca %s is not the CA that signed it: pass the right one", cfg.TLSCA)
		}
		return fmt.Errorf("%w: %w: the TLS certificate of %s is not trusted (%v): %s", ErrUnreachable, ErrTLS, where, err, fix)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("%w: %w: %s does not offer TLS: drop --tls-ca, or start the server with --tls-cert and --tls-key",
			ErrUnreachable, ErrTLS, where)
	}
	hint := cfg.UnreachableHint
	if hint == "" {
		hint = "check the URL and that the server is running, or omit --nats to use the embedded server"
	}
	return fmt.Errorf("%w: connecting to %s: %v: %s", ErrUnreachable, where, err, hint)
}

func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "authorization violation") || strings.Contains(msg, "authentication")
}

// hasCredentials reports whether the client offered any credentials.
func hasCredentials(cfg Config) bool {
	tok, _ := cfg.token()
	return cfg.Creds != "" || tok != "" || urlHasUser(cfg.URL)
}

// urlHasUser reports whether any of the comma-separated URLs carries
// credentials.
func urlHasUser(urls string) bool {
	for _, u := range strings.Split(urls, ",") {
		if parsed, err := url.Parse(strings.TrimSpace(u)); err == nil && parsed.User != nil {
			return true
		}
	}
	return false
}

// token is the token to authenticate with: TokenFile's, else Token when
// the URL and Creds carry no credentials of their own.
func (c Config) token() (string, error) {
	switch {
	case c.TokenFile != "":
		return ReadTokenFile(c.TokenFile)
	case c.Creds != "" || urlHasUser(c.URL):
		return "", nil
	}
	return c.Token, nil
}

// hurriedHandshake bounds each attempt to reconnect, dial and greeting
// together, once the broker is hurried ([Broker.Hurry]). nats.go holds
// its connection's lock through an attempt, and every call on the
// connection (a publish, an unsubscribe, a close) waits for that lock: a
// server whose process is suspended takes the TCP connection and never
// greets, so an attempt would otherwise hold it for ConnectTimeout.
const hurriedHandshake = 500 * time.Millisecond

// link is the broker's own view of its connection to an external server,
// kept outside nats.go so that reading it never waits for the
// connection's lock. It dials the connections, so that Hurry can cut
// the one in use.
type link struct {
	where   string        // the server's URL, credentials hidden
	timeout time.Duration // Config.ConnectTimeout
	down    atomic.Bool   // the connection's handlers last said it was lost (or closed)
	hurried atomic.Bool
	// hurrying ends when the broker is hurried: it cuts short the dials
	// made before (a dead machine answers no dial).
	hurrying context.Context
	hurry    context.CancelFunc

	mu   sync.Mutex
	last *linkConn // the connection dialed last

	probes sync.WaitGroup // the round trips Answering started
}

// newLink is the link of a connection to the servers at url.
func newLink(url string, timeout time.Duration) *link {
	l := &link{where: redactURL(url), timeout: timeout}
	l.hurrying, l.hurry = context.WithCancel(context.Background())
	return l
}

// Dial dials address for nats.go, within the connect timeout, or within
// hurriedHandshake once hurried.
func (l *link) Dial(network, address string) (net.Conn, error) {
	d, ctx := net.Dialer{Timeout: l.timeout}, l.hurrying
	if l.hurried.Load() {
		d.Timeout, ctx = hurriedHandshake, context.Background()
	}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	conn := &linkConn{Conn: c, hurried: &l.hurried}
	l.mu.Lock()
	l.last = conn
	l.mu.Unlock()
	return conn, nil
}

// linkConn is a dialed connection whose handshake deadline (the one
// deadline nats.go sets on both directions, for the greeting and the
// CONNECT round trip) is shortened once hurried.
type linkConn struct {
	net.Conn
	hurried *atomic.Bool
}

func (c *linkConn) SetDeadline(t time.Time) error {
	if soon := time.Now().Add(hurriedHandshake); c.hurried.Load() && !t.IsZero() && t.After(soon) {
		t = soon
	}
	return c.Conn.SetDeadline(t)
}

// Where names the server the broker connects to, credentials hidden:
// "the embedded server" for an embedded broker.
func (b *Broker) Where() string {
	if b.link == nil {
		return redactURL("")
	}
	return b.link.where
}

// Answering reports whether the server answers a round trip within
// timeout, and returns within about timeout whatever the connection's
// state: false at once when the connection is lost (reconnecting) or
// closed, false when the round trip is late (a server that went silent
// while its connection stays up). An embedded server always answers.
func (b *Broker) Answering(timeout time.Duration) bool {
	if b.link == nil {
		return true
	}
	select {
	case <-b.closed:
		return false
	default:
	}
	if b.link.down.Load() {
		return false
	}
	answered := make(chan error, 1)
	// The round trip may wait for the connection's lock beyond timeout
	// (a reconnection has just begun): Close waits for it, and Hurry
	// shortens that wait.
	b.link.probes.Go(func() { answered <- b.NC.FlushTimeout(timeout) })
	select {
	case err := <-answered:
		return err == nil
	case <-time.After(timeout + timeout/4):
		return false
	}
}

// Hurry makes the connection stop waiting for a server that does not
// answer, so that calls on the connection no longer wait seconds for its
// lock: the connection dialed last is cut, whether it is being set up (a
// suspended server takes the connection and never greets) or up (a
// write to a server that stopped reading holds the lock until the socket
// drains), a dial under way ends, and every later attempt to reconnect
// waits at most hurriedHandshake for the server. The connection still
// reconnects to a server that answers in time, and the writes its callers
// bound with their contexts may still succeed. It is meant for a process
// that stops with its server unreachable, and cannot be undone. It does
// nothing to an embedded broker.
func (b *Broker) Hurry() {
	if b.link == nil || b.link.hurried.Swap(true) {
		return
	}
	b.link.hurry()
	b.link.mu.Lock()
	last := b.link.last
	b.link.mu.Unlock()
	if last != nil {
		// nats.go sees the connection fail, and reconnects.
		last.Close()
	}
}
