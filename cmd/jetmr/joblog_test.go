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
// --resume appends, so every item has a row, under one header.
func TestEachJoblogKeptOnResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var items []string
	for i := range 40 {
		items = append(items, fmt.Sprintf("n%02d", i))
	}
	writeFile(t, filepath.Join(dir, "items"), strings.Join(items, "\n"))
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	// Items from n12 on wait for the file "gate", made before the resume:
	// however slow the machine, the first run cannot finish before its
	// SIGINT.
	wait := `case "$1" in n0*|n10|n11) ;; *) while [ ! -e gate ]; do sleep 0.02; done ;; esac`
	args := []string{"each", "-q", "-k", "-j", "2", "--chunk-size", "1", "--store", t.TempDir(), "--job", "stopped", "-o", "out.txt",
		"--joblog", "log.tsv", "--items", "items", "--", "sh", "-c", wait, "sh", "{}"}
	cmd, stderr, waitFirst := startJetmr(t, dir, env, args...)
	eventually(t, runTimeout, "ten items done", func() (bool, string) {
		log, _ := os.ReadFile(filepath.Join(dir, "log.tsv"))
		return bytes.Count(log, []byte("\n")) > 10, string(log)
	})
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitFirst(); code != 130 {
		t.Fatalf("interrupted run exited %d; stderr:\n%s", code, stderr)
	}
	first, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "gate"), "")
	resume := slices.Insert(slices.Clone(args), 1, "--resume")
	_, stderr, waitResume := startJetmr(t, dir, env, resume...)
	if code := waitResume(); code != 0 {
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
	// An item that ended as the SIGINT came may have been handed back
	// rather than stored, and run again by the resume: it then has a row
	// in each run, both true. No run logs an item twice, and every item
	// has a row.
	firstRows := strings.Count(string(first), "\n") - 1
	rows := [2]map[string]int{{}, {}}
	for i, line := range lines[1:] {
		fields := strings.Split(line, "\t")
		if len(fields) != 9 {
			t.Fatalf("row %q has %d fields, want 9 (a second header?)", line, len(fields))
		}
		if fields[6] != "0" {
			t.Errorf("row %q: exit value %s, want 0", line, fields[6])
		}
		cmdline := strings.Fields(fields[8])
		run := 0
		if i >= firstRows {
			run = 1
		}
		rows[run][cmdline[len(cmdline)-1]]++
	}
	for _, item := range items {
		if rows[0][item] > 1 || rows[1][item] > 1 || rows[0][item]+rows[1][item] == 0 {
			t.Errorf("item %s has %d rows from the first run and %d from the resume, want at most 1 from each and at least 1 in all", item, rows[0][item], rows[1][item])
		}
	}
	if len(rows[0]) < 10 {
		t.Errorf("%d items logged by the first run, want the 10 it finished before its SIGINT", len(rows[0]))
	}
}

// TestJoblogAcceptedExit: an attempt whose command exited with a status
// --ok-exit accepts succeeds, and its job log row shows that status as
// Exitval, as GNU parallel's does, and so does the trace's exit field; the
// others show 0. Each task of pipe and mapreduce reads one file, the
// second of which holds "bad", on which the command exits 3.
func TestJoblogAcceptedExit(t *testing.T) {
	t.Parallel()
	files := []string{"a.txt", "b.txt", "c.txt"}
	tests := []struct {
		name string
		args []string
	}{
		{"each", []string{"each", "-j", "1", "--ok-exit", "0,3", "--", "sh", "-c", "exit {}", ":::", "0", "3", "0"}},
		{"pipe", append(append([]string{"pipe", "-j", "1", "-o", "out.txt", "--ok-exit", "0,3", "-i"}, files...), "--", "awk", "{ print } /bad/ { exit 3 }")},
		{"mapreduce", append([]string{"mapreduce", "-j", "1", "-o", "out", "--ok-exit", "3", "--map", "awk '{ print } /bad/ { exit 3 }'", "--reduce", "cat", "-i"}, files...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for i, f := range files {
				writeFile(t, filepath.Join(dir, f), []string{"good\n", "bad\n", "good\n"}[i])
			}
			args := slices.Concat([]string{tt.args[0], "-q", "--store", t.TempDir(), "--joblog", "j.tsv", "--trace", "t.json"}, tt.args[1:])
			if r := jetmr(t, dir, args...); r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			want := []int64{0, 3, 0}
			rows := readJobLog(t, filepath.Join(dir, "j.tsv"))
			if len(rows) != len(want) {
				t.Fatalf("%d job log rows, want %d: %+v", len(rows), len(want), rows)
			}
			for _, r := range rows {
				if r.exit != want[r.seq-1] || r.signal != 0 {
					t.Errorf("row %d (%s): Exitval %d, Signal %d; want %d, 0", r.seq, r.command, r.exit, r.signal, want[r.seq-1])
				}
			}
			_, trace := readTrace(t, filepath.Join(dir, "t.json"))
			if len(trace) != len(want) {
				t.Fatalf("%d trace events, want %d", len(trace), len(want))
			}
			for _, a := range trace {
				if int64(a.Exit) != want[*a.Index] || a.Failed {
					t.Errorf("trace of task %d: exit %d, failed %v; want %d, not failed", *a.Index, a.Exit, a.Failed, want[*a.Index])
				}
			}
		})
	}
}
