package broker_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
)

// startServer starts a jetmr server on a free loopback port.
func startServer(t *testing.T, cfg broker.ServerConfig) *broker.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	s, err := broker.StartServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// open connects to url and closes the broker at the end of the test.
func open(t *testing.T, cfg broker.Config) (*broker.Broker, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { b.Close() })
	}
	return b, err
}

func withUser(rawURL string, user *url.Userinfo) string {
	u, _ := url.Parse(rawURL)
	u.User = user
	return u.String()
}

func TestServerGeneratesToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, broker.ServerConfig{})
	if len(s.Token()) != 32 || !strings.Contains(s.ClientURL(), s.Token()+"@127.0.0.1:") {
		t.Fatalf("client URL %s, token %q: want a generated token in the URL", s.ClientURL(), s.Token())
	}
	if _, err := open(t, broker.Config{URL: s.ClientURL()}); err != nil {
		t.Fatalf("connecting with the printed URL: %v", err)
	}
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherFile := filepath.Join(dir, "other.nk")
	if err := os.WriteFile(otherFile, otherSeed, 0o600); err != nil {
		t.Fatal(err)
	}

	tokenSrv := startServer(t, broker.ServerConfig{Token: "s3cret"})
	userSrv := startServer(t, broker.ServerConfig{User: "ann", Password: "pw"})
	nkeySrv := startServer(t, broker.ServerConfig{NKeys: []string{pub}})
	bare := func(s *broker.Server) string { return withUser(s.ClientURL(), nil) }

	tests := []struct {
		name    string
		cfg     broker.Config
		wantErr string // "" for success
	}{
		{"right token", broker.Config{URL: tokenSrv.ClientURL()}, ""},
		{"wrong token", broker.Config{URL: withUser(bare(tokenSrv), url.User("guess"))}, "refused the credentials"},
		{"no token", broker.Config{URL: bare(tokenSrv)}, "requires credentials"},
		{"user and password", broker.Config{URL: withUser(bare(userSrv), url.UserPassword("ann", "pw"))}, ""},
		{"wrong password", broker.Config{URL: withUser(bare(userSrv), url.UserPassword("ann", "no"))}, "refused the credentials"},
		{"nkey seed", broker.Config{URL: bare(nkeySrv), Creds: seedFile}, ""},
		{"unknown nkey", broker.Config{URL: bare(nkeySrv), Creds: otherFile}, "refused the credentials"},
		{"no nkey", broker.Config{URL: bare(nkeySrv)}, "--creds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := open(t, tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, broker.ErrAuthentication) || !errors.Is(err, broker.ErrUnreachable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want ErrAuthentication saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "guess") || strings.Contains(err.Error(), ":no@") {
				t.Errorf("the error leaks a secret: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to give up, want < 10s", d)
			}
		})
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	files := nettest.WriteTLS(t, t.TempDir())
	wrong := nettest.WriteTLS(t, t.TempDir())
	s := startServer(t, broker.ServerConfig{Token: "tok", TLSCert: files.Cert, TLSKey: files.Key})
	if !strings.HasPrefix(s.ClientURL(), "tls://") {
		t.Errorf("client URL %s: want tls://", s.ClientURL())
	}
	plain := startServer(t, broker.ServerConfig{Token: "tok"})
	natsURL := strings.Replace(s.ClientURL(), "tls://", "nats://", 1)

	tests := []struct {
		name    string
		cfg     broker.Config
		wantErr string
	}{
		{"right CA", broker.Config{URL: natsURL, TLSCA: files.CA}, ""},
		{"no CA", broker.Config{URL: natsURL}, "--tls-ca"},
		{"wrong CA", broker.Config{URL: natsURL, TLSCA: wrong.CA}, "is not the CA that signed it"},
		{"CA for a plain server", broker.Config{URL: plain.ClientURL(), TLSCA: files.CA}, "does not offer TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := open(t, tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, broker.ErrTLS) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want ErrTLS saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestServerConfigErrors(t *testing.T) {
	t.Parallel()
	busy := startServer(t, broker.ServerConfig{Token: "t"})
	busyAddr := strings.TrimPrefix(withUser(busy.ClientURL(), nil), "nats://")
	tests := []struct {
		name string
		cfg  broker.ServerConfig
		want string
	}{
		{"two kinds of auth", broker.ServerConfig{Token: "t", User: "u", Password: "p"}, "one kind of client credentials"},
		{"user without password", broker.ServerConfig{User: "u"}, "--user and --password go together"},
		{"seed as nkey", broker.ServerConfig{NKeys: []string{"SUAFOO"}}, "public user nkey"},
		{"routes without cluster", broker.ServerConfig{Token: "t", Routes: []string{"127.0.0.1:1"}}, "--routes needs --cluster"},
		{"cluster port 0", broker.ServerConfig{Token: "t", Cluster: "127.0.0.1:0"}, "needs a port"},
		{"cluster of nkey users without secret", broker.ServerConfig{NKeys: []string{mustUserKey(t)}, Cluster: "127.0.0.1:6999"}, "--cluster-secret"},
		{"bad listen", broker.ServerConfig{Listen: "4222"}, "--listen"},
		{"bad sync", broker.ServerConfig{Sync: "sometimes"}, "--sync"},
		{"cert without key", broker.ServerConfig{TLSCert: "x.pem"}, "--tls-cert and --tls-key"},
		{"listen address in use", broker.ServerConfig{Listen: busyAddr}, "pick another address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.StoreDir == "" {
				tt.cfg.StoreDir = t.TempDir()
			}
			if tt.cfg.Listen == "" {
				tt.cfg.Listen = "127.0.0.1:0"
			}
			s, err := broker.StartServer(tt.cfg)
			if err == nil {
				s.Shutdown()
				t.Fatalf("started; want an error saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func mustUserKey(t *testing.T) string {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// A stock nats-server with JetStream, configured without jetmr, serves
// jetmr clients just as well.
func TestStockServer(t *testing.T) {
	t.Parallel()
	stock := withUser(nettest.StockServer(t, "stock"), url.User("stock"))
	b, err := open(t, broker.Config{URL: stock})
	if err != nil {
		t.Fatal(err)
	}
	if b.Embedded() {
		t.Error("a broker with URL should not be embedded")
	}
	if _, err := b.ProvisionJob(context.Background(), "stock1", broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = open(t, broker.Config{URL: stock, Replicas: 3})
	if !errors.Is(err, broker.ErrConfig) || !strings.Contains(err.Error(), "single server") {
		t.Fatalf("--replicas 3 on one server: got %v, want ErrConfig naming a single server", err)
	}
}

func TestClientConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		name string
		cfg  broker.Config
		want string
	}{
		{"replicas without URL", broker.Config{StoreDir: dir, Replicas: 3}, "--replicas 3 needs a NATS cluster"},
		{"creds without URL", broker.Config{StoreDir: dir, Creds: notPEM}, "--creds and --tls-ca are for an external server"},
		{"missing creds", broker.Config{URL: "nats://127.0.0.1:1", Creds: filepath.Join(dir, "none")}, "--creds"},
		{"CA not PEM", broker.Config{URL: "nats://127.0.0.1:1", TLSCA: notPEM}, "holds no PEM certificate"},
		{"creds not a seed", broker.Config{URL: "nats://127.0.0.1:1", Creds: notPEM}, "neither a NATS credentials file nor an nkey seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := open(t, tt.cfg)
			if !errors.Is(err, broker.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrConfig saying %q", err, tt.want)
			}
		})
	}
}
