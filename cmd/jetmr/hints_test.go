package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/migrate/migratetest"
)

// Commands that run until a file named by their first argument exists:
// until then each task records that it started and sleeps.
const (
	waitThenCat  = `test -e "$1" && exec cat; echo started >> "$0"; exec sleep 60`
	waitThenEcho = `test -e "$1" && exec echo "$2"; echo started >> "$0"; exec sleep 60`
	failThenCat  = `test -e "$1" && exec cat; echo failing on purpose >&2; exit 3`
	failThenEcho = `test -e "$1" && exec echo "$2"; echo failing on purpose >&2; exit 3`
)

// hintAfter returns the command on the line after the line of stderr
// that ends with intro, "" if there is none.
func hintAfter(stderr, intro string) string {
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, intro) && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}

// runHint runs a printed command line with sh in dir and returns its
// result.
func runHint(t *testing.T, dir, line string) result {
	t.Helper()
	return runHintEnv(t, dir, nil, line)
}

// runHintEnv is runHint with env added to the environment.
func runHintEnv(t *testing.T, dir string, env []string, line string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("hint %q did not finish within %s", line, runTimeout)
	}
	return result{code: clitest.ExitCode(err), stdout: out.String(), stderr: errb.String()}
}

// waitForFile waits until path exists or p exits.
func waitForFile(t *testing.T, p *proc, path string) {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("jetmr %q exited %d before its command started; stderr:\n%s", p.Args, p.Code(), p.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command of jetmr %q never started", p.Args)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hintCase is a job whose command waits (or fails) until the file "go"
// exists in its folder, and how to check its output once it finished.
type hintCase struct {
	name  string
	args  func(dir, store, in string) []string
	check func(t *testing.T, dir string, r result, in string)
}

func fileIs(name string) func(t *testing.T, dir string, r result, in string) {
	return func(t *testing.T, dir string, r result, in string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, name))
		want, _ := os.ReadFile(in)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s after the hint: %v, %d bytes, want the input's %d", name, err, len(got), len(want))
		}
	}
}

func itemsOut(t *testing.T, dir string, r result, _ string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil || strings.Count(string(got), "\n") != 3 {
		t.Errorf("out.txt after the hint: %v, %q, want the 3 items", err, got)
	}
}

func countsOut(t *testing.T, dir string, r result, _ string) {
	t.Helper()
	if names := dirNames(t, filepath.Join(dir, "out")); len(names) == 0 {
		t.Errorf("mapreduce output folder is empty after the hint")
	}
}

func stdoutIs(t *testing.T, dir string, r result, in string) {
	t.Helper()
	want, _ := os.ReadFile(in)
	if r.stdout != string(want) {
		t.Errorf("stdout after rerunning: %d bytes, want %d", len(r.stdout), len(want))
	}
}

func hintCases(script, eachScript string) []hintCase {
	return []hintCase{
		{"pipe -o", func(dir, store, in string) []string {
			return []string{"pipe", "--store", store, "-i", in, "-o", "out.txt", "--retries", "0", "--", "sh", "-c", script, "marker", "go"}
		}, fileIs("out.txt")},
		{"pipe to stdout", func(dir, store, in string) []string {
			return []string{"pipe", "--store", store, "-i", in, "--retries", "0", "--", "sh", "-c", script, "marker", "go"}
		}, stdoutIs},
		{"each", func(dir, store, in string) []string {
			return []string{"each", "--store", store, "-o", "out.txt", "--retries", "0", "--", "sh", "-c", eachScript, "marker", "go", "{}", ":::", "a", "b c", "d"}
		}, itemsOut},
		{"each halted soon", func(dir, store, in string) []string {
			return []string{"each", "--store", store, "-j", "1", "--halt", "soon,fail=1", "-o", "out.txt", "--retries", "0", "--", "sh", "-c", eachScript, "marker", "go", "{}", ":::", "a", "b c", "d"}
		}, itemsOut},
		{"mapreduce", func(dir, store, in string) []string {
			return []string{"mapreduce", "--store", store, "-i", in, "-o", "out", "--retries", "0", "--map", "sh -c '" + script + "' marker go", "--reduce", "count"}
		}, countsOut},
	}
}

