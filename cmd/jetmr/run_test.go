package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeDigits writes a file of about size bytes of lines with digits.
func writeDigits(t *testing.T, dir string, size int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString("line ")
		b.WriteString(strings.Repeat(string(rune('0'+i%10)), 1+i%70))
		b.WriteString(" end\n")
	}
	path := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPipeStalledStdoutReader runs pipe to stdout with a reader that
// reads nothing for longer than the lost-task watchdog used to allow (two
// looks of 5s): every task is done and stored, the merge waits on the
// reader, and nothing is lost. The job must finish with exit 0 and the
// whole output.
func TestPipeStalledStdoutReader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeDigits(t, dir, 4<<20)
	want := sequential(t, []string{"tr", "0-9", "a-j"}, in)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "pipe", "--store", t.TempDir(), "-i", in, "-j", "2", "--chunk-size", "256KiB",
		"--", "tr", "0-9", "a-j")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("jetmr exited (%v) while its stdout was not read; stderr:\n%s", err, stderr.String())
	case <-time.After(16 * time.Second):
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	err = <-exited
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) || err != nil {
		t.Fatalf("jetmr ended with %v after a stalled reader, want exit 0; stderr:\n%s", err, stderr.String())
	}
	if string(got) != want {
		t.Fatalf("output has %d bytes, want %d", len(got), len(want))
	}
}

// TestReducerCommandStderrShown runs a reducer command that fails: its
// stderr is shown, as a mapper command's is in its dead letter.
func TestReducerCommandStderrShown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "mapreduce", "--store", t.TempDir(), "-i", td(t, "crlf.txt"), "-o", "out",
		"--map", "wordcount", "--reduce", "sh -c 'cat >/dev/null; echo the reducer broke >&2; exit 4'")
	if r.code != 1 || !strings.Contains(r.stderr, "jetmr:   stderr: the reducer broke") {
		t.Fatalf("exit %d, want 1 with the reducer's stderr; stderr:\n%s", r.code, r.stderr)
	}
}

// TestFoldOfNonNumberFailsFast runs sum over values that are not numbers:
// a retry cannot fix that, so the task fails on its first attempt, naming
// the value.
func TestFoldOfNonNumberFailsFast(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("k\t1\nk\tabc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "mapreduce", "--store", t.TempDir(), "-i", in, "-o", "out", "--map", "cat", "--reduce", "sum")
	if r.code != 1 || !strings.Contains(r.stderr, "after 1 attempt(s)") || !strings.Contains(r.stderr, `value "abc" is not a number`) {
		t.Fatalf("exit %d, want 1 with a dead letter after 1 attempt naming the value; stderr:\n%s", r.code, r.stderr)
	}
}

// TestJobLogQuotesCommand checks the job log's Command column: the words
// of the command as a shell reads them back, as GNU parallel writes it.
func TestJobLogQuotesCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "each", "--store", t.TempDir(), "--joblog", "log.tsv", "--", "echo", "{}", ":::", "b c", "it's")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		fields := strings.Split(line, "\t")
		commands = append(commands, fields[len(fields)-1])
	}
	slices.Sort(commands)
	if want := []string{`echo 'b c'`, `echo 'it'\''s'`}; !slices.Equal(commands, want) {
		t.Errorf("job log commands %q, want %q", commands, want)
	}
}
