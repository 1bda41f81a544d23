package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionAndHelpHints checks jetmr --version, and that a flag error
// names the command to ask for help as the user would type it.
func TestVersionAndHelpHints(t *testing.T) {
	t.Parallel()
	r := jetmr(t, t.TempDir(), "--version")
	if r.code != 0 || !regexp.MustCompile(`^jetmr \S+\n$`).MatchString(r.stdout) {
		t.Errorf("jetmr --version: exit %d, stdout %q, stderr %q; want exit 0 and \"jetmr VERSION\"", r.code, r.stdout, r.stderr)
	}
	tests := []struct {
		args []string
		hint string
	}{
		{[]string{"--frobnicate"}, "jetmr --help"},
		{[]string{"pipe", "--frobnicate"}, "jetmr pipe --help"},
		{[]string{"pipe", "-o", "x", "--", "cat"}, "jetmr pipe --help"},
	}
	for _, tt := range tests {
		r := jetmr(t, t.TempDir(), tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, "(see "+tt.hint+")") || strings.Contains(r.stderr, "jetmr jetmr") {
			t.Errorf("jetmr %q: exit %d, stderr %q; want exit 2 pointing to %q", tt.args, r.code, r.stderr, tt.hint)
			continue
		}
		// The hint is a command that works.
		help := jetmr(t, t.TempDir(), strings.Fields(tt.hint)[1:]...)
		if help.code != 0 || !strings.Contains(help.stdout, "Usage:") {
			t.Errorf("%s: exit %d, stdout %q", tt.hint, help.code, help.stdout)
		}
	}
}

// TestWorkerUnreachableHint checks that a worker that cannot reach its
// server is told to start one, not to drop --nats, which a worker needs.
func TestWorkerUnreachableHint(t *testing.T) {
	t.Parallel()
	r := jetmr(t, t.TempDir(), "worker", "--nats", "nats://127.0.0.1:1")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "omit --nats") || !strings.Contains(r.stderr, "jetmr server") || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("stderr does not tell a worker how to reach a server:\n%s", r.stderr)
	}
}

// TestEachDirPerItem checks an each job whose --dir template names a
// missing directory for one item: that item fails at once (one attempt,
// no retries), saying which directory is missing, not that the program
// is; the other item runs.
func TestEachDirPerItem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	there := filepath.Join(dir, "there")
	if err := os.Mkdir(there, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	r := jetmr(t, dir, "each", "--store", t.TempDir(), "--dir", "{}", ":::", there, missing, "--", "pwd")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, there) {
		t.Errorf("the item with a directory did not run in it; stdout:\n%s", r.stdout)
	}
	want := `"` + missing + `" after 1 attempt(s): working directory ` + missing + " does not exist"
	if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "no such file") {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}
}

// TestLogFormatOneFormatPerStream runs a job with info logs, as plain
// text (the default, stderr not a terminal) and as JSON: stderr holds
// only plain lines, or only JSON records, its job ID and summary
// included.
func TestLogFormatOneFormatPerStream(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"", "console", "json"} {
		t.Run("format="+format, func(t *testing.T) {
			t.Parallel()
			args := []string{"pipe", "--store", t.TempDir(), "--log-level", "info", "-i", td(t, "crlf.txt")}
			if format != "" {
				args = append(args, "--log-format", format)
			}
			r := jetmr(t, t.TempDir(), append(args, "--", "cat")...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			var jsonLines int
			for _, l := range lines {
				var v map[string]any
				if json.Unmarshal([]byte(l), &v) == nil {
					jsonLines++
				}
				if strings.Contains(l, "\x1b[") {
					t.Errorf("a line is colored although stderr is not a terminal: %q", l)
				}
			}
			switch {
			case format == "json" && jsonLines != len(lines):
				t.Errorf("%d of %d lines are JSON with --log-format json:\n%s", jsonLines, len(lines), r.stderr)
			case format != "json" && jsonLines != 0:
				t.Errorf("%d JSON lines among plain ones:\n%s", jsonLines, r.stderr)
			}
			if !strings.Contains(r.stderr, "job starting") || !strings.Contains(r.stderr, "tasks in") {
				t.Errorf("stderr lacks the log record or the summary:\n%s", r.stderr)
			}
		})
	}
	// The final error of a failed run follows the format too.
	r := jetmr(t, t.TempDir(), "pipe", "--log-format", "json", "-i", "no-such-input", "--", "cat")
	var v map[string]any
	if r.code != 2 || json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &v) != nil || !strings.Contains(r.stderr, "no-such-input") {
		t.Errorf("bad input with --log-format json: exit %d, stderr %q; want exit 2 and one JSON record", r.code, r.stderr)
	}
}
