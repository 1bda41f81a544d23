package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStatusOfUnresumableJob: a failed job that read standard input, or
// that wrote to stdout, cannot be resumed, so status JOB does not offer
// --resume: it says why and prints the discard command, which works. The
// command it shows is quoted as a shell reads it.
func TestStatusOfUnresumableJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		why  string
	}{
		{"stdin", []string{"-i", "-", "-o", "out.txt"}, "read standard input"},
		{"stdout", []string{"-i", "in.txt"}, "wrote to stdout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			writePoisoned(t, filepath.Join(dir, "in.txt"), 200, 100)
			store := filepath.Join(t.TempDir(), "store")
			id := "unresumable-" + tt.name
			args := append([]string{"pipe", "--store", store, "--job", id, "--retries", "0", "-q"}, tt.args...)
			args = append(append(args, "--"), poisonCommand...)
			var in strings.Builder
			for i := 0; i < 50; i++ {
				in.WriteString("line\n")
			}
			in.WriteString("POISON\n")
			r := jetmrStdin(t, dir, strings.NewReader(in.String()), args...)
			if r.code != 1 {
				t.Fatalf("job exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			st := jetmr(t, dir, "status", "--store", store, id)
			if st.code != 0 {
				t.Fatalf("status: exit %d; stderr:\n%s", st.code, st.stderr)
			}
			if strings.Contains(st.stdout, "--resume") || !strings.Contains(st.stdout, tt.why) {
				t.Errorf("status of a job that cannot be resumed offers --resume, or does not say it %s:\n%s", tt.why, st.stdout)
			}
			var shown string
			for _, line := range strings.Split(st.stdout, "\n") {
				if c, ok := strings.CutPrefix(line, "command:"); ok {
					shown = strings.TrimSpace(c)
				}
			}
			words, err := exec.Command("sh", "-c", `eval "set -- $1"; printf '%s\n' "$@"`, "sh", shown).Output()
			if got := strings.Split(strings.TrimSuffix(string(words), "\n"), "\n"); err != nil || !slices.Equal(got, poisonCommand) {
				t.Errorf("status shows the command as %q, which a shell reads as %q (%v), want %q", shown, got, err, poisonCommand)
			}
			runHintCommand(t, h, dir, discardHint(t, st.stdout))
			if r := jetmr(t, dir, "status", "--store", store, id); r.code != 2 {
				t.Errorf("status after the discard hint: exit %d, want 2 (unknown job); stdout:\n%s", r.code, r.stdout)
			}
		})
	}
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
