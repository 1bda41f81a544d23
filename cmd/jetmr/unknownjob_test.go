package main_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownJobHintReachesTheStore: status JOB and discard JOB of a job
// unknown to a NATS server (--nats, its token in the URL or in
// --token-file) or to a --store print the jetmr status command that lists
// that server's or store's jobs, without the token; run as printed (the
// token given again with JETMR_TOKEN), it lists the job that ran there,
// which this machine's default stores do not hold.
func TestUnknownJobHintReachesTheStore(t *testing.T) {
	t.Parallel()
	const token = "s3cret-unknown"
	srv := startServer(t, "--token", token)
	stopServer(t, srv)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, token+"\n")
	store := filepath.Join(t.TempDir(), "store")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	for _, where := range [][]string{{"--nats", srv.url, "--local-workers", "1"}, {"--store", store}} {
		args := append([]string{"pipe", "-q", "-i", "in.txt", "-o", "out" + where[0] + ".txt", "--job", "known"}, where...)
		if r := jetmr(t, dir, append(args, "--", "cat")...); r.code != 0 {
			t.Fatalf("job %q: exit %d; stderr:\n%s", where, r.code, r.stderr)
		}
	}
	tests := []struct {
		name  string
		where []string
	}{
		{"token in URL", []string{"--nats", srv.url}},
		{"token file", []string{"--nats", withoutUser(t, srv.url), "--token-file", tokenFile}},
		{"store", []string{"--store", store}},
	}
	for _, cmd := range []string{"status", "discard"} {
		for _, tt := range tests {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				h := newStateHome(t)
				r := h.run(t, dir, append([]string{cmd, "nosuch"}, tt.where...)...)
				if r.code != 2 || !strings.Contains(r.stderr, "unknown job nosuch") {
					t.Fatalf("%s of an unknown job: exit %d, want 2 and unknown job; stderr:\n%s", cmd, r.code, r.stderr)
				}
				if strings.Contains(r.stderr, token) {
					t.Errorf("the message shows the token:\n%s", r.stderr)
				}
				line := hintAfter(r.stderr, "list its jobs with:")
				if !strings.HasPrefix(line, "jetmr status ") {
					t.Fatalf("no jetmr status command to list the jobs there; stderr:\n%s", r.stderr)
				}
				// The token comes back from the environment, as the note
				// says for a URL that held it.
				env := append(h.env, "JETMR_TOKEN="+token, "JETMR_BIN="+bin)
				listed := runHintEnv(t, dir, env, `jetmr() { "$JETMR_BIN" "$@"; }; `+line)
				if listed.code != 0 || !strings.Contains(listed.stdout, "known") {
					t.Errorf("%q: exit %d, want 0 and the job that ran there; stdout:\n%s\nstderr:\n%s", line, listed.code, listed.stdout, listed.stderr)
				}
			})
		}
	}
}
