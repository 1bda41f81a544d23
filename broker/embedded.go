package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// embeddedServer is a nats-server running in this process with JetStream
// under a store directory it holds an exclusive lock on.
type embeddedServer struct {
	srv  *server.Server
	lock *os.File
}

func (b *Broker) openEmbedded(cfg Config) error {
	dir := cfg.StoreDir
	if dir == "" {
		var err error
		if dir, err = DefaultStoreDir(); err != nil {
			return err
		}
	}
	lock, err := lockStore(dir)
	if err != nil {
		return err
	}
	opts := &server.Options{
		ServerName: "jetmr-embedded",
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
		// jetmr keeps its streams on disk; cap memory storage so that the
		// server does not reserve most of the machine's RAM for it.
		JetStreamMaxMemory: 64 << 20,
		SyncAlways:         cfg.Sync == SyncAlways,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return fmt.Errorf("%w: configuring the embedded NATS server: %v", ErrUnreachable, err)
	}
	if b.log.Debug().Enabled() {
		srv.SetLoggerV2(serverLogger{b.log}, true, false, false)
	}
	go srv.Start() // Start returns once the server runs; Shutdown stops what it started.
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		lock.Close()
		return fmt.Errorf("%w: the embedded NATS server did not start within 30s (store %s)", ErrUnreachable, dir)
	}
	b.embedded = &embeddedServer{srv: srv, lock: lock}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(cfg.Name))
	if err != nil {
		b.embedded.shutdown()
		b.embedded = nil
		return fmt.Errorf("%w: connecting to the embedded server: %v", ErrUnreachable, err)
	}
	if err := b.attach(nc); err != nil {
		b.embedded.shutdown()
		b.embedded = nil
		return err
	}
	b.log.Debug().Str("store", dir).Str("sync", cfg.Sync).Msg("embedded NATS server ready")
	return nil
}

func (e *embeddedServer) shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	// Unlock explicitly: a child forked by another goroutine holds a copy of
	// the descriptor until it execs, and with it the flock.
	syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
	e.lock.Close()
}

// lockStore creates dir and takes an exclusive, non-blocking lock on it, so
// two jetmr processes never run JetStream over the same files.
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: creating store directory %s: %v: pick another with --store", ErrUnreachable, dir, err)
	}
	path := filepath.Join(dir, "jetmr.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v: pick another store with --store", ErrUnreachable, path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is used by another jetmr process: wait for it to finish, or pass another --store", ErrStoreBusy, dir)
	}
	return f, nil
}