// TestInterruptHintsWork interrupts every kind of job with SIGINT or
// SIGTERM, then runs the command jetmr printed to continue it: it must
// be accepted and finish the job.
func TestInterruptHintsWork(t *testing.T) {
	t.Parallel()
	for i, tc := range hintCases(waitThenCat, waitThenEcho) {
		if strings.Contains(tc.name, "halted") {
			continue // halting needs a failure
		}
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[i%2]
		t.Run(tc.name+" "+sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			if err := os.WriteFile(in, []byte(strings.Repeat("some words here\n", 100)), 0o644); err != nil {
				t.Fatal(err)
			}
			args := tc.args(dir, t.TempDir(), in)
			p := startProc(t, dir, args...)
			waitForFile(t, p, filepath.Join(dir, "marker"))
			p.Cmd.Process.Signal(sig)
			if code := p.Wait(t, runTimeout); code != 130 {
				t.Fatalf("jetmr %q exited %d on %s, want 130; stderr:\n%s", args, code, sig, p.Stderr)
			}
			stderr := p.Stderr.String()
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			line := hintAfter(stderr, "continue it with:")
			if tc.name == "pipe to stdout" {
				if line != "" || !strings.Contains(stderr, "cannot be resumed: run the same command again") {
					t.Fatalf("a pipe to stdout printed a resume command or no rerun advice:\n%s", stderr)
				}
				r := jetmr(t, dir, args...)
				if r.code != 0 {
					t.Fatalf("running the same command again: exit %d; stderr:\n%s", r.code, r.stderr)
				}
				tc.check(t, dir, r, in)
				return
			}
			if line == "" {
				t.Fatalf("no resume command printed:\n%s", stderr)
			}
			r := runHint(t, dir, line)
			if r.code != 0 {
				t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
			}
			tc.check(t, dir, r, in)
		})
	}
}

// TestRetryFailedHintsWork fails every kind of job for good, then runs
// the command jetmr printed to run the failed tasks again once the cause
// is fixed: it must be accepted and finish the job.
func TestRetryFailedHintsWork(t *testing.T) {
	t.Parallel()
	for _, tc := range hintCases(failThenCat, failThenEcho) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			if err := os.WriteFile(in, []byte(strings.Repeat("some words here\n", 100)), 0o644); err != nil {
				t.Fatal(err)
			}
			args := tc.args(dir, t.TempDir(), in)
			r := jetmr(t, dir, args...)
			if r.code != 1 {
				t.Fatalf("jetmr %q exited %d, want 1; stderr:\n%s", args, r.code, r.stderr)
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			line := hintAfter(r.stderr, "run the failed tasks again, once fixed, with:")
			if tc.name == "pipe to stdout" {
				if line != "" || !strings.Contains(r.stderr, "cannot be resumed: run the same command again") {
					t.Fatalf("a pipe to stdout printed a resume command or no rerun advice:\n%s", r.stderr)
				}
				r := jetmr(t, dir, args...)
				if r.code != 0 {
					t.Fatalf("running the same command again: exit %d; stderr:\n%s", r.code, r.stderr)
				}
				tc.check(t, dir, r, in)
				return
			}
			if line == "" {
				t.Fatalf("no retry command printed:\n%s", r.stderr)
			}
			r = runHint(t, dir, line)
			if r.code != 0 {
				t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
			}
			tc.check(t, dir, r, in)
		})
	}
}

