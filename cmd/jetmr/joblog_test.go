package main_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestEachJoblogKeptOnResume interrupts an each job with SIGINT part-way
// and resumes it with the same --joblog: the log keeps the rows of the
// items the first run finished and gains the others', as GNU parallel's
// --resume appends, so every item has exactly one row, under one header.
func TestEachJoblogKeptOnResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var items []string
	for i := range 40 {
		items = append(items, fmt.Sprintf("n%02d", i))
	}
	writeFile(t, filepath.Join(dir, "items"), strings.Join(items, "\n"))
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	args := []string{"each", "-q", "-k", "-j", "2", "--chunk-size", "1", "--store", t.TempDir(), "--job", "stopped", "-o", "out.txt",
		"--joblog", "log.tsv", "--items", "items", "--", testcmd(t), "sleep", "50ms", "{}"}
	cmd, stderr, wait := startJetmr(t, dir, env, args...)
	eventually(t, runTimeout, "ten items done", func() (bool, string) {
		log, _ := os.ReadFile(filepath.Join(dir, "log.tsv"))
		return bytes.Count(log, []byte("\n")) > 10, string(log)
	})
	cmd.Process.Signal(syscall.SIGINT)
	if code := wait(); code != 130 {
		t.Fatalf("interrupted run exited %d; stderr:\n%s", code, stderr)
	}
	first, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	resume := slices.Insert(slices.Clone(args), 1, "--resume")
	_, stderr, wait = startJetmr(t, dir, env, resume...)
	if code := wait(); code != 0 {
		t.Fatalf("resumed run exited %d; stderr:\n%s", code, stderr)
	}
	log, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(log, first) {
		t.Errorf("the resumed run did not keep the first run's rows:\nfirst run:\n%s\nafter the resume:\n%s", first, log)
	}
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	if lines[0] != jobLogHeader {
		t.Fatalf("first line %q, want the header", lines[0])
	}
	rows := map[string]int{}
	for _, line := range lines[1:] {
		fields := strings.Split(line, "\t")
		if len(fields) != 9 {
			t.Fatalf("row %q has %d fields, want 9 (a second header?)", line, len(fields))
		}
		if fields[6] != "0" {
			t.Errorf("row %q: exit value %s, want 0", line, fields[6])
		}
		cmdline := strings.Fields(fields[8])
		rows[cmdline[len(cmdline)-1]]++
	}
	for _, item := range items {
		if rows[item] != 1 {
			t.Errorf("item %s has %d rows, want 1", item, rows[item])
		}
	}
}
