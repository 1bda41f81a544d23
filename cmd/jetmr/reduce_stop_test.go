package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStopDuringReducerCommand: SIGINT or SIGTERM while a mapreduce job's
// reducer command runs stops the job (exit 130, status stopped) with the
// resume hint, not a reducer failure; the hint then completes the job.
func TestStopDuringReducerCommand(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			var b strings.Builder
			for i := range 3000 {
				fmt.Fprintf(&b, "k%d\t%d\n", i%7, i)
			}
			writeFile(t, filepath.Join(dir, "kv.tsv"), b.String())
			reduce := `sh -c ': > reducing; while [ ! -e go ]; do sleep 0.05; done; cat'`
			p := startProcEnv(t, dir, h.env, "mapreduce", "-q", "-i", "kv.tsv", "-o", "out", "--job", "rstop", "--map", "cat", "--reduce", reduce)
			waitForFile(t, p, filepath.Join(dir, "reducing"))
			p.Signal(sig)
			if code := p.Wait(t, runTimeout); code != 130 || strings.Contains(p.Stderr.String(), "reducer is fixed") {
				t.Fatalf("%v during the reducer command: exit %d, want 130 and no reducer failure; stderr:\n%s", sig, code, p.Stderr)
			}
			if f := h.statusOf(t, dir, "rstop"); f.State != "stopped" {
				t.Errorf("status after %v during the reducer command: %q, want stopped", sig, f.State)
			}
			writeFile(t, filepath.Join(dir, "go"), "")
			runHintCommand(t, h, dir, hintAfter(p.Stderr.String(), "continue it with:"))
			if got := strings.Count(fileText(t, filepath.Join(dir, "out", "part-00000")), "\n"); got != 3000 {
				t.Errorf("the resumed job's output has %d lines, want 3000", got)
			}
		})
	}
}

// TestInlineReducerFailureHint: the command printed after an inline
// --reduce failed runs the reduce again with the reducer fixed in it (a
// changed --reduce), and completes the job.
func TestInlineReducerFailureHint(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "kv.tsv"), "b\t2\na\t1\nc\t3\n")
	broken := `sh -c "echo reducer broke >&2; exit 4"`
	r := h.run(t, dir, "mapreduce", "-q", "-i", "kv.tsv", "-o", "out", "--job", "rinl", "--map", "cat", "--reduce", broken)
	if r.code != 1 || !strings.Contains(r.stderr, "reducer broke") {
		t.Fatalf("failed reducer: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	hint := hintAfter(r.stderr, "run the reduce again, once the reducer is fixed (in its script, or a new --reduce), with:")
	fixed := strings.Replace(hint, `'`+broken+`'`, "sort", 1)
	if fixed == hint {
		t.Fatalf("the printed command %q does not hold --reduce %s as given; stderr:\n%s", hint, broken, r.stderr)
	}
	runHintCommand(t, h, dir, fixed)
	if got := fileText(t, filepath.Join(dir, "out", "part-00000")); got != "a\t1\nb\t2\nc\t3\n" {
		t.Errorf("output after the fixed reduce: %q, want the sorted input", got)
	}
}
