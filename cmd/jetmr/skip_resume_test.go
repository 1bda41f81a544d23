package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSkipBudgetRaisedOnResume fails a pipe job with more bad lines than
// --skip-bad-records allows: the printed command, run as printed, raises
// the limit with --resume --retry-failed and finishes the job with the
// output of the run over the input without the bad lines.
func TestSkipBudgetRaisedOnResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
	writePoison(t, in, clean, 6000, 11, 4200, 4201)
	store := t.TempDir()
	args := []string{"pipe", "--store", store, "-i", in, "-o", "out.txt", "--chunk-size", "8KiB", "--retries", "1",
		"--skip-bad-records", "2", "--job", "budget", "--", "awk", poisonScript}
	r := jetmr(t, dir, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "more than --skip-bad-records 2") {
		t.Fatalf("exit %d, want 1 naming the limit; stderr:\n%s", r.code, r.stderr)
	}
	line := hintAfter(r.stderr, "raise the limit and run the refused tasks again with:")
	if line == "" || !strings.Contains(line, "--skip-bad-records 3") || !strings.Contains(line, "--retry-failed") {
		t.Fatalf("no command raising the limit to 3 printed:\n%s", r.stderr)
	}
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, []string{"awk", poisonScript}, clean); string(got) != want {
		t.Fatalf("output after raising the limit differs from the run over the input without the bad lines")
	}
	if rejects := readRejects(t, filepath.Join(dir, "out.txt.rejected")); len(rejects) != 3 {
		t.Errorf("rejects file holds %d records, want 3: %v", len(rejects), rejects)
	}
}

// TestStatusNextStepWorks fails a job's task, then runs the job's command
// again with the flags jetmr status says to add: it completes the job.
// A job with failed tasks needs --retry-failed; plain --resume would fail
// again.
func TestStatusNextStepWorks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("some words here\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	args := []string{"pipe", "--store", store, "-i", in, "-o", "out.txt", "--retries", "0", "--job", "st1",
		"--", "sh", "-c", failThenCat, "started", filepath.Join(dir, "go")}
	if r := jetmr(t, dir, args...); r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	st := jetmr(t, dir, "status", "st1", "--store", store)
	m := regexp.MustCompile(`run the job's command again with (--job \S+ --resume(?: --retry-failed)?) added`).FindStringSubmatch(st.stdout)
	if st.code != 0 || m == nil {
		t.Fatalf("status: exit %d, no flags to continue the job:\n%s%s", st.code, st.stdout, st.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The flags go before "--", which starts the job's command.
	dash := slices.Index(args, "--")
	again := append(append(slices.Clone(args[:dash]), strings.Fields(m[1])...), args[dash:]...)
	// Drop the original --job ID: the status flags name it.
	i := slices.Index(again, "--job")
	again = slices.Delete(again, i, i+2)
	r := jetmr(t, dir, again...)
	if r.code != 0 {
		t.Fatalf("jetmr %q: exit %d; stderr:\n%s", again, r.code, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != strings.Repeat("some words here\n", 100) {
		t.Fatalf("output after continuing: %v\n%.200s", err, got)
	}
}

// TestReducerFailureHintWorks fails a mapreduce job's reducer command
// after every map task succeeded: jetmr prints the run's summary and the
// command that runs the reduce again, status counts every task done, and
// the printed command, once the reducer script is fixed, completes the
// job.
func TestReducerFailureHintWorks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a b\nc d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script("m.sh", `tr ' ' '\n' | sed 's/$/\t1/'`)
	script("r.sh", "echo reducer broke >&2; exit 4")
	store := t.TempDir()
	r := jetmr(t, dir, "mapreduce", "--store", store, "-i", "in.txt", "-o", "out", "--job", "rj", "--map", "./m.sh", "--reduce", "./r.sh")
	if r.code != 1 || !strings.Contains(r.stderr, "jetmr: job rj: 1 tasks") || !strings.Contains(r.stderr, "reducer broke") {
		t.Fatalf("exit %d, want 1 with the summary and the reducer's stderr; stderr:\n%s", r.code, r.stderr)
	}
	line := hintAfter(r.stderr, "run the reduce again, once the reducer is fixed (in its script, or a new --reduce), with:")
	if line == "" {
		t.Fatalf("no command to run the reduce again:\n%s", r.stderr)
	}
	if st := jetmr(t, dir, "status", "rj", "--store", store); !regexp.MustCompile(`tasks:\s+1/1 done`).MatchString(st.stdout) {
		t.Errorf("status does not count the tasks done:\n%s", st.stdout)
	}
	script("r.sh", "exec sort")
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	// The resumed run read nothing: status says whose bytes it shows.
	if st := jetmr(t, dir, "status", "rj", "--store", store); !regexp.MustCompile(`bytes:\s+0 B in, \S+ \S+ out \(last run\)`).MatchString(st.stdout) {
		t.Errorf("status does not label the resumed run's bytes as its own:\n%s", st.stdout)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "part-00000"))
	if err != nil || string(got) != "a\t1\nb\t1\nc\t1\nd\t1\n" {
		t.Fatalf("output: %v %q", err, got)
	}
}

// TestSkipFlagsListed checks that the help of every command that runs
// tasks lists --skip-bad-records and --rejects, in each's and migrate's
// case saying what their bad records are.
func TestSkipFlagsListed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd, what string
	}{{"each", "items whose command fails"}, {"migrate", "keys whose rows the SQL fails on"}, {"pipe", "bad records"}, {"mapreduce", "bad records"}} {
		t.Run(tc.cmd, func(t *testing.T) {
			t.Parallel()
			r := jetmr(t, t.TempDir(), tc.cmd, "--help")
			if r.code != 0 {
				t.Fatalf("%s --help: exit %d; stderr:\n%s", tc.cmd, r.code, r.stderr)
			}
			for _, flag := range []string{"--skip-bad-records", "--rejects", tc.what} {
				if !strings.Contains(r.stdout, flag) {
					t.Errorf("%s --help does not list %q:\n%s", tc.cmd, flag, r.stdout)
				}
			}
		})
	}
}

