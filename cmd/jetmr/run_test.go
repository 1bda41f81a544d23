package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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

// TestPathsCheckedAtStart gives each path flag a path that cannot be
// written: the job is refused before its first task (exit 2, nothing
// written, no job started), naming the flag and the path.
func TestPathsCheckedAtStart(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	pipe := func(extra ...string) []string {
		return append(append([]string{"pipe", "-i", in, "-o", "out.txt"}, extra...), "--", "cat")
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"report folder missing", pipe("--report", "nodir/x.json"), []string{"--report nodir/x.json", "nodir"}},
		{"report is a folder", pipe("--report", "."), []string{"--report .", "folder"}},
		{"joblog folder missing", pipe("--joblog", "nodir/log.tsv"), []string{"--joblog nodir/log.tsv"}},
		{"trace folder missing", pipe("--trace", "nodir/t.json"), []string{"--trace nodir/t.json"}},
		{"output folder missing", []string{"pipe", "-i", in, "-o", "nodir/out.txt", "--", "cat"}, []string{"nodir/out.txt", "does not exist"}},
		{"metrics address taken", pipe("--metrics", "256.0.0.1:1"), []string{"--metrics 256.0.0.1:1"}},
		{"mapreduce report folder missing", []string{"mapreduce", "-i", in, "-o", "counts", "--map", "wordcount", "--reduce", "sum", "--report", "nodir/r.json"}, []string{"--report nodir/r.json"}},
		{"each report folder missing", []string{"each", "--report", "nodir/r.json", "--", "echo", ":::", "a"}, []string{"--report nodir/r.json"}},
		{"report --html folder missing", []string{"report", td(t, "crlf.txt"), "--html", "nodir/"}, []string{"--html nodir/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			args := tc.args
			if args[0] != "report" {
				args = append([]string{args[0], "--store", store}, args[1:]...)
			}
			checkRefused(t, dir, jetmr(t, dir, args...), tc.want)
		})
	}
}

// checkRefused checks that r is a refusal of bad usage: exit 2, a message
// that names each of want, no job started and nothing written in dir.
func checkRefused(t *testing.T, dir string, r result, want []string) {
	t.Helper()
	if r.code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("message does not name %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "jetmr: job ") {
		t.Errorf("a job started:\n%s", r.stderr)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("files written: %q", names)
	}
}

