package main_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestStagedOutputNotRead leaves the staged output of an interrupted job
// in a directory, then runs a job over that directory: it reads the
// directory's own files only, never jetmr's staging file.
func TestStagedOutputNotRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.txt")
	genText(t, src, 512<<10, 5)
	sd := filepath.Join(dir, "sd")
	if err := os.Mkdir(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(sd, "a")
	genText(t, a, 64<<10, 6)
	staged := filepath.Join(sd, ".out.jetmr-stopped.tmp")
	args := []string{"pipe", "-q", "--store", filepath.Join(t.TempDir(), "store"), "--job", "stopped", "-i", src, "-o", "sd/out",
		"--chunk-size", "16KiB", "-j", "1", "--", "sh", "-c", "sleep 0.05; cat"}
	for run := 0; ; run++ {
		if run == 6 {
			t.Fatalf("no run left a staged output with data in %s", sd)
		}
		if run > 0 {
			args = append(args[:len(args)-5:len(args)-5], "--resume", "--", "sh", "-c", "sleep 0.05; cat")
		}
		cmd, stderr, wait := startJetmr(t, dir, nil, args...)
		deadline := time.Now().Add(runTimeout)
		for {
			if _, err := os.Stat(staged); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Merged chunks reach the staged file when the job stops: give
		// each run longer before the interruption, until one leaves data.
		time.Sleep(time.Duration(run+1) * 200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		if code := wait(); code != 130 {
			t.Fatalf("jetmr exited %d, want 130 for an interrupted job; stderr:\n%s", code, stderr)
		}
		if fi, err := os.Stat(staged); err == nil && fi.Size() > 0 {
			break
		}
	}
	r := jetmr(t, dir, "pipe", "-q", "--store", filepath.Join(t.TempDir(), "store"), "-i", "sd", "--", "cat")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	want, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(want) {
		t.Errorf("the job read %d bytes, want the %d bytes of %s alone", len(r.stdout), len(want), a)
	}
}

// TestDuplicateInputsRefused checks that two inputs reaching one file are
// refused with exit 2 naming them, by every command that reads files:
// read once, the file would give other results than a command run over
// the same paths (cat r.txt r.txt).
func TestDuplicateInputsRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	r := filepath.Join(src, "r.txt")
	genText(t, r, 4<<10, 8)
	d := filepath.Join(src, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(d, "f.txt")
	genText(t, f, 4<<10, 9)
	link := filepath.Join(src, "link.txt")
	if err := os.Symlink(r, link); err != nil {
		t.Fatal(err)
	}
	mapreduce := func(in ...string) []string {
		args := []string{"mapreduce"}
		for _, p := range in {
			args = append(args, "-i", p)
		}
		return append(args, "-o", "counts", "--map", "wordcount", "--reduce", "sum")
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"pipe, a file twice", []string{"pipe", "-i", r, "-i", r, "--", "cat"}, []string{r, "given twice"}},
		{"pipe, a file twice before --", []string{"pipe", r, r, "--", "cat"}, []string{r, "given twice"}},
		{"pipe, a directory and a file in it", []string{"pipe", "-i", d, "-i", f, "--", "cat"}, []string{d, f}},
		{"pipe, a file and its directory", []string{"pipe", "-i", f, "-i", d, "--", "cat"}, []string{d, f}},
		{"pipe, a file and a link to it", []string{"pipe", "-i", r, "-i", link, "--", "cat"}, []string{r, link}},
		{"mapreduce, a file twice", mapreduce(r, r), []string{r, "given twice"}},
		{"mapreduce, a directory and a file in it", mapreduce(d, f), []string{d, f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			args := append([]string{tc.args[0], "--store", store}, tc.args[1:]...)
			checkRefused(t, dir, jetmr(t, dir, args...), tc.want)
		})
	}
}
