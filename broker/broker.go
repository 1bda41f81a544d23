package broker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Sync policies for the embedded server's JetStream store.
const (
	// SyncInterval lets the server fsync on its own schedule (the NATS
	// default, every two minutes): fast, but acknowledged writes can be lost
	// if the machine loses power.
	SyncInterval = "interval"
	// SyncAlways fsyncs before every acknowledgement.
	SyncAlways = "always"
)

// Config says which NATS to use. The zero value runs an embedded server in
// the default store directory.
type Config struct {
	// URL of an external NATS server or cluster ("nats://host:4222", several
	// separated by commas). Empty runs an embedded server.
	URL string
	// StoreDir is where the embedded server keeps JetStream data. Default:
	// [DefaultStoreDir].
	StoreDir string
	// Sync is the embedded server's fsync policy, [SyncInterval] (default)
	// or [SyncAlways].
	Sync string
	// ConnectTimeout bounds reaching an external server. Default 5s.
	ConnectTimeout time.Duration
	// Name is the client connection name. Default "jetmr".
	Name string
	// Creds is a file the client authenticates to an external server with:
	// a NATS credentials file (user JWT and seed, operator mode) or an nkey
	// seed file (jetmr server --nkey). Tokens and passwords go in the URL.
	Creds string
	// Token authenticates to an external server (jetmr server's token)
	// when neither the URL nor Creds carry credentials; the CLI takes it
	// from JETMR_TOKEN.
	Token string
	// TokenFile is a file whose first line is the token. It takes the place
	// of Token, and may not be combined with credentials in the URL.
	TokenFile string
	// TLSCA is a PEM file of the CA that signed an external server's TLS
	// certificate. Default: the system's roots.
	TLSCA string
	// Replicas of the job streams and of the jobs bucket this broker
	// creates: 1 (default) or, on a cluster of at least 3 nodes, 3.
	Replicas int
	// Logger receives broker and embedded-server logs. Zero value: none.
	Logger zerolog.Logger
	// UnreachableHint is the fix an error suggests when the external
	// server cannot be reached. Default: check the URL and that the server
	// runs, or omit --nats to use the embedded server.
	UnreachableHint string
}

// Broker is an open JetStream connection, and the embedded server behind it
// when there is one.
type Broker struct {
	NC *nats.Conn
	JS jetstream.JetStream

	embedded *embeddedServer
	link     *link // nil when embedded
	closed   chan struct{}
	log      zerolog.Logger
	replicas int
}

// DefaultStoreDir is $XDG_STATE_HOME/jetmr, or ~/.local/state/jetmr.
func DefaultStoreDir() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "jetmr"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the default store directory: %w (set --store)", err)
	}
	return filepath.Join(home, ".local", "state", "jetmr"), nil
}

// Open connects to the NATS the config names, starting an embedded server
// when URL is empty. Errors reaching a server wrap [ErrUnreachable].
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.Name == "" {
		cfg.Name = "jetmr"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.Sync == "" {
		cfg.Sync = SyncInterval
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{log: cfg.Logger, replicas: cfg.Replicas}
	var err error
	if cfg.URL == "" {
		err = b.openEmbedded(cfg)
	} else {
		err = b.openExternal(cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(b.checkCluster(cfg), b.checkJetStream(ctx, cfg)); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Broker) attach(nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("%w: opening JetStream: %w", ErrUnreachable, err)
	}
	b.closed = make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(b.closed) })
	if nc.IsClosed() {
		nc.Close()
		return fmt.Errorf("%w: connection closed while opening", ErrUnreachable)
	}
	b.NC, b.JS = nc, js
	return nil
}

// checkJetStream asks for the account's JetStream info until it comes or
// cfg.ConnectTimeout passes: a cluster that has just started answers only
// once it has elected a meta leader.
func (b *Broker) checkJetStream(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	for {
		// Bound each attempt: without a meta leader no one answers.
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		_, err := b.JS.AccountInfo(attempt)
		cancelAttempt()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return ctx.Err() // stopped by the caller, not unreachable
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return fmt.Errorf("%w: %s has JetStream disabled: start it with -js (or use jetmr server)", ErrUnreachable, redactURL(cfg.URL))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: asking %s for JetStream account info: %w", ErrUnreachable, redactURL(cfg.URL), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Embedded reports whether the broker runs its own server.
func (b *Broker) Embedded() bool { return b.embedded != nil }

// closeProbe bounds the round trip by which Close tells that an external
// server still answers before it drains the connection.
const closeProbe = time.Second

// Close drains the connection and, when embedded, shuts the server down and
// releases the store directory. A connection to an external server that no
// longer answers (a dead machine, a partition) is closed at once: draining
// it would wait for that server. So is the connection of a hurried broker
// ([Broker.Hurry]).
func (b *Broker) Close() error {
	var err error
	if b.NC != nil {
		if b.embedded == nil && (b.link.hurried.Load() || !b.Answering(closeProbe)) {
			b.Hurry()
			b.NC.Close()
		} else if derr := b.NC.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			err = derr
		}
		select {
		case <-b.closed:
		case <-time.After(10 * time.Second):
			b.NC.Close()
		}
		if b.link != nil {
			b.link.probes.Wait()
		}
	}
	if b.embedded != nil {
		b.embedded.shutdown()
	}
	return err
}

// redactURL hides credentials in a URL before it reaches a message.
func redactURL(u string) string {
	if u == "" {
		return "the embedded server"
	}
	parts := strings.Split(u, ",")
	for i, p := range parts {
		parsed, err := url.Parse(strings.TrimSpace(p))
		if err != nil || parsed.User == nil {
			continue
		}
		if _, hasPassword := parsed.User.Password(); hasPassword {
			parts[i] = parsed.Redacted()
		} else {
			parsed.User = url.User("REDACTED")
			parts[i] = parsed.String()
		}
	}
	return strings.Join(parts, ",")
}
