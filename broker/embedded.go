package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// embeddedServer is a nats-server running in this process with JetStream
// under a store directory it holds an exclusive lock on: the embedded one
// or jetmr server's.
type embeddedServer struct {
	srv  *server.Server
	lock *os.File
	dir  string
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
	unlock(e.lock)
}

// unlock releases a store lock. Unlock explicitly: a child forked by
// another goroutine holds a copy of the descriptor until it execs, and
// with it the flock.
func unlock(lock *os.File) {
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	lock.Close()
}

// lockWait is how long opening a store waits for a lock held by another
// process before it reports [ErrStoreBusy]: long enough for jetmr status
// or discard, which hold a store briefly, short enough for a busy store to
// be reported at once to a person.
var lockWait = 3 * time.Second

// lockStore creates dir and takes an exclusive lock on it, so two jetmr
// processes never run JetStream over the same files. It waits up to
// lockWait for another holder to let go, then writes this process's ID to
// the lock file, for [InspectStore].
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: creating store directory %s: %v: pick another with --store", ErrUnreachable, dir, err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v: pick another store with --store", ErrUnreachable, path, err)
	}
	deadline := time.Now().Add(lockWait)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			return nil, busyError(dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // best effort: only InspectStore reads it
	}
	return f, nil
}

func busyError(dir string) error {
	who := "another jetmr process"
	if info, err := InspectStore(dir); err == nil && info.PID > 0 {
		who = fmt.Sprintf("jetmr process %d", info.PID)
	}
	return fmt.Errorf("%w: %s is used by %s: wait for it to finish, or pass another --store", ErrStoreBusy, dir, who)
}
