package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
