package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/testcmd/testcmdbuild"
)

// testcmd is the path of the helper program the each tests run per item.
func testcmd(t *testing.T) string {
	t.Helper()
	p, err := testcmdbuild.Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostile are items a shell would split, expand or run; none holds a
// newline, so that they can be written one per line.
var hostile = []string{
	"plain", "with space", `double "quotes"`, "single 'quotes'", "$(touch pwned)", "`touch pwned`",
	"a; touch pwned", "*", "-rf", "--help", "{}", "tab\there", `back\slash`, "$HOME", "> pwned", "| tee pwned", "&& touch pwned",
}

// TestEachArgv checks, for items from a file (per line and NUL-separated,
// with newlines inside) and after :::, that each arrives as exactly one
// argument and nothing in it runs.
func TestEachArgv(t *testing.T) {
	t.Parallel()
	withNewlines := append(slices.Clone(hostile), "new\nline", "\nleading newline")
	cases := []struct {
		name  string
		items []string
		args  func(dir string) []string
	}{
		{"lines", hostile, func(dir string) []string {
			writeFile(t, filepath.Join(dir, "items"), strings.Join(hostile, "\n")+"\n")
			return []string{"--items", "items"}
		}},
		{"null", withNewlines, func(dir string) []string {
			writeFile(t, filepath.Join(dir, "items"), strings.Join(withNewlines, "\x00"))
			return []string{"-0", "--items", "items"}
		}},
		{"after command", hostile, func(string) []string { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"each", "-q", "-k", "--store", t.TempDir()}, tc.args(dir)...)
			args = append(args, "--", testcmd(t), "argv", "{}", "{#}")
			if tc.name == "after command" {
				args = append(args, append([]string{":::"}, tc.items...)...)
			}
			r := jetmr(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			for i, item := range tc.items {
				var got []string
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("item %d: %v; stdout:\n%s", i, err, r.stdout)
				}
				if want := []string{item, strconv.Itoa(i + 1)}; !slices.Equal(got, want) {
					t.Errorf("item %d: argv %q, want %q", i, got, want)
				}
			}
			if names := dirNames(t, dir); slices.ContainsFunc(names, func(n string) bool { return n != "items" }) {
				t.Errorf("an item was executed: %q appeared", names)
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEachGroupsAndJobLog runs 200 items printing 100 lines each to stdout
// and stderr with -k: the groups come whole and in item order, and the job
// log has one line per item with its exit status.
func TestEachGroupsAndJobLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var items []string
	for i := range 200 {
		items = append(items, fmt.Sprintf("it%03d", i))
	}
	writeFile(t, filepath.Join(dir, "items"), strings.Join(items, "\n"))
	r := jetmr(t, dir, "each", "-q", "-k", "--store", t.TempDir(), "--items", "items", "--joblog", "log.tsv", "--report", "run.json",
		"--", testcmd(t), "lines", "100", "{}")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 200*100 {
		t.Fatalf("%d lines, want %d", len(lines), 200*100)
	}
	for i, line := range lines {
		if want := fmt.Sprintf("%s %d", items[i/100], i%100); line != want {
			t.Fatalf("line %d is %q, want %q: groups interleave or are out of order", i, line, want)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(log)), "\n")[1:]
	seqs := map[string]bool{}
	for _, row := range rows {
		f := strings.Split(row, "\t")
		if f[6] != "0" || !strings.HasSuffix(f[8], "lines 100 "+items[mustAtoi(t, f[0])-1]) {
			t.Errorf("job log row %q: want exit 0 and the item's command", row)
		}
		seqs[f[0]] = true
	}
	if len(rows) != 200 || len(seqs) != 200 {
		t.Errorf("job log: %d rows for %d items, want one per item", len(rows), len(seqs))
	}
	if rep := readReport(t, filepath.Join(dir, "run.json")); rep["items"] != float64(200) {
		t.Errorf("report items %v, want 200", rep["items"])
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEachFailure checks exit 1, the dead letter naming the item, its
// exit status and output, the job log's exit status, and no join.
func TestEachFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "each", "-q", "-k", "--store", t.TempDir(), "--retries", "1", "--joblog", "log.tsv", "--join", "touch joined",
		"--", testcmd(t), "fail-on", "b c", "{}", ":::", "a", "b c", "d")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if r.stdout != "item a\nitem b c\nfailing on purpose\nitem d\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	for _, want := range []string{`item 2 "b c" after 2 attempt(s)`, "exited with status 3", "stderr: failing on purpose", "--resume --retry-failed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if n := strings.Count(string(log), "\t3\t0\t"); n != 2 {
		t.Errorf("job log has %d attempts with exit 3, want 2:\n%s", n, log)
	}
	if _, err := os.Stat(filepath.Join(dir, "joined")); err == nil {
		t.Error("the join ran although an item failed")
	}
}

// TestEachModuleList runs gofmt -l in every package directory of this
// repository (and one with a badly formatted file) with --dir {}: the
// joined result equals running it in each directory in turn.
func TestEachModuleList(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !slices.Contains(dirs, filepath.Dir(path)) {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ugly := t.TempDir()
	writeFile(t, filepath.Join(ugly, "ugly.go"), "package ugly\nfunc  F( ) {}\n")
	dirs = append(dirs, ugly)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "dirs"), strings.Join(dirs, "\n"))
	r := jetmr(t, work, "each", "-q", "-k", "--store", t.TempDir(), "--items", "dirs", "--dir", "{}",
		"--join", "cp {} "+filepath.Join(work, "joined.jsonl"), "--", "gofmt", "-l", ".")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	var seq strings.Builder
	data, err := os.ReadFile(filepath.Join(work, "joined.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(recs) != len(dirs) {
		t.Fatalf("%d join records for %d directories", len(recs), len(dirs))
	}
	for i, d := range dirs {
		cmd := exec.Command("gofmt", "-l", ".")
		cmd.Dir = d
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gofmt in %s: %v", d, err)
		}
		seq.Write(out)
		var rec struct {
			Seq    int    `json:"seq"`
			Item   string `json:"item"`
			Exit   int    `json:"exit"`
			Output string `json:"output"`
		}
		if err := json.Unmarshal([]byte(recs[i]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Seq != i+1 || rec.Item != d || rec.Exit != 0 || rec.Output != string(out) {
			t.Errorf("join record %d: %+v, want seq %d, item %s, output %q", i, rec, i+1, d, out)
		}
	}
	if r.stdout != seq.String() || !strings.Contains(r.stdout, "ugly.go") {
		t.Errorf("stdout %q, sequential %q", r.stdout, seq.String())
	}
}

// TestEachBadInput checks that bad each command lines exit 2 with one
// clear message and print nothing on stdout.
func TestEachBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "empty"), "\n\n")
	writeFile(t, filepath.Join(dir, "unreadable"), "a\n")
	if err := os.Chmod(filepath.Join(dir, "unreadable"), 0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args  []string
		words string
	}{
		{[]string{":::", "a"}, "needs a command"},
		{[]string{"--items", "empty", "--", "echo"}, "no items"},
		{[]string{"--", "echo"}, "no items"}, // stdin is empty
		{[]string{":::", "--", "echo"}, "no items after :::"},
		{[]string{"--items", "missing", "--", "echo"}, "cannot read --items missing"},
		{[]string{"--items", ".", "--", "echo"}, "is a directory"},
		{[]string{"--items", "empty", ":::", "a", "--", "echo"}, "not both"},
		{[]string{"x", "--", "echo"}, `unexpected argument "x"`},
		{[]string{":::", "a", "--", "echo", "{..}"}, "unknown placeholder {..}"},
		{[]string{"--dir", "{%}", ":::", "a", "--", "echo"}, "unknown placeholder {%}"},
		{[]string{":::", "a", "--", "no-such-program-jetmr"}, "not found"},
		{[]string{"--chunk-size", "1KiB", ":::", "a", "--", "echo"}, "number of items per task"},
		{[]string{"--join", "'unterminated", ":::", "a", "--", "echo"}, "--join"},
	}
	if os.Getuid() != 0 {
		cases = append(cases, struct {
			args  []string
			words string
		}{[]string{"--items", "unreadable", "--", "echo"}, "cannot read --items unreadable: permission denied"})
	}
	for _, tc := range cases {
		r := jetmr(t, dir, append([]string{"each", "--store", t.TempDir()}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.words) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, r.code, r.stdout, r.stderr, tc.words)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%q: more than one line on stderr:\n%s", tc.args, r.stderr)
		}
	}
}

