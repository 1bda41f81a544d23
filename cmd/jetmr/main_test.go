package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jetmr/jetmr/internal/clitest"
)

// bin is the jetmr binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	bin, cleanup, err = clitest.Build(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// runTimeout bounds every run of the binary.
const runTimeout = 30 * time.Second

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// jetmr runs the binary in dir with a private state directory. Callers
// pass --store themselves; XDG_STATE_HOME is a second guard that no test
// touches the user's state.
func jetmr(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return jetmrEnv(t, dir, nil, args...)
}

// jetmrEnv runs the binary in dir with env added to the environment
// (after the private state directory, which env may replace).
func jetmrEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	start := time.Now()
	p := clitest.Start(t, bin, dir, env, args...)
	code := p.Wait(t, runTimeout)
	return result{code: code, stdout: p.Stdout.String(), stderr: p.Stderr.String(), took: time.Since(start)}
}

// td is the absolute path of a testdata file.
func td(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sequential runs argv over each file in turn: the reference of pipe.
func sequential(t *testing.T, argv []string, files ...string) string {
	t.Helper()
	var out bytes.Buffer
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout = in, &out
		err = cmd.Run()
		in.Close()
		if err != nil {
			t.Fatalf("reference %q on %s: %v", argv, f, err)
		}
	}
	return out.String()
}

func textFiles(t *testing.T) []string {
	// testdata/text in lexical walk order.
	return []string{td(t, "text/cafe.txt"), td(t, "text/harbor.txt"), td(t, "text/more/rivers.txt"), td(t, "text/workshop.txt")}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestPipe checks exit status 0 and output identical to the sequential
// run, to stdout and to a file.
func TestPipe(t *testing.T) {
	t.Parallel()
	tr := []string{"tr", "a-z", "A-Z"}
	files := append(textFiles(t), td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "longline.txt"))
	want := sequential(t, tr, files...)
	tests := []struct {
		name   string
		args   []string
		toFile bool
	}{
		{"stdout", []string{"-j", "2"}, false},
		{"stdout small chunks", []string{"--chunk-size", "1KiB", "-q"}, false},
		{"file", []string{"--chunk-size", "4KiB", "-o", "out.txt"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"pipe", "--store", t.TempDir(), "-i", td(t, "text"),
				"-i", td(t, "crlf.txt") + "," + td(t, "nonl.txt"), td(t, "longline.txt")}, tt.args...)
			args = append(args, "--")
			args = append(args, tr...)
			r := jetmr(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := r.stdout
			if tt.toFile {
				if got != "" {
					t.Errorf("stdout %q with -o, want nothing", got)
				}
				data, err := os.ReadFile(filepath.Join(dir, "out.txt"))
				if err != nil {
					t.Fatal(err)
				}
				got = string(data)
				if names := dirNames(t, dir); !slices.Equal(names, []string{"out.txt"}) {
					t.Errorf("working directory holds %q, want only out.txt", names)
				}
			}
			if got != want {
				t.Errorf("output (%d bytes) differs from the sequential run (%d bytes)", len(got), len(want))
			}
		})
	}
}

// wordCount is the reference word count: maximal runs of Unicode letters
// and digits, lower-cased; anything else separates words.
func wordCount(t *testing.T, files ...string) map[string]int {
	counts := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var w []rune
		for len(data) > 0 {
			r, n := utf8.DecodeRune(data)
			data = data[n:]
			if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				w = append(w, unicode.ToLower(r))
				continue
			}
			if len(w) > 0 {
				counts[string(w)]++
				w = w[:0]
			}
		}
		if len(w) > 0 {
			counts[string(w)]++
		}
	}
	return counts
}

// TestMapReduce checks a word count through the CLI.
func TestMapReduce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "mapreduce", "--store", t.TempDir(), "-i", td(t, "text"), "-i", td(t, "invalid-utf8.txt"),
		"-o", "counts", "--map", "wordcount", "--reduce", "sum", "--partitions", "2", "--chunk-size", "2KiB")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	want := wordCount(t, append(textFiles(t), td(t, "invalid-utf8.txt"))...)
	got := map[string]int{}
	for _, part := range []string{"part-00000", "part-00001"} {
		data, err := os.ReadFile(filepath.Join(dir, "counts", part))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var n int
			k, v, _ := strings.Cut(line, "\t")
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("%s: line %q: %v", part, line, err)
			}
			got[k] += n
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d words, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("count of %q: %d, want %d", k, got[k], n)
		}
	}
}

