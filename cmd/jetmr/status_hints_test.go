package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStatusOfUnresumableJob: a job that read standard input, or wrote to
// stdout, cannot be resumed. When it fails, jetmr drops its state, so
// status knows nothing of it and the same command runs again. When it is
// killed (nothing could drop its state), status JOB does not offer
// --resume: it says why and prints the discard command, which works. The
// command it shows is quoted as a shell reads it.
func TestStatusOfUnresumableJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"stdin", []string{"-i", "-", "-o", "out.txt"}},
		{"stdout", []string{"-i", "in.txt"}},
	}
	for _, tt := range tests {
		t.Run("failed/"+tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writePoisoned(t, filepath.Join(dir, "in.txt"), 200, 100)
			store := filepath.Join(t.TempDir(), "store")
			id := "unresumable-" + tt.name
			args := append([]string{"pipe", "--store", store, "--job", id, "--retries", "0", "-q"}, tt.args...)
			args = append(append(args, "--"), poisonCommand...)
			r := jetmrStdin(t, dir, strings.NewReader(strings.Repeat("line\n", 50)+"POISON\n"), args...)
			if r.code != 1 {
				t.Fatalf("job exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "--resume") || strings.Contains(r.stderr, "jetmr discard") {
				t.Errorf("a job that cannot be resumed offers --resume or discard after it failed:\n%s", r.stderr)
			}
			if st := jetmr(t, dir, "status", "--store", store, id); st.code != 2 {
				t.Errorf("status of a failed job that cannot be resumed: exit %d, want 2 (nothing kept); stdout:\n%s", st.code, st.stdout)
			}
		})
	}
	t.Run("killed/stdout", func(t *testing.T) {
		t.Parallel()
		h, dir := newStateHome(t), t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte(strings.Repeat("line\n", 100)+"GATE\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(t.TempDir(), "store")
		id := "unresumable-killed"
		g := newGate(t, "0.02")
		args := append([]string{"pipe", "--store", store, "--job", id, "-q", "-i", "in.txt", "--"}, g.argv...)
		p := startProcEnv(t, dir, h.env, args...)
		eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
		p.Cmd.Process.Kill()
		p.Wait(t, runTimeout)
		g.release()
		st := jetmr(t, dir, "status", "--store", store, id)
		if st.code != 0 {
			t.Fatalf("status: exit %d; stderr:\n%s", st.code, st.stderr)
		}
		if strings.Contains(st.stdout, "--resume") || !strings.Contains(st.stdout, "wrote to stdout") {
			t.Errorf("status of a job that cannot be resumed offers --resume, or does not say it wrote to stdout:\n%s", st.stdout)
		}
		var shown string
		for _, line := range strings.Split(st.stdout, "\n") {
			if c, ok := strings.CutPrefix(line, "command:"); ok {
				shown = strings.TrimSpace(c)
			}
		}
		words, err := exec.Command("sh", "-c", `eval "set -- $1"; printf '%s\n' "$@"`, "sh", shown).Output()
		if got := strings.Split(strings.TrimSuffix(string(words), "\n"), "\n"); err != nil || !slices.Equal(got, g.argv) {
			t.Errorf("status shows the command as %q, which a shell reads as %q (%v), want %q", shown, got, err, g.argv)
		}
		runHintCommand(t, h, dir, discardHint(t, st.stdout))
		if r := jetmr(t, dir, "status", "--store", store, id); r.code != 2 {
			t.Errorf("status after the discard hint: exit %d, want 2 (unknown job); stdout:\n%s", r.code, r.stdout)
		}
	})
}

// TestReadmePipelineCommand runs the README's jetmr pipeline command as it
// is written, from the top of a copy of the repository's examples.
func TestReadmePipelineCommand(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.Contains(l, "jetmr pipeline ") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("README.md shows no jetmr pipeline command")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	top := t.TempDir()
	if err := os.CopyFS(filepath.Join(top, "examples"), os.DirFS(filepath.Join(repo, "examples"))); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"broker", "mapper"} { // the items of the example's each stage
		if err := os.CopyFS(filepath.Join(top, d), os.DirFS(filepath.Join(repo, d))); err != nil {
			t.Fatal(err)
		}
	}
	runHintCommand(t, newStateHome(t), top, line)
	if names := dirNames(t, filepath.Join(top, "examples", "out")); !slices.Equal(names, []string{".gitignore", "counts", "errors", "upper.log"}) {
		t.Errorf("after %q examples/out holds %q", line, names)
	}
}

// TestDiscardFreesWhatStatusShows: jetmr discard says it freed the disk
// status showed for the job, streams included, in a store shared by jobs
// and in a job's own store named with --store (the path status prints),
// which goes whole.
func TestDiscardFreesWhatStatusShows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		where func(h stateHome, id string) []string // where the job runs
		store func(h stateHome, id string) string   // the --store given to status and discard
	}{
		{"shared store", func(stateHome, string) []string { return []string{"--store", "st"} }, func(stateHome, string) string { return "st" }},
		{"own store", func(stateHome, string) []string { return nil }, func(h stateHome, id string) string { return filepath.Join(h.root, "jobs", id) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writePoisoned(t, in, 2000, 10)
			id := "freed"
			args := append([]string{"pipe", "-i", in, "-o", "out.txt", "--chunk-size", "4KiB", "--retries", "0", "--job", id, "-q"}, tt.where(h, id)...)
			if r := h.run(t, dir, append(append(args, "--"), poisonCommand...)...); r.code != 1 {
				t.Fatalf("job exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			store := tt.store(h, id)
			st := h.run(t, dir, "status", "--store", store, id)
			var disk string
			for _, line := range strings.Split(st.stdout, "\n") {
				if d, ok := strings.CutPrefix(line, "disk used:"); ok {
					disk = strings.TrimSpace(d)
				}
			}
			if st.code != 0 || disk == "" {
				t.Fatalf("status: exit %d, no disk used:\n%s%s", st.code, st.stdout, st.stderr)
			}
			r := h.run(t, dir, "discard", "--store", store, id)
			if want := fmt.Sprintf("discarded job %s; %s freed", id, disk); r.code != 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("discard: exit %d, want 0 and %q; stderr:\n%s", r.code, want, r.stderr)
			}
			if tt.name == "own store" {
				if _, err := os.Stat(store); !os.IsNotExist(err) {
					t.Errorf("the job's own store %s is still there after discard: %v", store, err)
				}
			}
		})
	}
}
