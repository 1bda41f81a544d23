package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled means the PostgreSQL server binaries (initdb, postgres,
// pg_ctl) were not found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found")

// Superuser is the role that connects without a password.
const Superuser = "postgres"

// Config says how to run a server. The zero value is ready to use.
type Config struct {
	// BinDir holds initdb, postgres and pg_ctl. Default: $JETMR_PG_BIN, else
	// the directory of initdb on $PATH (symlinks resolved), else
	// /usr/local/bin, else the newest /usr/lib/postgresql/*/bin or
	// /usr/pgsql-*/bin.
	BinDir string
	// RunAs is the unprivileged OS user the binaries run as when this
	// process runs as root. Default "nobody". Ignored when not root.
	RunAs string
	// StartTimeout bounds how long the server may take to accept
	// connections. Default 60s.
	StartTimeout time.Duration
}

// Server is a running throwaway cluster.
type Server struct {
	// URL connects to the database "postgres" as [Superuser], over TCP.
	URL string
	// Port is the server's TCP port on 127.0.0.1.
	Port int
	// Dir holds the cluster (Dir/data), its socket and its log (Dir/log).
	Dir string
	// BinDir is the directory of the binaries in use.
	BinDir string
	// Version is the output of "postgres --version".
	Version string
	// InitTime and StartTime are how long initdb and the server's start
	// (until it accepted a connection) took.
	InitTime, StartTime time.Duration

	cred     *syscall.Credential
	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// FindBinDir returns the directory holding initdb, postgres and pg_ctl, or
// an error wrapping [ErrNotInstalled] listing where it looked.
func FindBinDir(cfg Config) (string, error) {
	var candidates []string
	add := func(dirs ...string) { candidates = append(candidates, dirs...) }
	if cfg.BinDir != "" {
		add(cfg.BinDir)
	} else {
		if d := os.Getenv("JETMR_PG_BIN"); d != "" {
			add(d)
		}
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				add(filepath.Dir(real))
			}
			add(filepath.Dir(p))
		}
		add("/usr/local/bin")
		for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
			matches, _ := filepath.Glob(pattern)
			sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
			add(matches...)
		}
	}
	for _, dir := range candidates {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %s): install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql) or set JETMR_PG_BIN to the directory holding initdb",
		ErrNotInstalled, strings.Join(candidates, ", "))
}

// versionOf extracts the major version from a path like
// /usr/lib/postgresql/15/bin, or 0.
func versionOf(dir string) int {
	for _, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' || r == '-' }) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// New initialises and starts a cluster. The caller must call Stop.
func New(ctx context.Context, cfg Config) (*Server, error) {
	binDir, err := FindBinDir(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	s := &Server{BinDir: binDir}
	if os.Geteuid() == 0 {
		if s.cred, err = credentialOf(cfg.RunAs); err != nil {
			return nil, err
		}
	}
	out, err := s.command(ctx, "postgres", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", filepath.Join(binDir, "postgres"), err)
	}
	s.Version = strings.TrimSpace(string(out))

	if s.Dir, err = os.MkdirTemp("", "jetmr-pgtest-"); err != nil {
		return nil, fmt.Errorf("creating the cluster directory: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(s.Dir)
			return nil, fmt.Errorf("handing %s to uid %d: %w", s.Dir, s.cred.Uid, err)
		}
	}
	if err := s.initdb(ctx); err != nil {
		os.RemoveAll(s.Dir)
		return nil, err
	}
	// A free port can be taken by someone else before the server binds it:
	// try a few.
	for attempt := 0; ; attempt++ {
		err = s.start(ctx, cfg.StartTimeout)
		if err == nil || attempt == 4 || !strings.Contains(err.Error(), "could not bind") {
			break
		}
	}
	if err != nil {
		os.RemoveAll(s.Dir)
		return nil, err
	}
	return s, nil
}

func credentialOf(name string) (*syscall.Credential, error) {
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("looking up user %q to run PostgreSQL as (it refuses to run as root): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing the uid of %q: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing the gid of %q: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// command prepares one of the binaries, as the unprivileged user when
// root, with an environment free of PG* variables that could redirect it.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	if s.Dir != "" {
		cmd.Dir = s.Dir
	}
	return cmd
}

func (s *Server) initdb(ctx context.Context) error {
	start := time.Now()
	data := filepath.Join(s.Dir, "data")
	cmd := s.command(ctx, "initdb", "-D", data, "-U", Superuser, "-A", "trust",
		"--no-sync", "--no-instructions", "--locale=C", "-E", "UTF8")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("running initdb in %s: %w\n%s", data, err, out)
	}
	// The superuser is trusted on loopback; everyone else needs a password.
	hba := "local all all trust\n" +
		"host all " + Superuser + " 127.0.0.1/32 trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("writing pg_hba.conf: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("handing pg_hba.conf to uid %d: %w", s.cred.Uid, err)
		}
	}
	s.InitTime = time.Since(start)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the postmaster as a child of this process (so that it dies
// with it) and waits until it accepts connections.
func (s *Server) start(ctx context.Context, timeout time.Duration) error {
	begin := time.Now()
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.Dir, "log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("creating the server log: %w", err)
	}
	defer logFile.Close()
	// Not CommandContext: the server outlives New's context.
	cmd := s.command(context.Background(), "postgres", "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGQUIT is PostgreSQL's immediate shutdown: if this process dies, so
	// does the server.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	s.Port = port
	s.URL = fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", Superuser, port)
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, s.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited before accepting connections:\n%s", tail(logPath))
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("waiting for postgres to start: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("postgres did not accept connections within %v: %v\n%s", timeout, err, tail(logPath))
		}
	}
	s.cmd, s.exited = cmd, exited
	s.StartTime = time.Since(begin)
	return nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(bytes.TrimSpace(b))
}

// Stop stops the server with "pg_ctl stop -m immediate" and removes its
// directory. It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := s.command(ctx, "pg_ctl", "stop", "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w").CombinedOutput()
		if err != nil {
			s.stopErr = fmt.Errorf("stopping postgres with pg_ctl: %w\n%s", err, out)
			s.cmd.Process.Kill()
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.stopErr == nil {
			s.stopErr = fmt.Errorf("removing the cluster directory: %w", err)
		}
	})
	return s.stopErr
}

// DatabaseURL is the URL of database name as [Superuser].
func (s *Server) DatabaseURL(name string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Host: fmt.Sprintf("127.0.0.1:%d", s.Port),
		Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %q: %w", name, err)
	}
	return s.DatabaseURL(name), nil
}

// CreateRole creates a login role that authenticates with password, and
// returns the URL of database "postgres" as that role.
func (s *Server) CreateRole(ctx context.Context, name, password string) (string, error) {
	literal := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if err := s.exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD "+literal); err != nil {
		return "", fmt.Errorf("creating role %q: %w", name, err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(name, password), Host: fmt.Sprintf("127.0.0.1:%d", s.Port),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String(), nil
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
