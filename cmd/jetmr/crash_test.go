package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"
)

// Crash tests: real jetmr processes killed at random moments, then resumed
// with --resume until the job completes. The output must equal an
// uninterrupted sequential run: nothing lost, nothing merged twice.

// genText writes about size bytes of seeded text with many distinct words.
func genText(t *testing.T, path string, size int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for b.Len() < size {
		n := 3 + r.IntN(12)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "w%d", r.IntN(2000))
			if r.IntN(9) == 0 {
				b.WriteString("Éa")
			}
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startJetmr starts the binary in dir; wait returns its exit code (128+N
// for a death by signal N), failing the test after runTimeout.
func startJetmr(t *testing.T, dir string, env []string, args ...string) (cmd *exec.Cmd, stderr *clitest.Buffer, wait func() int) {
	t.Helper()
	p := clitest.Start(t, bin, dir, env, args...)
	return p.Cmd, p.Stderr, func() int { return p.Wait(t, runTimeout) }
}

// runUntilDone runs args in dir, interrupting each run with sig after a
// random delay below maxDelay, and resumes until a run completes. It
// returns how many runs were interrupted, at least one: a job that
// completes before its first interruption proves nothing, so it is run
// again from scratch (dir emptied but for the files named in keep) with
// delays half as long.
func runUntilDone(t *testing.T, dir string, r *rand.Rand, sig syscall.Signal, maxDelay time.Duration, args []string, keep ...string) int {
	t.Helper()
	for range 8 {
		if n := interruptUntilDone(t, dir, r, sig, maxDelay, args); n > 0 {
			return n
		}
		t.Logf("the job completed before an interruption within %v: running it again from scratch", maxDelay)
		emptyDir(t, dir, keep...)
		maxDelay /= 2
	}
	t.Fatalf("the job always completed before its first interruption")
	return 0
}

// emptyDir removes everything in dir but the files named in keep.
func emptyDir(t *testing.T, dir string, keep ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// interruptUntilDone runs args, interrupting each run with sig after a
// random delay, and resumes until a run completes. It returns how many
// runs were interrupted.
func interruptUntilDone(t *testing.T, dir string, r *rand.Rand, sig syscall.Signal, maxDelay time.Duration, args []string) int {
	t.Helper()
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	resume := slices.Insert(slices.Clone(args), 1, "--resume")
	interrupted, recorded := 0, false
	for run := 0; ; run++ {
		if run > 25 {
			t.Fatalf("job not done after %d runs", run)
		}
		a := args
		if recorded {
			a = resume
		}
		cmd, stderr, wait := startJetmr(t, dir, env, a...)
		delay := time.Duration(r.Int64N(int64(maxDelay)))
		if run >= 6 {
			delay = runTimeout // enough crashes: let it finish
		}
		exited := make(chan int, 1)
		go func() { exited <- wait() }()
		select {
		case code := <-exited:
			if code == 2 && strings.Contains(stderr.String(), "there is no job") {
				// The run before was killed before it recorded the job:
				// nothing to resume, so start afresh, as a user would.
				recorded = false
				continue
			}
			if code != 0 {
				t.Fatalf("run %d (%q) exited %d; stderr:\n%s", run, a, code, stderr)
			}
			return interrupted
		case <-time.After(delay):
			cmd.Process.Signal(sig)
			code := <-exited
			switch code {
			case 0:
				return interrupted // finished before the signal landed
			case 128 + int(syscall.SIGTERM):
				if stderr.Len() > 0 {
					t.Fatalf("run %d (%q) was killed by SIGTERM instead of stopping; stderr:\n%s", run, a, stderr)
				}
				// The signal landed before jetmr's main installed its
				// handler (a slow start on a loaded machine): the process
				// died as if killed, before doing anything.
				interrupted++
				continue
			case 128 + int(syscall.SIGKILL), 130:
				interrupted++
			default:
				t.Fatalf("run %d (%q) interrupted by %v exited %d; stderr:\n%s", run, a, sig, code, stderr)
			}
			if sig == syscall.SIGTERM && !strings.Contains(stderr.String(), "--resume") {
				t.Fatalf("an interrupted run does not say how to resume; stderr:\n%s", stderr)
			}
			recorded = true
		}
	}
}

func TestCrashResumePipe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		seed uint64
		// Chunks of 600 KiB with --transport object: workers fetch them
		// from the submitter, which is killed and serves them again.
		fetched bool
	}{
		{"kill-1", syscall.SIGKILL, 1, false},
		{"kill-2", syscall.SIGKILL, 2, false},
		{"kill-3", syscall.SIGKILL, 3, false},
		{"term", syscall.SIGTERM, 4, false},
		{"kill-fetched", syscall.SIGKILL, 5, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			size, chunk, sleep, extra := 3<<20, "32KiB", "0.01", []string(nil)
			if c.fetched {
				size, chunk, sleep, extra = 12<<20, "600KiB", "0.1", []string{"--transport", "object"}
			}
			genText(t, in, size, c.seed)
			store := filepath.Join(dir, "store")
			argv := []string{"sh", "-c", "sleep " + sleep + "; tr a-z A-Z"}
			args := slices.Concat([]string{"pipe", "--store", store, "--job", "crash", "-i", in, "-o", "out.txt",
				"--chunk-size", chunk, "-j", "4"}, extra, []string{"--"}, argv)
			r := rand.New(rand.NewPCG(c.seed, 99))
			n := runUntilDone(t, dir, r, c.sig, 2*time.Second, args, "in.txt")
			t.Logf("completed after %d interruptions", n)
			checkPipeOutput(t, dir, argv, in)
		})
	}
}

