package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// eachBadScript prints its item, except for items ending in 7, on which
// it writes to stderr and exits 3 on every attempt.
const eachBadScript = `case $1 in *7) echo "bad $1" >&2; exit 3;; esac; echo "item $1"`

// eachItems writes the items 1 to n to path, and those not ending in 7
// to clean; it returns the bad ones.
func eachItems(t *testing.T, path, clean string, n int) []string {
	t.Helper()
	var all, good strings.Builder
	var bad []string
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&all, "%d\n", i)
		if i%10 == 7 {
			bad = append(bad, fmt.Sprint(i))
			continue
		}
		fmt.Fprintf(&good, "%d\n", i)
	}
	if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clean, []byte(good.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

// eachCleanRun runs the command of the tests over the clean items and
// returns its output file's contents.
func eachCleanRun(t *testing.T, dir, clean string) string {
	t.Helper()
	r := jetmr(t, dir, "each", "--store", t.TempDir(), "-k", "--items", clean, "-o", "clean.out", "--chunk-size", "5",
		"--", "sh", "-c", eachBadScript, "sh")
	if r.code != 0 {
		t.Fatalf("the run over the items without the bad ones: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "clean.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkItemRejects checks that the rejects file at path names each of the
// bad items once, in item order, with its number, exit status and
// output.
func checkItemRejects(t *testing.T, path string, bad []string) {
	t.Helper()
	rejects := readRejects(t, path)
	var items []string
	for _, r := range rejects {
		item, _ := r["item"].(string)
		items = append(items, item)
		if fmt.Sprint(r["seq"]) != item { // item i is the i-th
			t.Errorf("reject %v: seq is not the item's number", r)
		}
		if r["exit_status"] != 3.0 || r["output_tail"] != "bad "+item+"\n" {
			t.Errorf("reject %v: want exit status 3 and its output", r)
		}
	}
	if !slices.Equal(items, bad) {
		t.Errorf("rejected items %v, want %v, each once, in order", items, bad)
	}
}

// TestEachSkipBadRecords runs an each job whose command fails on four
// items, with -o: within the limit, the job exits 0 with a warning, its
// output is that of the run over the items without them, byte for byte,
// the join runs over the other items, and OUT.rejected names the four.
// With the items' output on stdout, --rejects names the file.
func TestEachSkipBadRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "items.txt"), filepath.Join(dir, "clean.txt")
	bad := eachItems(t, in, clean, 40)
	want := eachCleanRun(t, dir, clean)

	r := jetmr(t, dir, "each", "--store", t.TempDir(), "-k", "--items", in, "-o", "out.txt", "--chunk-size", "5", "--retries", "1",
		"--skip-bad-records", "4", "--join", "wc -l", "--", "sh", "-c", eachBadScript, "sh")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `warning: 4 bad record(s) left out of the output (--skip-bad-records), first item 7 "7"`) {
		t.Errorf("no warning counting the 4 items and naming the first:\n%s", r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != want {
		t.Errorf("output differs from the run over the items without the bad ones: %v\n%s", err, got)
	}
	if strings.TrimSpace(r.stdout) != "36" {
		t.Errorf("the join counted %q items, want the 36 kept", r.stdout)
	}
	checkItemRejects(t, filepath.Join(dir, "out.txt.rejected"), bad)

	r = jetmr(t, dir, "each", "--store", t.TempDir(), "-k", "--items", in, "--chunk-size", "5", "--retries", "0",
		"--skip-bad-records", "4", "--rejects", "rej.jsonl", "--", "sh", "-c", eachBadScript, "sh")
	if r.code != 0 {
		t.Fatalf("to stdout: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r.stdout != want {
		t.Errorf("stdout differs from the run over the items without the bad ones:\n%s", r.stdout)
	}
	checkItemRejects(t, filepath.Join(dir, "rej.jsonl"), bad)
}

// TestEachSkipBudgetRaisedOnResume fails an each job with one bad item
// more than --skip-bad-records allows: no output appears, and the
// printed command, run as printed, raises the limit and completes the job
// with the output of the run over the items without the bad ones.
func TestEachSkipBudgetRaisedOnResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "items.txt"), filepath.Join(dir, "clean.txt")
	bad := eachItems(t, in, clean, 40)
	want := eachCleanRun(t, dir, clean)
	r := jetmr(t, dir, "each", "--store", t.TempDir(), "-k", "--items", "items.txt", "-o", "out.txt", "--chunk-size", "5",
		"--retries", "0", "--skip-bad-records", "3", "--job", "eachbudget", "--", "sh", "-c", eachBadScript, "sh")
	if r.code != 1 || !strings.Contains(r.stderr, "more than --skip-bad-records 3") {
		t.Fatalf("exit %d, want 1 naming the limit; stderr:\n%s", r.code, r.stderr)
	}
	for _, name := range []string{"out.txt", "out.txt.rejected"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s written by a job that failed", name)
		}
	}
	line := hintAfter(r.stderr, "raise the limit and run the refused tasks again with:")
	if line == "" || !strings.Contains(line, "--skip-bad-records 4") || !strings.Contains(line, "--retry-failed") {
		t.Fatalf("no command raising the limit to 4 printed:\n%s", r.stderr)
	}
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != want {
		t.Errorf("output after raising the limit differs from the run over the items without the bad ones: %v\n%s", err, got)
	}
	checkItemRejects(t, filepath.Join(dir, "out.txt.rejected"), bad)
}

// TestEachSkipCrashResume SIGKILLs an each job in skip mode after a task
// ran (before its result was stored, or after) and resumes it: the
// output is that of the run over the items without the bad ones, and the
// rejects file names each bad item once.
func TestEachSkipCrashResume(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"task.processed:3", "task.published:3"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, clean := filepath.Join(dir, "items.txt"), filepath.Join(dir, "clean.txt")
			bad := eachItems(t, in, clean, 40)
			want := eachCleanRun(t, dir, clean)
			args := []string{"each", "--store", filepath.Join(dir, "store"), "--job", "eachcrash", "-k", "--items", in, "-o", "out.txt",
				"--chunk-size", "5", "--retries", "0", "--skip-bad-records", "4", "--", "sh", "-c", eachBadScript, "sh"}
			res := killAtThenResume(t, dir, point, args, nil)
			if res.hung || res.code != 0 {
				t.Fatalf("resume after a crash at %s: exit %d (hung: %v); stderr:\n%s", point, res.code, res.hung, res.stderr)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != want {
				t.Errorf("output after the resume differs from the run over the items without the bad ones: %v\n%s", err, got)
			}
			checkItemRejects(t, filepath.Join(dir, "out.txt.rejected"), bad)
		})
	}
}

