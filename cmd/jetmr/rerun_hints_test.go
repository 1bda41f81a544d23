package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/migrate/migratetest"
)

// TestInterruptHintOfUnresumableJob: a pipe job writing to stdout cannot be
// resumed, so Ctrl-C does not print a --resume command (which is refused
// with exit 2) as the way to continue it.
func TestInterruptHintOfUnresumableJob(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 3000, true)
	g := newGate(t, "0.02")
	args := append([]string{"pipe", "-i", in, "--chunk-size", "4KiB", "-j", "2", "--job", "tostdout", "--"}, g.argv...)
	p := startProcEnv(t, dir, h.env, args...)
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	p.Cmd.Process.Signal(syscall.SIGINT)
	g.release()
	if code := p.Wait(t, runTimeout); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130; stderr:\n%s", code, p.Stderr)
	}
	if strings.Contains(p.Stderr.String(), "--resume") {
		t.Errorf("a job writing to stdout, which cannot be resumed, is interrupted with a --resume hint:\n%s", p.Stderr)
	}
}

// TestKilledUnresumableJobHints kills (SIGKILL) a pipe job writing to
// stdout, whose state stays: running it again under its ID, and running
// it with --resume, are both refused with exit 2 and print the same two
// commands, which the test runs: they drop the job and run it again,
// whose output is the input's.
func TestKilledUnresumableJobHints(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 3000, true)
	g := newGate(t, "0.02")
	args := append([]string{"pipe", "-i", in, "--chunk-size", "4KiB", "-j", "2", "--job", "tostdout", "--"}, g.argv...)
	p := startProcEnv(t, dir, h.env, args...)
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	p.Cmd.Process.Signal(syscall.SIGKILL)
	p.Wait(t, runTimeout)
	g.release()
	const intro = "drop it, then run the command again:"
	var hint []string
	for _, again := range [][]string{args, slices.Insert(slices.Clone(args), 1, "--resume")} {
		r := h.run(t, dir, again...)
		if r.code != 2 || !strings.Contains(r.stderr, intro) {
			t.Fatalf("%q: exit %d, want 2 and the commands that work; stderr:\n%s", again, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 3 || !strings.HasSuffix(lines[0], intro) || strings.Contains(r.stderr, "--resume") {
			t.Fatalf("%q: want the message and two commands, neither with --resume; stderr:\n%s", again, r.stderr)
		}
		got := []string{strings.TrimSpace(lines[1]), strings.TrimSpace(lines[2])}
		if hint != nil && !slices.Equal(got, hint) {
			t.Errorf("the run with --resume prints %q, the one without %q", got, hint)
		}
		hint = got
	}
	sh := exec.Command("sh", "-c", `jetmr() { "$JETMR_BIN" "$@"; }; set -e; `+hint[0]+" >&2; "+hint[1])
	sh.Dir = dir
	sh.Env = append(append(os.Environ(), h.env...), "JETMR_BIN="+bin)
	var stdout, stderr strings.Builder
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := sh.Run(); err != nil {
		t.Fatalf("the printed commands %q: %v; stderr:\n%s", hint, err, stderr.String())
	}
	want, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if stdout.String() != strings.ToUpper(string(want)) {
		t.Errorf("the job run again printed %d bytes, want the %d of its input, in capitals", stdout.Len(), len(want))
	}
}

// TestMigrateNegativeMaxRate: --max-rate -1 is refused like every other
// negative number, before anything runs.
func TestMigrateNegativeMaxRate(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(300, 16)
	d.CreateTable(t, ks, false)
	r := jetmr(t, t.TempDir(), "migrate", "--db", d.URL, "--table", "t", "--key", "id", "--max-rate", "-1", "--sql", migPlainUpdate)
	if r.code != 2 || !strings.Contains(r.stderr, "--max-rate") {
		t.Errorf("--max-rate -1: exit %d, want 2 naming --max-rate; stderr:\n%s", r.code, r.stderr)
	}
}

// TestCorruptInputDiscardHint: a job that fails on a truncated gzip input
// keeps its state and staged output, so it prints the jetmr discard
// command, which removes them.
func TestCorruptInputDiscardHint(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	plain := filepath.Join(dir, "plain.txt")
	genText(t, plain, 2<<20, 71)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(t.TempDir(), "good.gz")
	compressGzip(t, gz, data)
	gzData, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.gz"), gzData[:len(gzData)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(plain)
	r := h.run(t, dir, "pipe", "-i", "in.gz", "-o", "out", "--chunk-size", "64KiB", "--job", "corrupt", "--", "cat")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	runHintCommand(t, h, dir, discardHint(t, r.stderr))
	if names := dirNames(t, dir); strings.Join(names, " ") != "in.gz" {
		t.Errorf("after the discard hint the directory holds %q, want in.gz alone", names)
	}
}
