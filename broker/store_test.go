package broker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
)

// TestInspectStore: a missing store, a free one and one a broker holds,
// with the holder's process ID; inspecting creates nothing.
func TestInspectStore(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "typo")
	info, err := broker.InspectStore(missing)
	if err != nil || info.Exists || info.Locked {
		t.Fatalf("missing store: %+v, %v; want it not to exist", info, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("inspecting created %s: %v", missing, err)
	}
	dir := t.TempDir()
	b, err := broker.Open(context.Background(), broker.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if b.StoreDir() != dir {
		t.Errorf("StoreDir %q, want %q", b.StoreDir(), dir)
	}
	info, err = broker.InspectStore(dir)
	if err != nil || !info.Exists || !info.Locked || info.PID != os.Getpid() {
		t.Errorf("held store: %+v, %v; want locked by pid %d", info, err, os.Getpid())
	}
	b.Close()
	info, err = broker.InspectStore(dir)
	if err != nil || !info.Exists || info.Locked || info.PID != 0 {
		t.Errorf("released store: %+v, %v; want it free", info, err)
	}
}

// TestOpenWaitsForBriefHolder: a store held for a moment (as jetmr status
// holds one) is waited for rather than reported busy.
func TestOpenWaitsForBriefHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	first, err := broker.Open(ctx, broker.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond) // the brief hold under test
		first.Close()
	}()
	second, err := broker.Open(ctx, broker.Config{StoreDir: dir})
	<-released
	if err != nil {
		t.Fatalf("open after a brief hold: %v", err)
	}
	second.Close()
}

func TestJobStores(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if ids, err := broker.JobStores(root); err != nil || len(ids) != 0 {
		t.Fatalf("empty root: %q, %v", ids, err)
	}
	for _, id := range []string{"b", "a"} {
		if err := os.MkdirAll(broker.JobStoreDir(root, id), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := broker.JobStores(root); err != nil || strings.Join(ids, ",") != "a,b" {
		t.Fatalf("JobStores: %q, %v; want a,b", ids, err)
	}
}

// TestServerKeepsItsToken: a server without credentials generates a token
// once and keeps it, mode 0600, for its next starts; RotateToken replaces
// it; a kept token others can read is refused.
func TestServerKeepsItsToken(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	start := func(cfg broker.ServerConfig) (*broker.Server, error) {
		cfg.Listen, cfg.StoreDir = "127.0.0.1:0", store
		return broker.StartServer(cfg)
	}
	first, err := start(broker.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	token := first.Token()
	if !first.TokenGenerated() || len(token) != 32 || strings.Contains(first.Address(), token) {
		t.Fatalf("first start: generated %v, token %q, address %s", first.TokenGenerated(), token, first.Address())
	}
	first.Shutdown()
	path := broker.TokenPath(store)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v, want mode 0600", path, err)
	}
	again, err := start(broker.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if again.TokenGenerated() || again.Token() != token {
		t.Errorf("restart: generated %v, token changed %v; want the kept token", again.TokenGenerated(), again.Token() != token)
	}
	if _, err := open(t, broker.Config{URL: again.Address(), Token: token}); err != nil {
		t.Errorf("client with the kept token: %v", err)
	}
	again.Shutdown()
	rotated, err := start(broker.ServerConfig{RotateToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.TokenGenerated() || rotated.Token() == token {
		t.Errorf("RotateToken: generated %v, same token %v", rotated.TokenGenerated(), rotated.Token() == token)
	}
	rotated.Shutdown()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := start(broker.ServerConfig{}); !errors.Is(err, broker.ErrConfig) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("kept token readable by others: %v, want ErrConfig saying chmod 600", err)
	}
}

// TestTokenFile: a client or server reads its token from a file; bad
// files and conflicting credentials are configuration errors.
func TestTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	empty := filepath.Join(dir, "empty")
	spaced := filepath.Join(dir, "spaced")
	for path, data := range map[string]string{good: "  t0ken \nignored\n", empty: "\n", spaced: "a b\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, broker.ServerConfig{TokenFile: good})
	if srv.Token() != "t0ken" || srv.TokenGenerated() {
		t.Fatalf("server token %q (generated %v), want t0ken from the file", srv.Token(), srv.TokenGenerated())
	}
	tests := []struct {
		name string
		cfg  broker.Config
		want error
	}{
		{"file", broker.Config{URL: srv.Address(), TokenFile: good}, nil},
		{"token", broker.Config{URL: srv.Address(), Token: "t0ken"}, nil},
		{"URL credentials win over Token", broker.Config{URL: srv.ClientURL(), Token: "wrong"}, nil},
		{"wrong token", broker.Config{URL: srv.Address(), Token: "wrong"}, broker.ErrAuthentication},
		{"missing file", broker.Config{URL: srv.Address(), TokenFile: filepath.Join(dir, "none")}, broker.ErrConfig},
		{"empty file", broker.Config{URL: srv.Address(), TokenFile: empty}, broker.ErrConfig},
		{"spaces in the token", broker.Config{URL: srv.Address(), TokenFile: spaced}, broker.ErrConfig},
		{"file and URL credentials", broker.Config{URL: srv.ClientURL(), TokenFile: good}, broker.ErrConfig},
		{"file without URL", broker.Config{StoreDir: t.TempDir(), TokenFile: good}, broker.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := open(t, tt.cfg)
			if (tt.want == nil) != (err == nil) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "t0ken") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
	if _, err := broker.StartServer(broker.ServerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "x", TokenFile: good}); !errors.Is(err, broker.ErrConfig) {
		t.Errorf("Token and TokenFile: %v, want ErrConfig", err)
	}
}