// TestExistingOutputRule checks the one rule for existing outputs: refused
// with exit 2 naming the output and --force, left untouched; replaced
// whole with --force.
func TestExistingOutputRule(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	for _, tc := range []struct {
		name, output string
		args         []string
		dir          bool
	}{
		{"pipe", "out.txt", []string{"pipe", "-i", in, "-o", "out.txt", "--", "tr", "a-z", "A-Z"}, false},
		{"each", "out.txt", []string{"each", "-o", "out.txt", "--", "echo", ":::", "a", "b"}, false},
		{"mapreduce", "counts", []string{"mapreduce", "-i", in, "-o", "counts", "--map", "wordcount", "--reduce", "sum"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			old := filepath.Join(dir, tc.output)
			if tc.dir {
				if err := os.Mkdir(old, 0o755); err != nil {
					t.Fatal(err)
				}
				old = filepath.Join(old, "mine.txt")
			}
			if err := os.WriteFile(old, []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{tc.args[0], "--store", t.TempDir()}, tc.args[1:]...)
			r := jetmr(t, dir, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.output+" already exists") || !strings.Contains(r.stderr, "--force") {
				t.Fatalf("exit %d, want 2 naming %s and --force; stderr:\n%s", r.code, tc.output, r.stderr)
			}
			if data, err := os.ReadFile(old); err != nil || string(data) != "mine\n" {
				t.Fatalf("the existing output changed: %q, %v", data, err)
			}
			args = append([]string{tc.args[0], "--store", t.TempDir(), "--force"}, tc.args[1:]...)
			if r := jetmr(t, dir, args...); r.code != 0 {
				t.Fatalf("with --force: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if _, err := os.Stat(old); tc.dir && !os.IsNotExist(err) {
				t.Errorf("with --force, the old output directory's file is still there")
			}
			if data, _ := os.ReadFile(old); !tc.dir && string(data) == "mine\n" {
				t.Errorf("with --force, the output was not replaced")
			}
		})
	}
}

// TestPausedWorkerLateFailureLoses pauses (SIGSTOP) a worker in the middle
// of a task for longer than the ack wait (30s): the server hands the task
// to another worker, and the paused one, continued while that delivery
// runs, finds its attempt timed out. With --retries 0 its late failure
// used to make the task a dead letter before the other delivery's success
// arrived; the success must win and the job finish with exit 0.
func TestPausedWorkerLateFailureLoses(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 30s ack wait")
	}
	t.Parallel()
	url := plainNATS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("one line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	script := `if [ -e "$0" ]; then touch "$1"; sleep 1.5; exec cat; fi; touch "$0"; sleep 3; exec cat`
	a := startWorker(t, url)
	a.waitUp(t)
	p := startProc(t, dir, "pipe", "--nats", url, "--local-workers", "0", "--retries", "0", "--timeout", "2s",
		"-i", in, "-o", "out.txt", "--", "sh", "-c", script, first, second)
	waitForFile(t, p, first)
	if err := a.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	b := startWorker(t, url)
	b.waitUp(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(second); err == nil {
			break // the task's second delivery runs on b
		}
		if time.Now().After(deadline) {
			a.Cmd.Process.Signal(syscall.SIGCONT)
			t.Fatalf("the task was never delivered again; pipe stderr:\n%s", p.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, runTimeout); code != 0 {
		t.Fatalf("exit %d, want 0: the late failure beat the success; stderr:\n%s", code, p.Stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(data) != "one line\n" {
		t.Errorf("out.txt: %q, %v", data, err)
	}
}

// TestEachHaltSoonRunsOne runs GNU parallel's example: with -j 1 and
// --halt soon,fail=1, the first item fails and no other starts.
func TestEachHaltSoonRunsOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "each", "--store", t.TempDir(), "-j", "1", "--retries", "0", "--halt", "soon,fail=1",
		"--joblog", "log.tsv", "--", "false", ":::", "a", "b", "c", "d", "e", "f")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "log.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(strings.TrimSpace(string(data)), "\n"); rows != 1 {
		t.Errorf("%d items ran, want 1:\n%s", rows, data)
	}
}

// TestEachHaltSummary: an each job of three items whose first fails
// halts (-j 1) having run one item; its summary line and report say so, and
// that the job's two other items were not started (or, with --halt now,
// not started or stopped), rather than counting the items that ran as the
// job's. Its resume with a fixed command runs them all, with no such words.
func TestEachHaltSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		halt string
		keep bool // -k
		want string
	}{
		{"soon", false, "halted (--halt soon): 2 of the job's 3 items not started"},
		{"soon,fail=1", true, "halted (--halt soon): 2 of the job's 3 items not started"},
		{"now", false, "halted (--halt now): 2 of the job's 3 items not started or stopped"},
		{"now,fail=1", true, "halted (--halt now): 2 of the job's 3 items not started or stopped"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s keep %v", tt.halt, tt.keep), func(t *testing.T) {
			t.Parallel()
			dir, store := t.TempDir(), t.TempDir()
			args := []string{"each", "--store", store, "-j", "1", "--retries", "0", "--halt", tt.halt, "--job", "halted", "--report", "r.json"}
			if tt.keep {
				args = append(args, "-k")
			}
			r := jetmr(t, dir, append(args, "--", "sh", "-c", `test {} != a && echo {}`, ":::", "a", "b", "c")...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			if want := "jetmr: job halted: 1 tasks of 1 items (1 items failed, in 1 tasks) in "; !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("the summary does not say %q and %q:\n%s", want, tt.want, r.stderr)
			}
			rep := readReport(t, filepath.Join(dir, "r.json"))
			if rep["items"] != 1.0 || rep["items_left"] != 2.0 || rep["items_in_job"] != 3.0 || rep["halted"] != strings.TrimSuffix(tt.halt, ",fail=1") {
				t.Errorf("report: items %v, items_left %v, items_in_job %v, halted %v; want 1, 2, 3, %s",
					rep["items"], rep["items_left"], rep["items_in_job"], rep["halted"], strings.TrimSuffix(tt.halt, ",fail=1"))
			}
			r = jetmr(t, dir, append(args, "--resume", "--retry-failed", "--", "sh", "-c", "echo {}", ":::", "a", "b", "c")...)
			if r.code != 0 || !strings.Contains(r.stderr, "jetmr: job halted: 3 tasks of 3 items in ") || strings.Contains(r.stderr, "halted (") {
				t.Fatalf("resume: exit %d, want 0 with every item run; stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestPipelineRerunRefusedBeforeAnyStage runs a job file twice: the second
// run finds the first stage's output and is refused (exit 2) before any
// stage runs, naming the output and --force; with --force it runs.
func TestPipelineRerunRefusedBeforeAnyStage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("b\na\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := `stages:
  - name: first
    pipe: {input: [in.txt], output: first.txt, command: [sort]}
  - name: second
    pipe: {input: ["stage:first"], output: second.txt, command: [tr, a-z, A-Z]}
`
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	if r := jetmr(t, dir, "pipeline", "--store", store, "p.yaml"); r.code != 0 {
		t.Fatalf("first run: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "first.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "pipeline", "--store", store, "p.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "output first.txt already exists") ||
		!strings.Contains(r.stderr, "output second.txt already exists") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("second run: exit %d, want 2 naming both outputs and --force; stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "stage first started") {
		t.Errorf("a stage ran before the refusal:\n%s", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "first.txt")); string(data) != "mine\n" {
		t.Errorf("first.txt was overwritten: %q", data)
	}
	if r := jetmr(t, dir, "pipeline", "--store", store, "--force", "p.yaml"); r.code != 0 {
		t.Fatalf("with --force: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "second.txt")); string(data) != "A\nB\n" {
		t.Errorf("second.txt after --force: %q", data)
	}
}

// TestHaltSoonStopsRemoteWorkers runs an each job on a jetmr worker
// process only, with --halt soon,fail=1: once the first item failed the
// job's tasks are paused for every worker, so that only the items already
// running or fetched finish, and the job ends (exit 1) without the rest.
func TestHaltSoonStopsRemoteWorkers(t *testing.T) {
	t.Parallel()
	url := plainNATS(t)
	startWorker(t, url).waitUp(t)
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	args := []string{"each", "--store", t.TempDir(), "--nats", url, "--local-workers", "0", "-j", "2", "--retries", "0",
		"--halt", "soon,fail=1", "--", "sh", "-c", `echo "$1" >> "$0"; sleep 0.2; exit 1`, ran, "{}", ":::"}
	for i := range 40 {
		args = append(args, strconv.Itoa(i))
	}
	r := jetmr(t, dir, args...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(ran)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n > 8 {
		t.Errorf("%d of 40 items ran after halting soon on the first failure, want only those already running or fetched", n)
	}
}
