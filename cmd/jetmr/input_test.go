package main_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestResumeRefusesChangedInput crashes a pipe job half-way, changes its
// input, and resumes: every change, even one that keeps the size, is
// refused with exit 2 naming the file and what changed, and no output
// appears. Resuming would otherwise mix the two versions of the file.
func TestResumeRefusesChangedInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   string
	}{
		{"edited in place keeping its size", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("EDITED"), 100); err != nil {
				t.Fatal(err)
			}
		}, "modification time changed"},
		{"replaced by a copy", func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tmp := path + ".new"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, "replaced by another file"},
		{"appended to", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("one more line\n"); err != nil {
				t.Fatal(err)
			}
		}, "size changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 512<<10, 41)
			env := []string{"XDG_STATE_HOME=" + t.TempDir()}
			args := []string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "edit", "-i", in,
				"-o", "out.txt", "--chunk-size", "16KiB", "-j", "2", "--", "tr", "a-z", "A-Z"}
			_, stderr, wait := startJetmr(t, dir, append(env, "JETMR_CRASHPOINT=task.stored:4"), args...)
			if code := wait(); code != 128+int(syscall.SIGKILL) {
				t.Fatalf("jetmr exited %d instead of being killed at task.stored:4; stderr:\n%s", code, stderr)
			}
			tt.change(t, in)
			resume := append([]string{args[0], "--resume"}, args[1:]...)
			_, stderr, wait = startJetmr(t, dir, env, resume...)
			if code := wait(); code != 2 {
				t.Fatalf("resume after the input changed: exit %d, want 2; stderr:\n%s", code, stderr)
			}
			for _, w := range []string{in, tt.want, "without --resume"} {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
				t.Errorf("out.txt exists after a refused resume (stat: %v)", err)
			}
		})
	}
}

// writeGatedInput writes the line GATE, then numbered lines up to about
// size bytes: the first chunk holds the gate.
func writeGatedInput(t *testing.T, path string, size int) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("GATE\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%06d the quick brown fox jumps over the lazy dog\n", i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInputChangedWhileRunning edits the input in place, keeping its
// size, after the splitter read it and before workers read the later
// chunks: the job fails (exit 1) saying the file changed, and publishes no
// output rather than one mixing two versions of the file.
func TestInputChangedWhileRunning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args func(g *gate) []string
		out  string
	}{
		{"pipe", func(g *gate) []string {
			return append([]string{"pipe", "-o", "out.txt"}, append([]string{"--"}, g.argv...)...)
		}, "out.txt"},
		{"mapreduce", func(g *gate) []string {
			return []string{"mapreduce", "-o", "out", "--map", strings.Join(g.argv, " "), "--reduce", "count"}
		}, "out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writeGatedInput(t, in, 256<<10)
			g := newGate(t, "0")
			args := tt.args(g)
			args = append([]string{args[0], "--store", filepath.Join(dir, "store"), "-i", in, "--chunk-size", "16KiB", "-j", "1"}, args[1:]...)
			run := startWatched(t, dir, args...)
			eventually(t, 20*time.Second, "gated first task", func() (bool, string) { return g.started(), run.stderr.String() })
			f, err := os.OpenFile(in, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt([]byte("CHANGED"), 128<<10)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			g.release()
			if code := run.wait(t); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, run.stderr.String())
			}
			for _, w := range []string{in, "changed after it was split"} {
				if !strings.Contains(run.stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, run.stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, tt.out)); !os.IsNotExist(err) {
				t.Errorf("output %s exists after the input changed (stat: %v)", tt.out, err)
			}
		})
	}
}
