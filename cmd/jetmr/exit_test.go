package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// TestExitCodes walks every documented exit code through the binary: 0
// done, 1 tasks failed, 2 bad usage or input (with the library's setting
// named by its flag), 3 broker unreachable, 130 interrupted.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings of stderr
	}{
		{"done", []string{"pipe", "-i", in, "-o", "out.txt", "--", "cat"}, 0, nil},
		{"tasks failed", []string{"pipe", "--retries", "0", "-i", in, "-o", "out.txt", "--", "sh", "-c", "exit 3"}, 1, []string{"dead letter"}},
		{"bad flag", []string{"pipe", "--no-such-flag"}, 2, []string{"--no-such-flag"}},
		{"bad input", []string{"pipe", "-i", "missing.txt", "--", "cat"}, 2, []string{"missing.txt"}},
		{"bad setting", []string{"pipe", "--resume", "-i", in, "--", "cat"}, 2, []string{"--resume needs --job"}},
		{"unreachable", []string{"pipe", "--nats", "nats://127.0.0.1:1", "-i", in, "--", "cat"}, 3, []string{"127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{tt.args[0], "--store", t.TempDir()}, tt.args[1:]...)
			r := jetmr(t, t.TempDir(), args...)
			if r.code != tt.code {
				t.Fatalf("jetmr %q: exit %d, want %d; stderr:\n%s", args, r.code, tt.code, r.stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "Config.") || strings.Contains(r.stderr, "bad input") {
				t.Errorf("stderr shows the library's names instead of the flags:\n%s", r.stderr)
			}
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		started := filepath.Join(dir, "started")
		p := clitest.Start(t, bin, dir, nil, "pipe", "--store", t.TempDir(), "-i", in, "-o", "out.txt",
			"--", "sh", "-c", `touch "$0"; exec sleep 30`, started)
		eventually(t, runTimeout, "the command to start", func() (bool, string) {
			_, err := os.Stat(started)
			return err == nil, p.Stderr.String()
		})
		p.Signal(syscall.SIGINT)
		if code := p.Wait(t, runTimeout); code != 130 {
			t.Fatalf("exit %d after SIGINT, want 130; stderr:\n%s", code, p.Stderr)
		}
		if !strings.Contains(p.Stderr.String(), "--resume") {
			t.Errorf("an interrupted run does not say how to resume:\n%s", p.Stderr)
		}
	})
}