// checkPipeOutput checks that dir/out.txt is argv's sequential output over
// in, and that no temporary file is left in dir.
func checkPipeOutput(t *testing.T, dir string, argv []string, in string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, argv, in); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
	assertNoTemporaries(t, dir)
}

func TestCrashResumeMapReduce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		reduce string
		seed   uint64
	}{
		{"fold-1", "sum", 11},
		{"fold-2", "sum", 12},
		{"command", "awk -F '\t' '{ s[$1] += $2 } END { for (k in s) print k \"\\t\" s[k] }'", 13},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 2<<20, c.seed)
			args := []string{"mapreduce", "--store", filepath.Join(dir, "store"), "--job", "crash", "-i", in,
				"-o", "counts", "--map", "wordcount", "--reduce", c.reduce, "--partitions", "3",
				"--chunk-size", "16KiB", "-j", "3"}
			r := rand.New(rand.NewPCG(c.seed, 5))
			n := runUntilDone(t, dir, r, syscall.SIGKILL, 1500*time.Millisecond, args, "in.txt")
			t.Logf("completed after %d interruptions", n)
			got := readCounts(t, filepath.Join(dir, "counts"))
			want := referenceCounts(t, in)
			if len(got) != len(want) {
				t.Fatalf("%d distinct words, want %d", len(got), len(want))
			}
			for w, n := range want {
				if got[w] != n {
					t.Fatalf("count of %q is %d, want %d (a task merged twice or lost)", w, got[w], n)
				}
			}
			assertNoTemporaries(t, dir)
		})
	}
}

// readCounts reads every part file of a word-count output directory.
func readCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(parts) == 0 {
		t.Fatalf("no part files in %s (%v)", dir, err)
	}
	counts := map[string]int{}
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "\t")
			var n int
			if _, err := fmt.Sscan(v, &n); !ok || err != nil {
				t.Fatalf("%s: bad line %q", p, sc.Text())
			}
			if _, dup := counts[k]; dup {
				t.Fatalf("key %q appears twice in the output", k)
			}
			counts[k] = n
		}
		f.Close()
	}
	return counts
}

// referenceCounts counts words of the generated text sequentially (its
// words are ASCII letters and digits plus "éa").
func referenceCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, w := range strings.Fields(strings.ToLower(string(data))) {
		counts[w]++
	}
	return counts
}

// assertNoTemporaries checks that a completed job left no temporary output.
func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".jetmr-") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		t.Errorf("temporary outputs left behind: %v", names)
	}
}

