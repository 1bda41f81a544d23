package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// embeddedServer is a nats-server running in this process with JetStream
// under a store directory it holds an exclusive lock on: the embedded one
// or jetmr server's.
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
	var log *serverLogger // the embedded server logs only when debugging
	if b.log.Debug().Enabled() {
		log = &serverLogger{log: b.log}
	}
	e, err := startServer(opts, log)
	if err != nil {
		return err
	}
	b.embedded = e
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(cfg.Name))
	if err != nil {
		b.embedded.shutdown()
		b.embedded = nil
		return fmt.Errorf("%w: connecting to the embedded server: %w", ErrUnreachable, err)
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
