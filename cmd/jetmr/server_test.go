package main_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/nettest"
	"github.com/jetmr/jetmr/schema"
)

// proc is a jetmr process a test started.
type proc struct{ *clitest.Proc }

// startProc starts jetmr with args in a temporary directory (or dir) and
// kills it at the end of the test.
func startProc(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, dir, nil, args...)
}

// startProcEnv is startProc with env added to the environment (after the
// private state directory, which env may replace).
func startProcEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return &proc{clitest.Start(t, bin, dir, env, args...)}
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	return p.Wait(t, runTimeout)
}

// natsServer is a running `jetmr server` process.
type natsServer struct {
	*proc
	// printed is the URL the server printed; url is the URL to connect
	// with: printed, with the token of --token added.
	printed, url string
}

// startServer runs `jetmr server` with args, on a free loopback port
// unless args say otherwise, and returns once it printed its client URL.
func startServer(t *testing.T, args ...string) *natsServer {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv is startServer with env added to the environment.
func startServerEnv(t *testing.T, env []string, args ...string) *natsServer {
	t.Helper()
	args = append([]string{"server", "--listen", "127.0.0.1:0", "--store", t.TempDir()}, args...)
	s := &natsServer{proc: startProcEnv(t, "", append([]string{"XDG_STATE_HOME=" + t.TempDir()}, env...), args...)}
	deadline := time.After(runTimeout)
	for {
		if lines := s.Stdout.Lines(); len(lines) > 0 {
			s.printed, s.url = lines[0], lines[0]
			if i := slices.Index(args, "--token"); i >= 0 {
				s.url = withToken(t, s.printed, args[i+1])
			}
			return s
		}
		select {
		case <-s.Done():
			t.Fatalf("jetmr %q exited %d before printing its URL; stderr:\n%s", args, s.Code(), s.Stderr)
		case <-deadline:
			t.Fatalf("jetmr %q printed no URL within %s; stderr:\n%s", args, runTimeout, s.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopServer stops s at the end of the test, after its subtests, and
// stopServer stops s at the end of the test, after its subtests, and
// checks that it exits 0 having printed nothing but its URL.
func stopServer(t *testing.T, s *natsServer) {
	t.Cleanup(func() {
		if code := s.stop(t); code != 0 {
			t.Errorf("jetmr server exited %d on SIGTERM, want 0; stderr:\n%s", code, s.Stderr)
		}
		if lines := s.Stdout.Lines(); len(lines) != 1 {
			t.Errorf("jetmr server printed %q on stdout, want its URL once", lines)
		}
	})
}

// withToken is u with token as its credentials.
func withToken(t *testing.T, u, token string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.User(token)
	return parsed.String()
}

// withoutUser is u with its credentials removed.
func withoutUser(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = nil
	return parsed.String()
}

// wordCountArgs is a word count of testdata/text into dir "counts". The
// private --store holds the spill files of a run with --nats too.
// wordCountArgs is a word count whose tasks the submitting process runs
// itself (--local-workers), so that no jetmr worker is needed.
func wordCountArgs(t *testing.T, extra ...string) []string {
	return append([]string{"mapreduce", "--store", t.TempDir(), "-i", td(t, "text"), "-o", "counts", "--map", "wordcount", "--reduce", "sum",
		"--chunk-size", "2KiB", "--partitions", "2", "--local-workers", "2"}, extra...)
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range dirNames(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	return files
}

// sameCounts runs the word count embedded and with extra args and checks
// both write the same files.
func sameCounts(t *testing.T, extra ...string) {
	t.Helper()
	embedded := t.TempDir()
	if r := jetmr(t, embedded, wordCountArgs(t)...); r.code != 0 {
		t.Fatalf("embedded run: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	remote := t.TempDir()
	r := jetmr(t, remote, wordCountArgs(t, extra...)...)
	if r.code != 0 {
		t.Fatalf("run with %q: exit status %d, want 0; stderr:\n%s", extra, r.code, r.stderr)
	}
	want, got := readDir(t, filepath.Join(embedded, "counts")), readDir(t, filepath.Join(remote, "counts"))
	if len(got) != len(want) {
		t.Fatalf("part files %d, want %d", len(got), len(want))
	}
	for name, data := range want {
		if got[name] != data {
			t.Errorf("%s differs from the embedded run (%d bytes, want %d)", name, len(got[name]), len(data))
		}
	}
}

func TestServerTokenJob(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--token", "s3cret")
	stopServer(t, srv)
	if !strings.HasPrefix(srv.printed, "nats://127.0.0.1:") {
		t.Fatalf("printed URL %q, want nats://127.0.0.1:PORT: a token given is never printed", srv.printed)
	}
	sameCounts(t, "--nats", srv.url)

	bare := withoutUser(t, srv.url)
	wrong := strings.Replace(srv.url, "s3cret", "guess", 1)
	tests := []struct {
		name, url, want string
	}{
		{"wrong token", wrong, "refused the credentials"},
		{"no token", bare, "requires credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := jetmr(t, dir, wordCountArgs(t, "--nats", tt.url)...)
			if r.code != 3 {
				t.Fatalf("exit status %d, want 3; stderr:\n%s", r.code, r.stderr)
			}
			if r.took > 10*time.Second {
				t.Errorf("took %s to give up, want under 10s", r.took)
			}
			for _, want := range []string{"authentication", tt.want, "--nats URL"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "guess") {
				t.Errorf("stderr leaks the token:\n%s", r.stderr)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("working directory holds %q, want nothing", names)
			}
		})
	}
}

func TestServerGeneratesToken(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	stopServer(t, srv)
	u, err := url.Parse(srv.url)
	if err != nil || u.User == nil || len(u.User.Username()) < 32 {
		t.Fatalf("printed URL %q, want nats://TOKEN@HOST:PORT with a generated token", srv.url)
	}
	if strings.Contains(srv.Stderr.String(), u.User.Username()) {
		t.Errorf("the token is logged to stderr too; it belongs on stdout only")
	}
	r := jetmr(t, t.TempDir(), wordCountArgs(t, "--nats", srv.url, "-q")...)
	if r.code != 0 {
		t.Fatalf("job with the printed URL: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	files := nettest.WriteTLS(t, t.TempDir())
	srv := startServer(t, "--token", "tok", "--tls-cert", files.Cert, "--tls-key", files.Key)
	if !strings.HasPrefix(srv.printed, "tls://127.0.0.1:") {
		t.Fatalf("printed URL %q, want tls://127.0.0.1:PORT", srv.printed)
	}
	t.Run("right CA", func(t *testing.T) {
		t.Parallel()
		sameCounts(t, "--nats", srv.url, "--tls-ca", files.CA)
	})
	t.Run("no CA", func(t *testing.T) {
		t.Parallel()
		r := jetmr(t, t.TempDir(), wordCountArgs(t, "--nats", srv.url)...)
		if r.code != 3 || !strings.Contains(r.stderr, "not trusted") || !strings.Contains(r.stderr, "--tls-ca") {
			t.Fatalf("exit status %d, want 3 with a message naming --tls-ca; stderr:\n%s", r.code, r.stderr)
		}
	})
}

func TestServerBadUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two kinds of auth", []string{"--token", "t", "--user", "u", "--password", "p"}, "one kind of client credentials"},
		{"bad listen", []string{"--listen", "nowhere"}, "--listen"},
		{"routes without cluster", []string{"--routes", "127.0.0.1:7000"}, "--routes needs --cluster"},
		{"bad sync", []string{"--sync", "sometimes"}, "--sync"},
		{"missing cert", []string{"--tls-cert", "none.pem", "--tls-key", "none-key.pem"}, "--tls-cert"},
		{"arguments", []string{"extra"}, "unknown command"},
		{"token and token file", []string{"--token", "t", "--token-file", "f"}, "--token and --token-file"},
		{"missing token file", []string{"--token-file", "nofile"}, "reading token file nofile"},
		{"rotate a token given", []string{"--token", "t", "--rotate-token"}, "--rotate-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"server", "--store", t.TempDir(), "--listen", "127.0.0.1:0"}, tt.args...)
			r := jetmr(t, t.TempDir(), args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit status %d, stdout %q; want 2 and a message saying %q; stderr:\n%s", r.code, r.stdout, tt.want, r.stderr)
			}
		})
	}
}

// A stock nats-server with JetStream (the library, configured without
// jetmr) runs jobs just as jetmr server does.
func TestStockNATSServer(t *testing.T) {
	t.Parallel()
	sameCounts(t, "--nats", nettest.StockServer(t, ""))
}

// taskLeader is the server leading the task stream of job id once the job
// has stored some results, or "" before. Each question gets 2 s: a node
// that has just gone away answers nothing.
func taskLeader(t *testing.T, js jetstream.JetStream, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	results, err := js.Stream(ctx, schema.ResultStream(id))
	if err != nil || results.CachedInfo().State.Msgs < 5 {
		return ""
	}
	tasks, err := js.Stream(ctx, schema.TaskStream(id))
	if err != nil {
		return ""
	}
	info := tasks.CachedInfo()
	if info.Config.Replicas != 3 {
		t.Fatalf("task stream has %d replicas, want 3", info.Config.Replicas)
	}
	if info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// A job with --replicas 3 on a 3-node cluster of jetmr server processes
// completes with identical output when the leader of its task stream is
// shut down mid-job.
func TestClusterLeaderShutdown(t *testing.T) {
	t.Parallel()
	routes := []string{}
	for range 3 {
		routes = append(routes, fmt.Sprintf("127.0.0.1:%d", nettest.FreePort(t)))
	}
	servers := map[string]*natsServer{}
	var urls []string
	for i, own := range routes {
		var others []string
		for _, r := range routes {
			if r != own {
				others = append(others, r)
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		s := startServer(t, "--token", "tok", "--name", name, "--cluster", own, "--routes", strings.Join(others, ","))
		servers[name] = s
		urls = append(urls, s.url)
	}
	natsURL := strings.Join(urls, ",")

	input := filepath.Join(t.TempDir(), "in.txt")
	genText(t, input, 128<<10, 3)
	argv := []string{"sh", "-c", "sleep 0.1; tr a-z A-Z"}
	want := sequential(t, []string{"tr", "a-z", "A-Z"}, input)

	const id = "failover1"
	dir := t.TempDir()
	args := append([]string{"pipe", "--store", t.TempDir(), "--nats", natsURL, "--replicas", "3", "--job", id, "-i", input,
		"--chunk-size", "1KiB", "-j", "4", "--local-workers", "4", "-o", "out.txt", "--"}, argv...)
	job := startProc(t, dir, args...)

	// Watch the job from outside; once results flow, shut down the leader
	// of its task stream.
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A generous bound: a loaded 2-core machine runs three servers, the
	// job and its commands.
	ctx, cancel := context.WithTimeout(context.Background(), 2*runTimeout)
	defer cancel()
	var leader string
	for leader == "" {
		select {
		case <-ctx.Done():
			t.Fatalf("no results of job %s within %s; stderr:\n%s", id, 2*runTimeout, job.Stderr)
		case <-job.Done():
			t.Fatalf("job exited %d before the test shut a server down; stderr:\n%s", job.Code(), job.Stderr)
		case <-time.After(50 * time.Millisecond):
		}
		leader = taskLeader(t, js, id)
	}
	t.Logf("shutting down %s, the leader of the task stream", leader)
	if code := servers[leader].stop(t); code != 0 {
		t.Errorf("jetmr server %s exited %d on SIGTERM, want 0", leader, code)
	}
	// Tasks the old leader had handed out when it went away come back
	// after the consumer's AckWait (30 s).
	if code := job.Wait(t, 3*runTimeout); code != 0 {
		t.Fatalf("job exited %d after the leader went away, want 0; stderr:\n%s", code, job.Stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("output (%d bytes) differs from the sequential run (%d bytes)", len(got), len(want))
	}
}

// A server admitting an nkey user runs the job of a client that signs in
// with the seed file (--creds); --replicas 3 is refused on one server.
func TestServerNKeyCreds(t *testing.T) {
	t.Parallel()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--nkey", pub)
	stopServer(t, srv)
	if u, _ := url.Parse(srv.url); u.User != nil {
		t.Errorf("printed URL %q carries credentials; nkey clients sign in with --creds", srv.url)
	}
	sameCounts(t, "--nats", srv.url, "--creds", seedFile)

	r := jetmr(t, t.TempDir(), wordCountArgs(t, "--nats", srv.url, "--creds", seedFile, "--replicas", "3")...)
	if r.code != 2 || !strings.Contains(r.stderr, "single server") {
		t.Fatalf("--replicas 3 on one server: exit status %d, want 2 naming a single server; stderr:\n%s", r.code, r.stderr)
	}
}

// Job flags for an external NATS, misused: exit 2, nothing written.
func TestNATSFlagsBadUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"replicas 2", []string{"--nats", "nats://127.0.0.1:1", "--replicas", "2"}, "--replicas 2 is not valid"},
		{"replicas 3 embedded", []string{"--replicas", "3"}, "--replicas 3 needs a NATS cluster"},
		{"creds embedded", []string{"--creds", td(t, "crlf.txt")}, "--creds and --tls-ca are for an external server"},
		{"missing CA", []string{"--nats", "nats://127.0.0.1:1", "--tls-ca", "none.pem"}, "--tls-ca none.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := jetmr(t, dir, wordCountArgs(t, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit status %d, want 2 and a message saying %q; stderr:\n%s", r.code, tt.want, r.stderr)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("working directory holds %q, want nothing", names)
			}
		})
	}
}