// TestEachSkipBadInput checks the misuses of --skip-bad-records on each:
// exit 2, naming the flag and the fix, before any job starts, and an
// existing rejects file left untouched.
func TestEachSkipBadInput(t *testing.T) {
	t.Parallel()
	taken := t.TempDir() // files that exist, out of the job's folder
	for _, name := range []string{"taken.jsonl", "taken.rejected"} {
		if err := os.WriteFile(filepath.Join(taken, name), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // once the parallel subtests are done
		for _, name := range []string{"taken.jsonl", "taken.rejected"} {
			if data, _ := os.ReadFile(filepath.Join(taken, name)); string(data) != "mine\n" {
				t.Errorf("the existing file %s changed: %q", name, data)
			}
		}
	})
	each := func(extra ...string) []string {
		return append(append([]string{"each"}, extra...), "--", "echo", ":::", "a")
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"negative", each("-o", "out.txt", "--skip-bad-records", "-1"), []string{"--skip-bad-records -1 is not valid"}},
		{"not a number", each("-o", "out.txt", "--skip-bad-records", "x"), []string{`invalid argument "x" for "--skip-bad-records"`}},
		{"standard output", each("--skip-bad-records", "1"), []string{"add --rejects FILE"}},
		{"rejects is the output", each("-o", "out.txt", "--skip-bad-records", "1", "--rejects", "out.txt"), []string{"--rejects out.txt is the output"}},
		{"existing rejects", each("-o", "out.txt", "--skip-bad-records", "1", "--rejects", filepath.Join(taken, "taken.jsonl")), []string{"taken.jsonl already exists", "--force"}},
		{"existing default rejects", each("-o", filepath.Join(taken, "taken"), "--skip-bad-records", "1"), []string{"taken.rejected already exists", "--force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{tc.args[0], "--store", filepath.Join(t.TempDir(), "store")}, tc.args[1:]...)
			checkRefused(t, dir, jetmr(t, dir, args...), tc.want)
		})
	}
}

// TestEachSeqIsPlaceInList pins what docs/each.md says of {#}: an item's
// place in the item list, as GNU parallel's sequence number of the job.
// An item left out by --skip-bad-records leaves a gap in the numbers the
// output shows, and a blank line of --items, no item, takes no number.
func TestEachSeqIsPlaceInList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "items"), "a\n\nb\nc\n")
	r := jetmr(t, dir, "each", "-q", "--store", t.TempDir(), "-k", "--items", "items", "--skip-bad-records", "1", "--rejects", "rej.jsonl",
		"--", "sh", "-c", `test "$1" != b && echo "$0 $1"`, "{#}", "{}")
	if r.code != 0 || r.stdout != "1 a\n3 c\n" {
		t.Fatalf("exit %d, printed %q, want 0 and %q; stderr:\n%s", r.code, r.stdout, "1 a\n3 c\n", r.stderr)
	}
	if rej := readRejects(t, filepath.Join(dir, "rej.jsonl")); len(rej) != 1 || rej[0]["seq"] != 2.0 || rej[0]["item"] != "b" {
		t.Errorf("rejects %v, want item b with seq 2", rej)
	}
}
