package broker

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"
)

// DefaultListen is where [StartServer] accepts clients by default: this
// machine only.
const DefaultListen = "127.0.0.1:4222"

// routeUser is the user name routes of a jetmr cluster authenticate as;
// the password is [ServerConfig.ClusterSecret].
const routeUser = "jetmr-route"

// ServerConfig configures a NATS server with JetStream that listens for
// clients on other machines (jetmr server). Exactly one of Token,
// User/Password or NKeys is required; [StartServer] generates a token when
// none is given.
type ServerConfig struct {
	// Listen is the client address, HOST:PORT. Default [DefaultListen]. A
	// port of 0 picks a free one; [Server.ClientURL] tells which.
	Listen string
	// StoreDir is where JetStream keeps its data. Default: "server" under
	// [DefaultStoreDir]. The server holds an exclusive lock on it.
	StoreDir string
	// Name is the server's name, unique within a cluster. Default
	// "jetmr-HOSTNAME-PORT".
	Name string
	// Sync is the fsync policy, [SyncInterval] (default) or [SyncAlways].
	Sync string

	// Token is the secret clients put in the URL (nats://TOKEN@host:port).
	Token string
	// User and Password authenticate clients (nats://USER:PASSWORD@host:port).
	User, Password string
	// NKeys are the public keys (U...) of the users allowed in; each client
	// signs in with its seed file (--creds).
	NKeys []string

	// TLSCert and TLSKey, both PEM files, make clients connect with TLS.
	TLSCert, TLSKey string
	// TLSCA, a PEM file, verifies the certificates of the other cluster
	// nodes; with TLSCert and TLSKey it turns on TLS between nodes too.
	TLSCA string

	// Cluster is the HOST:PORT other nodes connect to. Empty: no cluster.
	Cluster string
	// Routes are the HOST:PORT cluster addresses of the other nodes.
	Routes []string
	// ClusterName names the cluster; every node must agree. Default "jetmr".
	ClusterName string
	// ClusterSecret is the password nodes authenticate each other with.
	// Default: Token, or else Password.
	ClusterSecret string

	// Logger receives the server's logs; notices are logged at info level.
	// Zero value: none.
	Logger zerolog.Logger
}

// Server is a listening NATS server with JetStream, run by [StartServer].
type Server struct {
	*embeddedServer
	url   string
	token string
}

// StartServer validates cfg, starts the server and returns once it
// accepts clients. In a cluster, JetStream becomes available once a
// majority of the nodes has joined. The caller must call [Server.Shutdown].
func StartServer(cfg ServerConfig) (*Server, error) {
	opts, err := serverOptions(&cfg)
	if err != nil {
		return nil, err
	}
	if err := checkFree(opts.Host, opts.Port, "--listen"); err != nil {
		return nil, err
	}
	if cfg.Cluster != "" {
		if err := checkFree(opts.Cluster.Host, opts.Cluster.Port, "--cluster"); err != nil {
			return nil, err
		}
	}
	e, err := startServer(opts, &serverLogger{log: cfg.Logger, notice: zerolog.InfoLevel})
	if err != nil {
		return nil, err
	}
	return &Server{embeddedServer: e, url: clientURL(e.srv, opts, cfg.Token), token: cfg.Token}, nil
}

// ClientURL is the URL clients connect with, the token included when the
// server authenticates with one.
func (s *Server) ClientURL() string { return s.url }

// Token is the token clients authenticate with: the configured or the
// generated one, or "" when the server uses users or nkeys.
func (s *Server) Token() string { return s.token }

// Name is the server's name within its cluster.
func (s *Server) Name() string { return s.srv.Name() }

// Shutdown stops the server, waits for it and releases the store.
func (s *Server) Shutdown() { s.shutdown() }

// GenerateToken returns a random 32-character hexadecimal token.
func GenerateToken() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return hex.EncodeToString(b)
}

func serverOptions(cfg *ServerConfig) (*server.Options, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	host, port, err := splitHostPort(cfg.Listen, "--listen")
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		hostname, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("jetmr-%s-%d", hostname, port)
	}
	if cfg.StoreDir == "" {
		dir, err := DefaultStoreDir()
		if err != nil {
			return nil, err
		}
		cfg.StoreDir = filepath.Join(dir, "server")
	}
	switch cfg.Sync {
	case "":
		cfg.Sync = SyncInterval
	case SyncInterval, SyncAlways:
	default:
		return nil, fmt.Errorf("%w: --sync %q is not valid: use %s or %s", ErrConfig, cfg.Sync, SyncAlways, SyncInterval)
	}
	if port == 0 {
		port = -1 // nats-server: -1 is a random port, 0 the default 4222
	}
	opts := &server.Options{
		ServerName:         cfg.Name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		NoSigs:             true,
		JetStreamMaxMemory: 64 << 20,
		SyncAlways:         cfg.Sync == SyncAlways,
	}
	if err := setAuth(cfg, opts); err != nil {
		return nil, err
	}
	if err := setTLS(cfg, opts); err != nil {
		return nil, err
	}
	if err := setCluster(cfg, opts); err != nil {
		return nil, err
	}
	return opts, nil
}