// TestBadUsage checks exit status 2 and one clear line on stderr for every
// mistake the user can make on the command line, and that nothing is
// written.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	crlf := td(t, "crlf.txt")
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // in the working directory
		args  []string
		want  []string // in the stderr line
	}{
		{"missing input", nil, []string{"pipe", "-i", "nope.txt", "-o", "out.txt", "--", "cat"}, []string{"nope.txt"}},
		{"no input", nil, []string{"pipe", "-o", "out.txt", "--", "cat"}, []string{"-i"}},
		{"unknown map", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "no-such-map", "--reduce", "sum"}, []string{"no-such-map"}},
		{"unknown reduce", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "no-such-reduce"}, []string{"no-such-reduce"}},
		{"chunk size 0", nil, []string{"pipe", "-i", crlf, "--chunk-size", "0", "--", "cat"}, []string{"--chunk-size", "0"}},
		{"chunk size abc", nil, []string{"pipe", "-i", crlf, "--chunk-size", "abc", "--", "cat"}, []string{"--chunk-size", "abc"}},
		{"command not on PATH", nil, []string{"pipe", "-i", crlf, "-o", "out.txt", "--", "jetmr-no-such-command"}, []string{"jetmr-no-such-command"}},
		{"output is the input", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(crlf)
			os.WriteFile(filepath.Join(dir, "in.txt"), data, 0o644)
		}, []string{"pipe", "-i", "in.txt", "-o", "in.txt", "--", "cat"}, []string{"in.txt", "input"}},
		{"output's folder missing", nil, []string{"pipe", "-i", crlf, "-o", "missing/out.txt", "--", "cat"}, []string{"missing"}},
		{"no command after --", nil, []string{"pipe", "-i", crlf, "-o", "out.txt"}, []string{"command"}},
		{"nothing after --", nil, []string{"pipe", "-i", crlf, "-o", "out.txt", "--"}, []string{"command"}},
		{"mapreduce output exists", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "out"), 0o755)
		}, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum"}, []string{"out", "exists"}},
		{"mapreduce without output", nil, []string{"mapreduce", "-i", crlf, "--map", "wordcount", "--reduce", "sum"}, []string{"-o"}},
		{"bad -j", nil, []string{"pipe", "-i", crlf, "-j", "lots", "--", "cat"}, []string{"-j"}},
		{"unknown flag", nil, []string{"pipe", "-i", crlf, "--frobnicate", "--", "cat"}, []string{"frobnicate"}},
		{"bad transport", nil, []string{"pipe", "-i", crlf, "--transport", "s3", "--", "cat"}, []string{"--transport", "s3", "shared or object"}},
		{"bad --data-listen", nil, []string{"pipe", "-i", crlf, "--data-listen", "7422", "--", "cat"}, []string{"--data-listen", `"7422"`, "HOST:PORT", "off"}},
		{"--data-listen port out of range", nil, []string{"pipe", "-i", crlf, "--data-listen", "localhost:70000", "--", "cat"}, []string{"--data-listen", "localhost:70000", "HOST:PORT"}},
		{"negative task time", nil, []string{"pipe", "-i", crlf, "--task-time", "-2s", "--", "cat"}, []string{"--task-time", "-2s"}},
		{"task time without unit", nil, []string{"pipe", "-i", crlf, "--task-time", "5", "--", "cat"}, []string{"task-time", "5"}},
		{"bad partitions", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--partitions", "0"}, []string{"partitions"}},
		{"memory below one key", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--memory", "100KiB"}, []string{"--memory 100KiB", "at least 1MiB"}},
		{"memory below one key per partition", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--memory", "3MiB", "--partitions", "4"}, []string{"--memory 3MiB", "at least 4MiB", "4 partition"}},
		{"memory not a size", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--memory", "lots"}, []string{"--memory", "lots"}},
		{"negative retries", nil, []string{"pipe", "-i", crlf, "--retries", "-1", "--", "cat"}, []string{"--retries", "-1"}},
		{"negative -j", nil, []string{"pipe", "-i", crlf, "-j", "-2", "--", "cat"}, []string{"-j", "-2"}},
		{"negative partitions", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--partitions", "-1"}, []string{"--partitions", "-1"}},
		{"negative chunk size", nil, []string{"pipe", "-i", crlf, "--chunk-size", "-5", "--", "cat"}, []string{"--chunk-size", "-5"}},
		{"command not executable", writeScript("up.sh", 0o644), []string{"pipe", "-i", crlf, "--", "./up.sh"}, []string{"not executable", "chmod +x ./up.sh"}},
		{"map command not executable", writeScript("map.sh", 0o644), []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "./map.sh", "--reduce", "sum"}, []string{"not executable", "chmod +x ./map.sh"}},
		{"command is a directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "tool"), 0o755) },
			[]string{"pipe", "-i", crlf, "--", "./tool"}, []string{"./tool", "directory"}},
		{"negative --header", nil, []string{"pipe", "-i", crlf, "--header", "-1", "--", "cat"}, []string{"--header -1", "0 (none) or more"}},
		{"negative --header, mapreduce", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--header", "-1"}, []string{"--header -1"}},
		{"unknown --format", nil, []string{"pipe", "-i", crlf, "--format", "tsv", "--", "cat"}, []string{`--format "tsv"`, "lines", "csv"}},
		{"empty --recend", nil, []string{"pipe", "-i", crlf, "--recend", "", "--", "cat"}, []string{"--recend is empty", "drop it"}},
		{"bad --recend escape", nil, []string{"pipe", "-i", crlf, "--recend", `\q`, "--", "cat"}, []string{"--recend", `unknown escape \q`}},
		{"-0 with --format csv", nil, []string{"pipe", "-i", crlf, "-0", "--format", "csv", "--", "cat"}, []string{"-0", "--format csv", "drop one"}},
		{"-0 with --recend", nil, []string{"pipe", "-i", crlf, "-0", "--recend", "x", "--", "cat"}, []string{"-0", "--recend", "one of them"}},
		{"--recstart with --format csv", nil, []string{"pipe", "-i", crlf, "--recstart", ">", "--format", "csv", "--", "cat"}, []string{"--format csv", "--recstart"}},
		{"--header-once without --header", nil, []string{"pipe", "-i", crlf, "--header-once", "--", "cat"}, []string{"--header-once", "--header N"}},
		{"--key-fields 0", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-fields", "0"}, []string{"--key-fields 0", "1 or more"}},
		{"negative --key-fields", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-fields", "-2"}, []string{"--key-fields -2", "1 or more"}},
		{"--partition-fields 0", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-fields", "2", "--partition-fields", "0"}, []string{"--partition-fields 0", "give 1 to 2", "leave it out"}},
		{"--partition-fields 0 with one key field", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--partition-fields", "0"}, []string{"--partition-fields 0", "the key has one field (--key-fields 1)", "leave --partition-fields out"}},
		{"more --key-order orders than --key-fields", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-order", "text,numeric,numeric,reverse"}, []string{"--key-order", "4 orders for 1 key fields", "raise --key-fields to 4"}},
		{"--partition-fields above --key-fields", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-fields", "2", "--partition-fields", "3"}, []string{"--partition-fields 3", "at most 2", "--key-fields"}},
		{"--partition-fields with one key field", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--partition-fields", "2"}, []string{"--partition-fields 2", "raise --key-fields"}},
		{"unknown --key-order", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-order", "descending"}, []string{"--key-order", `"descending"`, "numeric-reverse"}},
		{"unknown --key-order field", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--key-fields", "2", "--key-order", "text,n"}, []string{"--key-order", `"n"`, "one per key field"}},
		{"--combiner with a built-in reduce", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "sum", "--combiner", "cat"}, []string{"--combiner", "sum already combines", "drop --combiner"}},
		{"--combiner with --reduce none", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "none", "--combiner", "cat"}, []string{"--combiner", "map-only", "drop --combiner"}},
		{"--combiner not on PATH", nil, []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "cat", "--reduce", "cat", "--combiner", "jetmr-no-such-combiner"}, []string{"--combiner", "jetmr-no-such-combiner"}},
		{"each --dir missing", nil, []string{"each", "--dir", "no-such-dir", ":::", "a", "--", "pwd"}, []string{"--dir", "no-such-dir", "does not exist"}},
		{"each --dir not a directory", writeScript("plain", 0o644), []string{"each", "--dir", "plain", ":::", "a", "--", "pwd"}, []string{"--dir", "plain", "not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := dirNames(t, dir)
			store := filepath.Join(t.TempDir(), "store")
			args := append([]string{tt.args[0], "--store", store}, tt.args[1:]...)
			r := jetmr(t, dir, args...)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetmr: ") {
				t.Errorf("stderr is %d lines, want one line starting with \"jetmr: \":\n%s", len(lines), r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if after := dirNames(t, dir); !slices.Equal(before, after) {
				t.Errorf("working directory changed from %q to %q", before, after)
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("the store %s was created for a rejected job", store)
			}
		})
	}
}

// writeScript returns a setup that writes a shell script named name with
// the given mode in the working directory.
func writeScript(name string, mode os.FileMode) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\ncat\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUnreachableNATS checks exit status 3, quickly, when NATS is not
// there.
func TestUnreachableNATS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "pipe", "--store", t.TempDir(), "--nats", "nats://127.0.0.1:1", "-i", td(t, "crlf.txt"), "-o", "out.txt", "--", "cat")
	if r.code != 3 {
		t.Fatalf("exit status %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if r.took > 10*time.Second {
		t.Errorf("took %s to give up, want under 10s", r.took)
	}
	if !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("stderr does not name the URL:\n%s", r.stderr)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("working directory holds %q, want nothing", names)
	}
}

// TestFailingCommand checks exit status 1 with the dead letter, its exit
// status and stderr on stderr, and no output.
func TestFailingCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "pipe", "--store", t.TempDir(), "--retries", "0", "-i", td(t, "crlf.txt"), "-o", "out.txt",
		"--report", "report.json", "--", "sh", "-c", "cat >/dev/null; echo something went wrong >&2; exit 3")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	for _, w := range []string{"dead letter", "crlf.txt", "status 3", "something went wrong"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
		t.Errorf("out.txt exists after a failed job (stat: %v)", err)
	}
	rep := readReport(t, filepath.Join(dir, "report.json"))
	dead, _ := rep["dead_letters"].([]any)
	if len(dead) != 1 {
		t.Fatalf("report lists %d dead letters, want 1: %v", len(dead), rep["dead_letters"])
	}
	d, _ := dead[0].(map[string]any)
	e, _ := d["error"].(map[string]any)
	if e["exit_status"] != float64(3) || !strings.Contains(fmt.Sprint(e["stderr_tail"]), "something went wrong") {
		t.Errorf("dead letter %v, want exit status 3 and the stderr tail", d)
	}
}

func readReport(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, data)
	}
	return rep
}

// TestReport checks the keys and types of --report.
func TestReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "pipe", "--store", t.TempDir(), "--job", "report-job", "--chunk-size", "1KiB", "-i", td(t, "text"),
		"--report", "report.json", "-o", "out.txt", "--", "cat")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	rep := readReport(t, filepath.Join(dir, "report.json"))
	if rep["job"] != "report-job" {
		t.Errorf("job %v, want report-job", rep["job"])
	}
	for _, k := range []string{"tasks", "slots", "wall_seconds", "busy_seconds", "speedup", "efficiency", "utilization", "bytes_in", "bytes_out"} {
		if _, ok := rep[k].(float64); !ok {
			t.Errorf("report key %q is %T (%v), want a number", k, rep[k], rep[k])
		}
	}
	ts, ok := rep["task_seconds"].(map[string]any)
	if !ok {
		t.Fatalf("report key task_seconds is %T, want an object", rep["task_seconds"])
	}
	for _, k := range []string{"p50", "p90", "max"} {
		if _, ok := ts[k].(float64); !ok {
			t.Errorf("task_seconds.%s is %T, want a number", k, ts[k])
		}
	}
	var size int64
	for _, f := range textFiles(t) {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	if rep["bytes_in"] != float64(size) || rep["bytes_out"] != float64(size) {
		t.Errorf("bytes_in %v, bytes_out %v; want %d each (cat)", rep["bytes_in"], rep["bytes_out"], size)
	}
	if n, _ := rep["tasks"].(float64); n < 4 {
		t.Errorf("%v tasks, want one per KiB at least", rep["tasks"])
	}
	if ts["p50"].(float64) > ts["p90"].(float64) || ts["p90"].(float64) > ts["max"].(float64) {
		t.Errorf("task_seconds %v are not ordered", ts)
	}
}

// TestInterrupt checks that SIGINT stops a running job with exit status 130
// and no output.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "pipe", "--store", t.TempDir(), "-i", td(t, "crlf.txt"), "-o", "out.txt",
		"--", "sh", "-c", `echo started > "$0"; exec sleep 30`, fifo)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	started := make(chan struct{})
	go func() {
		os.ReadFile(fifo) // returns once the command has written to it
		close(started)
	}()
	select {
	case <-started:
	case err := <-exited:
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close() // unblock the reader
		}
		<-started
		t.Fatalf("jetmr exited (%v) before the command started; stderr:\n%s", err, stderr.String())
	}
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 130 {
		t.Errorf("jetmr ended with %v, want exit status 130; stderr:\n%s", err, stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s to stop after SIGINT", took)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
		t.Errorf("out.txt exists after an interrupted job (stat: %v)", err)
	}
}