// TestFlakyCommand runs a command that fails a third of the time and
// sleeps a random short time another third, in the manner of the MIT 6.824
// crash test: with enough retries the output equals the sequential one.
func TestFlakyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 1<<20, 21)
	script := filepath.Join(dir, "flaky.sh")
	body := `#!/bin/sh
r=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
case $((r % 3)) in
0) echo "flaky failure" >&2; exit 1 ;;
1) sleep 0.0$((r % 5)) ;;
esac
exec tr a-z A-Z
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	res := jetmr(t, dir, "pipe", "--store", t.TempDir(), "-i", in, "-o", "out.txt", "--chunk-size", "16KiB",
		"--retries", "20", "--report", "run.json", "--", script)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
	if want := sequential(t, []string{"tr", "a-z", "A-Z"}, in); string(got) != want {
		t.Fatalf("output differs from the sequential run")
	}
}

// TestPoisonChunk: a command that always fails on one line makes exactly
// that task a dead letter, with its line number and stderr, and publishes
// no output; --resume --retry-failed with a fixed command completes the job.
func TestPoisonChunk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	var b strings.Builder
	for i := 1; i <= 5000; i++ {
		if i == 3217 {
			b.WriteString("POISON here\n")
			continue
		}
		fmt.Fprintf(&b, "line %d is fine\n", i)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	bad := `/POISON/ { print "cannot digest line " NR > "/dev/stderr"; exit 3 } { print toupper($0) }`
	res := jetmr(t, dir, "pipe", "--store", store, "--job", "poison", "-i", in, "-o", "out.txt",
		"--chunk-size", "4KiB", "--retries", "1", "--report", "run.json", "--", "awk", bad)
	if res.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", res.code, res.stderr)
	}
	if n := strings.Count(res.stderr, "dead letter: task"); n != 1 {
		t.Fatalf("%d dead letters on stderr, want 1:\n%s", n, res.stderr)
	}
	if !strings.Contains(res.stderr, "cannot digest line") || !strings.Contains(res.stderr, "exited with status 3") {
		t.Errorf("the dead letter lacks the stderr tail or exit status:\n%s", res.stderr)
	}
	line := deadLetterLine(t, res.stderr)
	if line > 3217 || line < 3217-400 {
		t.Errorf("dead letter starts at line %d, want the chunk holding line 3217", line)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
		t.Fatalf("an output was published by a failed job (stat: %v)", err)
	}
	good := `{ print toupper($0) }`
	res = jetmr(t, dir, "pipe", "--store", store, "--job", "poison", "-i", in, "-o", "out.txt",
		"--chunk-size", "4KiB", "--resume", "--retry-failed", "--", "awk", good)
	if res.code != 0 {
		t.Fatalf("retry-failed: exit %d; stderr:\n%s", res.code, res.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
	if want := sequential(t, []string{"awk", good}, in); string(got) != want {
		t.Fatalf("output after --retry-failed differs from the sequential run")
	}
	// A plain resume may not change the command.
	res = jetmr(t, dir, "pipe", "--store", store, "--job", "poison", "-i", in, "-o", "out2.txt", "--resume", "--", "cat")
	if res.code != 2 {
		t.Errorf("resume with another command and output: exit %d, want 2; stderr:\n%s", res.code, res.stderr)
	}
}

func deadLetterLine(t *testing.T, stderr string) int {
	t.Helper()
	i := strings.Index(stderr, " line ")
	if i < 0 {
		t.Fatalf("no line number in the dead letter:\n%s", stderr)
	}
	var n int
	fmt.Sscan(stderr[i+len(" line "):], &n)
	return n
}

func TestResumeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := t.TempDir()
	in := td(t, "crlf.txt")
	res := jetmr(t, dir, "pipe", "--store", store, "--job", "nosuch", "--resume", "-i", in, "-o", "o.txt", "--", "cat")
	if res.code != 2 || !strings.Contains(res.stderr, "no job nosuch") {
		t.Errorf("resume of an unknown job: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	res = jetmr(t, dir, "pipe", "--store", store, "--resume", "-i", in, "-o", "o.txt", "--", "cat")
	if res.code != 2 || !strings.Contains(res.stderr, "--job") {
		t.Errorf("resume without --job: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	// A job that crashed, resumed with other inputs: refused, saying what differs.
	store2 := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	cmd, _, wait := startJetmr(t, dir, env, "pipe", "--store", store2, "--job", "j", "-i", in, "-o", "o.txt", "--",
		"sh", "-c", "sleep 30")
	time.Sleep(500 * time.Millisecond) // let it record the job; the kill may land at any moment anyway
	cmd.Process.Kill()
	wait()
	res = jetmr(t, dir, "pipe", "--store", store2, "--job", "j", "--resume", "-i", td(t, "nonl.txt"), "-o", "o.txt", "--", "sh", "-c", "sleep 30")
	if res.code == 2 && !strings.Contains(res.stderr, "inputs") && !strings.Contains(res.stderr, "no job j") {
		t.Errorf("resume with other inputs: stderr does not say what differs:\n%s", res.stderr)
	}
	if res.code != 2 {
		t.Errorf("resume with other inputs: exit %d, want 2; stderr:\n%s", res.code, res.stderr)
	}
}
