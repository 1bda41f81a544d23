package pgtest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// Start starts a server for tb and stops it when tb ends. Missing binaries
// skip tb, or fail it under $CI or $JETMR_PGTEST_REQUIRE.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := newForTest(tb)
	if err != nil {
		fail(tb, err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Shared returns the server shared by the tests of this test binary,
// starting it on first use. Call [StopShared] from TestMain after m.Run;
// should it be forgotten, the server still dies with the test binary.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = newForTest(tb)
	}
	if shared.err != nil {
		fail(tb, shared.err)
	}
	return shared.srv
}

// StopShared stops the server [Shared] started, if any.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return nil
	}
	return shared.srv.Stop()
}

func newForTest(tb testing.TB) (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := New(ctx, Config{})
	if err != nil {
		return nil, err
	}
	tb.Logf("pgtest: %s from %s on 127.0.0.1:%d: initdb %v, start %v",
		s.Version, s.BinDir, s.Port, s.InitTime.Round(time.Millisecond), s.StartTime.Round(time.Millisecond))
	return s, nil
}

func fail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" && os.Getenv("JETMR_PGTEST_REQUIRE") == "" {
		tb.Skipf("pgtest: skipping the PostgreSQL test: %v (set JETMR_PGTEST_REQUIRE=1 to fail instead)", err)
	}
	tb.Fatalf("pgtest: %v", err)
}
