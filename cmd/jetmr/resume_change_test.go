package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stopWithTasksLeft runs a pipe job whose input holds the gate line a
// third of the way in, on one slot, and interrupts it while that chunk
// runs: the job stops with the tasks before it done and those after it
// never run. It returns the job's arguments up to "--".
func stopWithTasksLeft(t *testing.T, h stateHome, dir, id string, g *gate) []string {
	t.Helper()
	var b strings.Builder
	for i := range 3000 {
		if i == 1000 {
			b.WriteString("GATE\n")
		}
		fmt.Fprintf(&b, "%05d line one of many\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	head := []string{"pipe", "-q", "-i", "in.txt", "-o", "out.txt", "--chunk-size", "4KiB", "-j", "1", "--job", id}
	p := startProcEnv(t, dir, h.env, append(append(head, "--"), g.argv...)...)
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	p.Signal(syscall.SIGINT)
	g.release()
	if code := p.Wait(t, runTimeout); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130; stderr:\n%s", code, p.Stderr)
	}
	return head
}

// TestRetryFailedRefusesChangedCommandWithTasksLeft: --retry-failed may
// change the command to run failed tasks again, but a stopped job whose
// tasks never ran would run them under the new command next to those the
// old one finished. The resume is refused with exit 2, naming the change,
// and writes nothing; both ways out it names work: resuming with the job's
// own command, or dropping the job (its jetmr discard hint) and running the
// new command afresh.
func TestRetryFailedRefusesChangedCommandWithTasksLeft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fix   func(t *testing.T, h stateHome, dir string, head, oldArgv []string, refusal string) result
		upper bool // the output is the old command's (upper case), else the new one's (cat)
	}{
		{"resume with the job's own command", func(t *testing.T, h stateHome, dir string, head, oldArgv []string, _ string) result {
			return h.run(t, dir, append(append(append(head, "--resume"), "--"), oldArgv...)...)
		}, true},
		{"discard, then the new command afresh", func(t *testing.T, h stateHome, dir string, head, _ []string, refusal string) result {
			runHintCommand(t, h, dir, discardHint(t, refusal))
			return h.run(t, dir, append(head, "--", "cat")...)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir, g := newStateHome(t), t.TempDir(), newGate(t, "0.05")
			head := stopWithTasksLeft(t, h, dir, "changed", g)
			r := h.run(t, dir, append(append(head, "--resume", "--retry-failed"), "--", "cat")...)
			if r.code != 2 || !strings.Contains(r.stderr, "the command was") || !strings.Contains(r.stderr, "have not run") {
				t.Fatalf("--retry-failed with another command and tasks left: exit %d, want 2 naming the change; stderr:\n%s", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
				t.Fatalf("the refused resume published out.txt")
			}
			g.release()
			if r := tt.fix(t, h, dir, head, g.argv, r.stderr); r.code != 0 {
				t.Fatalf("%s: exit %d; stderr:\n%s", tt.name, r.code, r.stderr)
			}
			in, _ := os.ReadFile(filepath.Join(dir, "in.txt"))
			want := string(in)
			if tt.upper {
				want = strings.ToUpper(want)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != want {
				t.Errorf("out.txt: %v, %d bytes (%d upper-case lines), want the input through one command (upper case %v)",
					err, len(got), strings.Count(string(got), "LINE"), tt.upper)
			}
		})
	}
}

// TestPipelineRefusesChangedStageCommandWithTasksLeft: a stopped pipeline
// whose stage's command was edited is refused before any stage runs (exit
// 2), with --retry-failed too while tasks of the stage are left to run,
// and no refusal suggests --retry-failed as the way on. Putting the
// stage's command back, as the refusal says, then resumes it to the end.
func TestPipelineRefusesChangedStageCommandWithTasksLeft(t *testing.T) {
	t.Parallel()
	h, dir, g := newStateHome(t), t.TempDir(), newGate(t, "0.05")
	var b strings.Builder
	for i := range 3000 {
		if i == 1000 {
			b.WriteString("GATE\n")
		}
		fmt.Fprintf(&b, "%05d line one of many\n", i)
	}
	in := b.String()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	stage := func(command string) {
		writeJobFile(t, dir, `
stages:
  - name: up
    pipe: {input: [in.txt], output: out.txt, chunk_size: 4KiB, command: `+command+`}
`)
	}
	stage(fmt.Sprintf("[sh, %q, %q, %q]", g.argv[1], g.argv[2], g.argv[3]))
	p := startProcEnv(t, dir, h.env, "pipeline", "-j", "1", "--job", "pchg", "job.yaml")
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	p.Signal(syscall.SIGINT)
	g.release()
	if code := p.Wait(t, runTimeout); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130; stderr:\n%s", code, p.Stderr)
	}
	gated := fmt.Sprintf("[sh, %q, %q, %q]", g.argv[1], g.argv[2], g.argv[3])
	stage("[cat]")
	for _, extra := range [][]string{nil, {"--retry-failed"}} {
		args := append(append([]string{"pipeline", "-j", "1", "--job", "pchg", "--resume"}, extra...), "job.yaml")
		r := h.run(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "stage up") || !strings.Contains(r.stderr, "the command was") ||
			strings.Contains(r.stderr, "started") || strings.Contains(r.stderr, "--resume --retry-failed") || strings.Contains(r.stderr, "jetmr discard") {
			t.Fatalf("resume %v of an edited stage: exit %d, want 2 naming the change, before any stage started, suggesting no --retry-failed; stderr:\n%s",
				extra, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Fatalf("a refused resume published out.txt")
	}
	stage(gated)
	if r := h.run(t, dir, "pipeline", "-j", "1", "--job", "pchg", "--resume", "job.yaml"); r.code != 0 {
		t.Fatalf("resume with the stage's command put back: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got, want := fileText(t, filepath.Join(dir, "out.txt")), strings.ToUpper(in); got != want {
		t.Errorf("out.txt: %d bytes (%d upper-case lines), want the input upper-cased by the stage's own command (%d bytes)", len(got), strings.Count(got, "LINE"), len(want))
	}
}