func setAuth(cfg *ServerConfig, opts *server.Options) error {
	given := 0
	for _, set := range []bool{cfg.Token != "", cfg.User != "" || cfg.Password != "", len(cfg.NKeys) > 0} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return fmt.Errorf("%w: give one kind of client credentials: --token, --user with --password, or --nkey", ErrConfig)
	case given == 0:
		cfg.Token = GenerateToken()
	}
	switch {
	case cfg.Token != "":
		opts.Authorization = cfg.Token
	case cfg.User != "" || cfg.Password != "":
		if cfg.User == "" || cfg.Password == "" {
			return fmt.Errorf("%w: --user and --password go together: give both", ErrConfig)
		}
		opts.Username, opts.Password = cfg.User, cfg.Password
	default:
		for _, k := range cfg.NKeys {
			if !nkeys.IsValidPublicUserKey(k) {
				return fmt.Errorf("%w: --nkey %q is not a public user nkey (it starts with U; give the public key, never the seed)", ErrConfig, k)
			}
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
		}
	}
	return nil
}

func setTLS(cfg *ServerConfig, opts *server.Options) error {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together: give both", ErrConfig)
	}
	if cfg.TLSCert == "" {
		if cfg.TLSCA != "" {
			return fmt.Errorf("%w: --tls-ca needs --tls-cert and --tls-key", ErrConfig)
		}
		return nil
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
	if err != nil {
		return fmt.Errorf("%w: loading --tls-cert %s and --tls-key %s: %w", ErrConfig, cfg.TLSCert, cfg.TLSKey, err)
	}
	opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 2
	return nil
}

func setCluster(cfg *ServerConfig, opts *server.Options) error {
	if cfg.Cluster == "" {
		if len(cfg.Routes) > 0 {
			return fmt.Errorf("%w: --routes needs --cluster HOST:PORT, this node's own cluster address", ErrConfig)
		}
		return nil
	}
	host, port, err := splitHostPort(cfg.Cluster, "--cluster")
	if err != nil {
		return err
	}
	if port == 0 {
		return fmt.Errorf("%w: --cluster %s needs a port the other nodes can list in their --routes", ErrConfig, cfg.Cluster)
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "jetmr"
	}
	secret := cfg.ClusterSecret
	if secret == "" {
		secret = cfg.Token + cfg.Password // at most one of them is set
	}
	if secret == "" {
		return fmt.Errorf("%w: a cluster with --nkey users needs --cluster-secret, the password its nodes share", ErrConfig)
	}
	opts.Cluster = server.ClusterOpts{
		Name: cfg.ClusterName, Host: host, Port: port,
		Username: routeUser, Password: secret,
		ConnectRetries: -1, // a node may start before the others
	}
	for _, r := range cfg.Routes {
		if _, _, err := splitHostPort(r, "--routes"); err != nil {
			return err
		}
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, secret), Host: r})
	}
	if cfg.TLSCA != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: true})
		if err != nil {
			return fmt.Errorf("%w: loading cluster TLS from --tls-cert, --tls-key and --tls-ca %s: %w", ErrConfig, cfg.TLSCA, err)
		}
		// A node is both server and client of its routes: it verifies the
		// peers' certificates both ways, against the same CA.
		tc.ClientAuth, tc.RootCAs = tls.RequireAndVerifyClientCert, tc.ClientCAs
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc, 2
	}
	return nil
}

func splitHostPort(hostport, flag string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s %q is not HOST:PORT, e.g. 0.0.0.0:4222", ErrConfig, flag, hostport)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: %s %q: the port must be a number from 0 to 65535", ErrConfig, flag, hostport)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// checkFree fails fast, with a message naming the flag, when the address
// is taken: nats-server reports it only through its log.
func checkFree(host string, port int, flag string) error {
	if port <= 0 {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: cannot listen on %s %s: %v: pick another address", ErrUnreachable, flag, net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return ln.Close()
}

// clientURL is the URL a client on another machine uses: the listening
// address (the host name for a wildcard one), with the token.
func clientURL(srv *server.Server, opts *server.Options, token string) string {
	host := opts.Host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	port := opts.Port
	if addr, ok := srv.Addr().(*net.TCPAddr); ok {
		port = addr.Port
	}
	u := url.URL{Scheme: "nats", Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if opts.TLSConfig != nil {
		u.Scheme = "tls"
	}
	if token != "" {
		u.User = url.User(token)
	}
	return u.String()
}

// startServer takes the lock on opts.StoreDir, starts the server and waits
// until it accepts connections. A nil log leaves the server silent.
func startServer(opts *server.Options, log *serverLogger) (*embeddedServer, error) {
	lock, err := lockStore(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: configuring the NATS server: %w", ErrUnreachable, err)
	}
	if log != nil {
		srv.SetLoggerV2(*log, log.log.Debug().Enabled(), log.log.Trace().Enabled(), false)
	}
	go srv.Start() // Start returns once the server runs; Shutdown stops what it started.
	e := &embeddedServer{srv: srv, lock: lock}
	if !srv.ReadyForConnections(30 * time.Second) {
		e.shutdown()
		return nil, fmt.Errorf("%w: the NATS server did not start within 30s (store %s)", ErrUnreachable, opts.StoreDir)
	}
	return e, nil
}
