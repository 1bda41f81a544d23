package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// TestStoppedWorkerDoesNotHoldJob runs a pipe job on this process's one
// slot and a jetmr worker's, and stops the worker (SIGSTOP, not a kill)
// in the middle of a task: the task, and those the worker had fetched
// ahead, run again as backups on the idle local slot, and the job ends
// with the sequential output long before the ack wait (30s) would hand
// them out again; the summary, the run report and status count the
// backups. The worker, continued, then exits cleanly.
func TestStoppedWorkerDoesNotHoldJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 512<<10, 11)
	// The worker's first task announces itself and takes a while, so
	// that the stop comes in the middle of it.
	script := filepath.Join(dir, "up.sh")
	body := "#!/bin/sh\nif [ -n \"$STALL\" ] && mkdir " + dir + "/lock 2>/dev/null; then touch " + dir + "/started; sleep 2; fi\nsleep 0.02\nexec tr a-z A-Z\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{clitest.Start(t, bin, "", []string{"STALL=1"}, "worker", "--nats", url, "--log-format", "json", "-j", "1",
		"--spill="+filepath.Join(dir, "spill"))}
	w.waitUp(t)
	out, report := filepath.Join(dir, "out.txt"), filepath.Join(dir, "report.json")
	sub := clitest.Start(t, bin, dir, nil, "pipe", "--nats", url, "--store", filepath.Join(dir, "store"), "--local-workers", "1", "--job", "stalled",
		"-i", in, "-o", out, "--chunk-size", "8KiB", "--report", report, "--", script)
	eventually(t, runTimeout, "the worker's first task", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil, w.Stderr.String()
	})
	w.Signal(syscall.SIGSTOP)
	continued := false
	defer func() {
		if !continued {
			w.Signal(syscall.SIGCONT) // let the test's cleanup end it
		}
	}()
	code := sub.Wait(t, runTimeout)
	w.Signal(syscall.SIGCONT)
	continued = true
	if code != 0 {
		t.Fatalf("job exited %d; stderr:\n%s", code, sub.Stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, []string{"tr", "a-z", "A-Z"}, in); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
	var run struct {
		BackupsRun int `json:"backups_run"`
		BackupsWon int `json:"backups_won"`
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if run.BackupsWon < 1 || run.BackupsRun < run.BackupsWon {
		t.Errorf("report: %d backups run, %d won; want the stopped worker's task won by a backup", run.BackupsRun, run.BackupsWon)
	}
	if !strings.Contains(sub.Stderr.String(), "finished first") {
		t.Errorf("the summary does not count the backups:\n%s", sub.Stderr)
	}
	st := jetmr(t, dir, "status", "stalled", "--nats", url)
	if st.code != 0 || !strings.Contains(st.stdout, "finished first") {
		t.Errorf("jetmr status stalled: exit %d, stdout:\n%s\nwant the backups counted", st.code, st.stdout)
	}
	w.term(t)
}

// TestSpeculativeFlags refuses contradictory or malformed speculation
// flags, and backups for an each job not declared idempotent, with exit 2
// and no output; an each job declared idempotent may ask for them.
func TestSpeculativeFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
		each  bool
		want  string
	}{
		{"each without --idempotent", []string{"--speculative"}, true, "--idempotent"},
		{"not a bool", []string{"--speculative=maybe"}, false, "--speculative"},
		{"on and off", []string{"--speculative", "--no-speculative"}, false, "contradict"},
		{"on and not idempotent", []string{"--speculative", "--idempotent=false"}, false, "--idempotent=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out")
			if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"pipe", "-i", in, "-o", out}
			if tt.each {
				args = []string{"each", "--items", in, "--join", "cat"}
			}
			args = append(append(append(args, "--store", filepath.Join(dir, "store")), tt.flags...), "--", "cat")
			r := jetmr(t, dir, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("jetmr %q: exit %d, stderr %q; want exit 2 naming %s", args, r.code, r.stderr, tt.want)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("files written besides the input: %q", names)
			}
		})
	}
	dir := t.TempDir()
	r := jetmr(t, dir, "each", "--store", filepath.Join(dir, "store"), "-k", "--idempotent", "--speculative", "--", "echo", ":::", "a", "b")
	if r.code != 0 || r.stdout != "a\nb\n" {
		t.Errorf("each --idempotent --speculative: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestBackupReportSupersedes runs a pipe job whose last task's first
// attempt would sleep for a minute: a backup on the idle slot overtakes
// it, and the run report marks the slow attempt superseded, not failed
// nor retried; `jetmr report` counts the backups.
func TestBackupReportSupersedes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var in strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&in, "line %d of the input\n", i)
	}
	in.WriteString("LAST\n")
	writeTestFile(t, filepath.Join(dir, "in.txt"), in.String())
	writeTestFile(t, filepath.Join(dir, "slow.sh"), `f=$(mktemp) || exit 1
cat > "$f"
if grep -qx LAST "$f" && mkdir "`+dir+`/lock" 2>/dev/null; then sleep 60; fi
sleep 0.05
tr a-z A-Z < "$f"
rm -f "$f"
`)
	r := jetmr(t, dir, "pipe", "-q", "--store", filepath.Join(dir, "store"), "-j", "2", "--speculative", "-i", "in.txt", "-o", "out.txt",
		"--chunk-size", "4KiB", "--report", "run.json", "--", "sh", "slow.sh")
	if r.code != 0 {
		t.Fatalf("pipe: exit %d: %s", r.code, r.stderr)
	}
	var run struct {
		BackupsRun int `json:"backups_run"`
		BackupsWon int `json:"backups_won"`
		Attempts   []struct {
			Index                       uint64
			Failed, Retried, Superseded bool
		} `json:"attempts"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	superseded := 0
	for _, a := range run.Attempts {
		if a.Failed || a.Retried {
			t.Errorf("attempt of task %d: failed %v, retried %v; no attempt failed", a.Index, a.Failed, a.Retried)
		}
		if a.Superseded {
			superseded++
		}
	}
	if superseded != 1 || run.BackupsWon != 1 {
		t.Errorf("%d attempts superseded, %d backups won; want the slow attempt superseded by its backup", superseded, run.BackupsWon)
	}
	text := jetmr(t, dir, "report", "run.json")
	if want := fmt.Sprintf("%d run, 1 won", run.BackupsRun); text.code != 0 || !strings.Contains(text.stdout, "backups") || !strings.Contains(text.stdout, want) {
		t.Errorf("jetmr report: exit %d, want the backups (%s):\n%s%s", text.code, want, text.stdout, text.stderr)
	}
}