// TestEachResumeAfterKill kills a run with SIGKILL part-way and resumes
// it: the output file holds every item's output once, in item order.
func TestEachResumeAfterKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var items []string
	var want strings.Builder
	for i := range 40 {
		items = append(items, fmt.Sprintf("n%02d", i))
		fmt.Fprintf(&want, "n%02d\n", i)
	}
	writeFile(t, filepath.Join(dir, "items"), strings.Join(items, "\n"))
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	store := t.TempDir()
	args := []string{"each", "-q", "-k", "-j", "2", "--chunk-size", "1", "--store", store, "--job", "killed", "-o", "out.txt",
		"--joblog", "log.tsv", "--items", "items", "--", testcmd(t), "sleep", "50ms", "{}"}
	cmd, stderr, wait := startJetmr(t, dir, env, args...)
	eventually(t, runTimeout, "ten items done", func() (bool, string) {
		log, _ := os.ReadFile(filepath.Join(dir, "log.tsv"))
		return bytes.Count(log, []byte("\n")) > 10, string(log)
	})
	cmd.Process.Signal(syscall.SIGKILL)
	if code := wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed run exited %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Fatal("the output appeared before the job completed")
	}
	resume := slices.Insert(slices.Clone(args), 1, "--resume")
	_, stderr, wait = startJetmr(t, dir, env, resume...)
	if code := wait(); code != 0 {
		t.Fatalf("resumed run exited %d; stderr:\n%s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("resumed output differs:\n%s", got)
	}
}
