package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pipeWithWorkers is a pipe job whose tasks only jetmr workers run.
func pipeWithWorkers(t *testing.T, dir string, extra ...string) []string {
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 400, false)
	return append(append([]string{"pipe", "--store", t.TempDir(), "-i", in, "-o", "out.txt", "--chunk-size", "4KiB",
		"--local-workers", "0", "-q"}, extra...), "--", "tr", "a-z", "A-Z")
}

// TestServerKeepsToken: a server started without credentials generates a
// token once, prints it once and keeps it (mode 0600) in its store; after
// a restart a worker started before reconnects with the same URL and runs
// a job; --rotate-token replaces the token and the old one is refused.
func TestServerKeepsToken(t *testing.T) {
	t.Parallel()
	store, addr := t.TempDir(), freeAddr(t)
	first := startServer(t, "--listen", addr, "--store", store)
	u := first.printed
	token := strings.TrimPrefix(strings.Split(u, "@")[0], "nats://")
	if !strings.Contains(u, "@") || len(token) != 32 {
		t.Fatalf("first start printed %q, want a URL with a generated token", u)
	}
	fi, err := os.Stat(filepath.Join(store, "token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
	}
	w := startWorker(t, u, "-j", "2")
	w.waitUp(t)
	if code := first.stop(t); code != 0 {
		t.Fatalf("server exit %d on SIGTERM", code)
	}

	again := startServer(t, "--listen", addr, "--store", store)
	if again.printed != withoutUser(t, u) || strings.Contains(again.Stdout.String()+again.Stderr.String(), token) {
		t.Errorf("restart printed %q, want %q and the token nowhere", again.printed, withoutUser(t, u))
	}
	dir := t.TempDir()
	if r := jetmr(t, dir, pipeWithWorkers(t, dir, "--nats", u)...); r.code != 0 {
		t.Fatalf("job on the restarted server, through the worker started before: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	checkPipeOutput(t, dir, []string{"tr", "a-z", "A-Z"}, filepath.Join(dir, "in.txt"))
	if code := again.stop(t); code != 0 {
		t.Fatalf("server exit %d on SIGTERM", code)
	}
	w.term(t)

	rotated := startServer(t, "--listen", addr, "--store", store, "--rotate-token")
	stopServer(t, rotated)
	if !strings.Contains(rotated.printed, "@") || rotated.printed == u {
		t.Fatalf("--rotate-token printed %q, want a URL with a new token", rotated.printed)
	}
	if r := jetmr(t, t.TempDir(), "status", "--nats", u); r.code != 3 || !strings.Contains(r.stderr, "refused the credentials") {
		t.Errorf("old token after --rotate-token: exit %d, want 3 refused; stderr:\n%s", r.code, r.stderr)
	}
	if r := jetmr(t, t.TempDir(), "status", "--nats", rotated.printed); r.code != 0 {
		t.Errorf("new token: exit %d; stderr:\n%s", r.code, r.stderr)
	}
}

// TestTokenFromFileAndEnv: the server and its clients take the token from
// --token-file or JETMR_TOKEN, with a URL that holds none; the server
// prints no secret it was given.
func TestTokenFromFileAndEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("filetoken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := startServer(t, "--token-file", file)
	stopServer(t, fromFile)
	fromEnv := startServerEnv(t, []string{"JETMR_TOKEN=envtoken"})
	stopServer(t, fromEnv)
	for _, s := range []*natsServer{fromFile, fromEnv} {
		if strings.Contains(s.printed, "@") {
			t.Errorf("server printed %q: a token given is never printed", s.printed)
		}
	}
	tests := []struct {
		name string
		url  string
		env  []string
		args []string
		code int
		want string
	}{
		{"client token file", fromFile.printed, nil, []string{"--token-file", file}, 0, ""},
		{"client env", fromFile.printed, []string{"JETMR_TOKEN=filetoken"}, nil, 0, ""},
		{"server env, client env", fromEnv.printed, []string{"JETMR_TOKEN=envtoken"}, nil, 0, ""},
		{"URL token wins over env", withToken(t, fromEnv.printed, "envtoken"), []string{"JETMR_TOKEN=wrong"}, nil, 0, ""},
		{"wrong env token", fromEnv.printed, []string{"JETMR_TOKEN=wrong"}, nil, 3, "refused the credentials"},
		{"no token", fromEnv.printed, nil, nil, 3, "JETMR_TOKEN"},
		{"token file and URL token", withToken(t, fromFile.printed, "filetoken"), nil, []string{"--token-file", file}, 2, "give one of them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"XDG_STATE_HOME=" + t.TempDir()}, tt.env...)
			r := jetmrEnv(t, t.TempDir(), env, append([]string{"status", "--nats", tt.url}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d saying %q; stderr:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if strings.Contains(r.stderr, "envtoken") || strings.Contains(r.stderr, "filetoken") {
				t.Errorf("stderr shows a token:\n%s", r.stderr)
			}
		})
	}
	t.Run("job and worker from env", func(t *testing.T) {
		t.Parallel()
		env := []string{"XDG_STATE_HOME=" + t.TempDir(), "JETMR_TOKEN=envtoken"}
		w := startProcEnv(t, "", env, "worker", "--nats", fromEnv.printed, "-j", "2", "--log-format", "json")
		eventually(t, runTimeout, "worker start", func() (bool, string) {
			return strings.Contains(w.Stderr.String(), "worker waiting for jobs"), w.Stderr.String()
		})
		dir := t.TempDir()
		if r := jetmrEnv(t, dir, env, pipeWithWorkers(t, dir, "--nats", fromEnv.printed)...); r.code != 0 {
			t.Fatalf("job: exit %d; stderr:\n%s", r.code, r.stderr)
		}
		checkPipeOutput(t, dir, []string{"tr", "a-z", "A-Z"}, filepath.Join(dir, "in.txt"))
		if code := w.stop(t); code != 0 {
			t.Errorf("worker exit %d on SIGTERM; stderr:\n%s", code, w.Stderr)
		}
	})
}