// TestSkippedNamedInInputOrder skips a bad line early in the input, in a
// task made slow to finish last, and one near its end: the warning names
// the early one first. Read from standard input, the rejects file names
// the input "-", as the user gave it.
func TestSkippedNamedInInputOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var in strings.Builder
	for i := 1; i <= 6000; i++ {
		switch i {
		case 11, 5990:
			fmt.Fprintf(&in, "BAD %d\n", i)
		case 12:
			in.WriteString("SLOW\n")
		default:
			fmt.Fprintf(&in, "%d\n", i)
		}
	}
	path := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(path, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `/^BAD/ { exit 3 } /^SLOW/ { system("sleep 0.3"); next } { print $0 * 2 }`
	r := jetmr(t, dir, "pipe", "--store", t.TempDir(), "-i", path, "-o", "out.txt", "--chunk-size", "8KiB", "--retries", "0",
		"--skip-bad-records", "2", "--", "awk", script)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if want := fmt.Sprintf("left out of the output (--skip-bad-records), first %s line 11 ", path); !strings.Contains(r.stderr, want) {
		t.Errorf("warning does not name line 11 first (%q):\n%s", want, r.stderr)
	}
	line := fmt.Sprintf("%s pipe --store %s -i - -o out2.txt --chunk-size 8KiB --retries 0 --skip-bad-records 2 -- awk '%s' < in.txt",
		bin, t.TempDir(), script)
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("from stdin: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	rejects := readRejects(t, filepath.Join(dir, "out2.txt.rejected"))
	if len(rejects) != 2 {
		t.Fatalf("rejects file holds %d records, want 2: %v", len(rejects), rejects)
	}
	for _, rj := range rejects {
		if rj["path"] != "-" {
			t.Errorf("reject of standard input names %v, want -", rj["path"])
		}
	}
	if rejects[0]["record"] != "BAD 11\n" {
		t.Errorf("first reject %v, want BAD 11", rejects[0])
	}
}