// TestHintsHideToken interrupts a job on a cluster reached with a token
// in its --nats URL: nothing jetmr prints holds the token, the hint says
// to add it back, and the hint with the token added back finishes the job.
func TestHintsHideToken(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--token", "s3cret")
	stopServer(t, srv)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("some words here\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"pipe", "--nats", srv.url, "--local-workers", "1", "--log-level", "debug", "-i", in, "-o", "out.txt",
		"--", "sh", "-c", waitThenCat, "marker", "go"}
	p := startProc(t, dir, args...)
	waitForFile(t, p, filepath.Join(dir, "marker"))
	p.Cmd.Process.Signal(syscall.SIGINT)
	if code := p.Wait(t, runTimeout); code != 130 {
		t.Fatalf("exit %d on SIGINT, want 130; stderr:\n%s", code, p.Stderr)
	}
	stderr := p.Stderr.String()
	if strings.Contains(stderr, "s3cret") {
		t.Fatalf("stderr shows the token:\n%s", stderr)
	}
	bare := withoutUser(t, srv.url)
	line := hintAfter(stderr, "continue it with:")
	if !strings.Contains(line, "--nats "+bare) || !strings.Contains(stderr, "with your credentials in --nats") {
		t.Fatalf("the hint does not name %s and the missing token:\n%s", bare, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	line = strings.Replace(line, "--nats "+bare, "--nats "+srv.url, 1)
	if r := runHint(t, dir, line); r.code != 0 {
		t.Fatalf("the hint with the token added back: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	fileIs("out.txt")(t, dir, result{}, in)
}

// TestPipelineHintsWork interrupts, or fails, a pipeline whose stage
// writes a file and one whose stage writes to stdout, and runs the
// command jetmr printed: it must be accepted and finish the pipeline.
func TestPipelineHintsWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script, intro, output string
		interrupt                   bool
	}{
		{"file stage interrupted", waitThenCat, "continue it with:", "output: out.txt, ", true},
		{"stdout stage interrupted", waitThenCat, "continue it with:", "", true},
		{"file stage failed", failThenCat, "run the failed tasks again, once fixed, with:", "output: out.txt, ", false},
		{"stdout stage failed", failThenCat, "run the failed tasks again, once fixed, with:", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			if err := os.WriteFile(in, []byte(strings.Repeat("some words here\n", 100)), 0o644); err != nil {
				t.Fatal(err)
			}
			file := "stages:\n  - name: a\n    pipe: {input: [in.txt], " + tc.output + "retries: 0, command: [sh, -c, '" +
				strings.ReplaceAll(tc.script, "'", "''") + "', marker, go]}\n"
			if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(file), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"pipeline", "--store", t.TempDir(), "p.yaml"}
			var stderr string
			if tc.interrupt {
				p := startProc(t, dir, args...)
				waitForFile(t, p, filepath.Join(dir, "marker"))
				p.Cmd.Process.Signal(syscall.SIGTERM)
				if code := p.Wait(t, runTimeout); code != 130 {
					t.Fatalf("exit %d on SIGTERM, want 130; stderr:\n%s", code, p.Stderr)
				}
				stderr = p.Stderr.String()
			} else {
				r := jetmr(t, dir, args...)
				if r.code != 1 {
					t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
				}
				stderr = r.stderr
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			line := hintAfter(stderr, tc.intro)
			if line == "" {
				t.Fatalf("no hint printed:\n%s", stderr)
			}
			r := runHint(t, dir, line)
			if r.code != 0 {
				t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
			}
			if tc.output != "" {
				fileIs("out.txt")(t, dir, r, in)
			} else {
				stdoutIs(t, dir, r, in)
			}
		})
	}
}

// TestMigrateHintsWork interrupts a migration (SIGINT) and runs the
// printed command that continues it: it is accepted and every row is
// updated exactly once.
func TestMigrateHintsWork(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(2000, 3)
	d.CreateTable(t, ks, true)
	dir := t.TempDir()
	args := []string{"migrate", "--store", t.TempDir(), "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", "200", "-j", "1", "--max-rate", "4", "--retries", "0"}
	p := startProc(t, dir, args...)
	eventually(t, runTimeout, "a batch committed", func() (bool, string) {
		return d.Int(t, "SELECT count(*) FROM t WHERE n = 1") > 0, p.Stderr.String()
	})
	p.Cmd.Process.Signal(syscall.SIGINT)
	if code := p.Wait(t, runTimeout); code != 130 {
		t.Fatalf("exit %d on SIGINT, want 130; stderr:\n%s", code, p.Stderr)
	}
	line := hintAfter(p.Stderr.String(), "continue it with:")
	if line == "" {
		t.Fatalf("no resume command printed:\n%s", p.Stderr)
	}
	if r := runHint(t, dir, line); r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
}

// TestMigrateRetryHintWorks fails a migration's batch on a row that breaks
// a CHECK constraint, fixes the row, and runs the printed --retry-failed
// command: it is accepted and every row is updated exactly once.
func TestMigrateRetryHintWorks(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(1000, 5)
	d.CreateTable(t, ks, true)
	bad := ks.Keys[321]
	d.Exec(t, "UPDATE t SET n = 1 WHERE id = "+bad) // n + 1 = 2 breaks CHECK (n < 2)
	dir := t.TempDir()
	r := jetmr(t, dir, "migrate", "--store", t.TempDir(), "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migUpdate, "--chunk-size", "200", "-j", "2", "--retries", "0")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	line := hintAfter(r.stderr, "run the failed tasks again, once fixed, with:")
	if line == "" {
		t.Fatalf("no retry command printed:\n%s", r.stderr)
	}
	d.Exec(t, "UPDATE t SET n = 0 WHERE id = "+bad)
	if r := runHint(t, dir, line); r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	d.CheckAllOnce(t, len(ks.Keys))
}

// TestStdinJobHintWorks fails a job that reads standard input: it cannot
// be resumed, so jetmr prints no resume command but says to run the same
// command again, which then works, with or without a --job ID (the failed
// job's state is dropped, so the ID is free again).
func TestStdinJobHintWorks(t *testing.T) {
	t.Parallel()
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("job-named-%v", named), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			data := strings.Repeat("some words here\n", 100)
			if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"pipe", "--store", t.TempDir(), "-i", "-", "-o", "out.txt", "--retries", "0"}
			if named {
				args = append(args, "--job", "named")
			}
			args = append(args, "--", "sh", "-c", failThenCat, "marker", "go")
			r := jetmrStdin(t, dir, strings.NewReader(data), args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			if hintAfter(r.stderr, "run the failed tasks again, once fixed, with:") != "" || !strings.Contains(r.stderr, "run the same command again") {
				t.Fatalf("a job reading stdin printed a resume command, or no rerun advice:\n%s", r.stderr)
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if r := jetmrStdin(t, dir, strings.NewReader(data), args...); r.code != 0 {
				t.Fatalf("running the same command again: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			fileIs("out.txt")(t, dir, result{}, in)
		})
	}
}
