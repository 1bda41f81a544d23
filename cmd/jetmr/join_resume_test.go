package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// joinScript is a --join command that fails (exit 5) until the file
// "fixed" exists in its folder, and that waits for the file "go" when
// "gated" exists; then it counts the join file's lines.
const joinScript = `sh -c 'test -e gated && { : > joining; while [ ! -e go ]; do sleep 0.05; done; }; test -e fixed || { echo join broken >&2; exit 5; }; wc -l'`

// TestEachJoinFailureKeepsJob: a failed --join fails the job (exit 1)
// before its -o file is published, status says failed, and the printed
// hint, run once the join is fixed, runs the join and publishes the
// output. Interrupted while the join runs, the job exits 130, is stopped,
// and its resume hint runs the join.
func TestEachJoinFailureKeepsJob(t *testing.T) {
	t.Parallel()
	args := []string{"each", "-q", "--job", "jn", "--join", joinScript, "-o", "out.txt", ":::", "a", "b", "c", "--", "echo", "{}"}
	t.Run("join fails", func(t *testing.T) {
		t.Parallel()
		h, dir := newStateHome(t), t.TempDir()
		r := h.run(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "join command failed") || strings.Contains(r.stderr, "reduce") ||
			strings.Contains(r.stderr, "stderr: join broken") {
			t.Fatalf("failed join: exit %d, want 1 naming the join, its stderr once; stderr:\n%s", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
			t.Errorf("out.txt was published although the join failed")
		}
		if f := h.statusOf(t, dir, "jn"); f.State != "failed" {
			t.Errorf("status of a job whose join failed: %q, want failed", f.State)
		}
		hint := hintAfter(r.stderr, "run the join again, once it is fixed (--join may change), with:")
		if !strings.Contains(hint, "--resume") {
			t.Fatalf("no resume hint after the failed join; stderr:\n%s", r.stderr)
		}
		writeFile(t, filepath.Join(dir, "fixed"), "")
		runHintCommand(t, h, dir, hint)
		if got := fileText(t, filepath.Join(dir, "out.txt")); got != "a\nb\nc\n" && len(strings.Fields(got)) != 3 {
			t.Errorf("out.txt after the hint: %q, want the 3 items", got)
		}
		if f := h.statusOf(t, dir, "jn"); f.State != "done" {
			t.Errorf("status after the hint: %q, want done", f.State)
		}
	})
	t.Run("interrupted in the join", func(t *testing.T) {
		t.Parallel()
		h, dir := newStateHome(t), t.TempDir()
		writeFile(t, filepath.Join(dir, "fixed"), "")
		writeFile(t, filepath.Join(dir, "gated"), "")
		p := startProcEnv(t, dir, h.env, args...)
		waitForFile(t, p, filepath.Join(dir, "joining"))
		p.Signal(syscall.SIGINT)
		if code := p.Wait(t, runTimeout); code != 130 {
			t.Fatalf("SIGINT in the join: exit %d, want 130; stderr:\n%s", code, p.Stderr)
		}
		if f := h.statusOf(t, dir, "jn"); f.State != "stopped" {
			t.Errorf("status after SIGINT in the join: %q, want stopped", f.State)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
			t.Errorf("out.txt was published although the join was interrupted")
		}
		writeFile(t, filepath.Join(dir, "go"), "")
		runHintCommand(t, h, dir, hintAfter(p.Stderr.String(), "continue it with:"))
		if got := fileText(t, filepath.Join(dir, "out.txt")); len(strings.Fields(got)) != 3 {
			t.Errorf("out.txt after the resume: %q, want the 3 items", got)
		}
	})
}
