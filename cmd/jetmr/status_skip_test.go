package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// gatedPoison fails (exit 3) on a line that starts with BAD, doubles the
// number on every other line, and on the line WAIT records that it
// started and waits until the file "go" exists.
const gatedPoison = `/^BAD/ { print "poison: " $0 > "/dev/stderr"; exit 3 }
/^WAIT/ { system("touch started; while [ ! -e go ]; do sleep 0.05; done"); next }
{ print $0 * 2 }`

// TestStatusOfKilledJobOverSkipLimit kills a skip-mode job (SIGKILL) after
// a task whose bad record goes over --skip-bad-records stored its result:
// status, counted from the job's streams, must list that task as failed,
// not done, in text and JSON, and say how to continue with the limit
// raised; the job's command run again with the flags status names
// completes the job.
func TestStatusOfKilledJobOverSkipLimit(t *testing.T) {
	t.Parallel()
	dir, store := t.TempDir(), t.TempDir()
	t.Cleanup(func() { os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) }) // frees the orphaned command
	// One bad line in the first chunk (skipped), one in the second
	// (refused: 2 > 1), the WAIT line in the last of four 8 KiB chunks.
	var in, want strings.Builder
	for i := 1; i <= 6000; i++ {
		if i == 5900 {
			in.WriteString("WAIT\n")
		}
		if i == 11 || i == 2500 {
			fmt.Fprintf(&in, "BAD %d\n", i)
			continue
		}
		fmt.Fprintf(&in, "%d\n", i)
		fmt.Fprintf(&want, "%d\n", 2*i)
	}
	path := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(path, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	head := []string{"pipe", "--store", store, "-i", path, "-o", "out.txt", "--chunk-size", "8KiB", "--retries", "0", "-j", "1",
		"--skip-bad-records", "1"}
	tail := []string{"--", "awk", gatedPoison}
	// One slot runs the tasks in order: once the last one started, the
	// results of the others are stored.
	p := startProc(t, dir, append(append(append([]string{}, head...), "--job", "k"), tail...)...)
	waitForFile(t, p, filepath.Join(dir, "started"))
	p.Signal(syscall.SIGKILL)
	if code := p.Wait(t, runTimeout); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("jetmr exited %d before it was killed; stderr:\n%s", code, p.Stderr)
	}

	js := jetmr(t, dir, "status", "--store", store, "--json", "k")
	var st struct {
		jobFigures
		Skipped uint64 `json:"skipped_records"`
		Failed  []struct {
			Index     int   `json:"index"`
			OverLimit bool  `json:"over_limit"`
			Records   []any `json:"records"`
		} `json:"failed"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &st); err != nil || js.code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s%s", js.code, err, js.stdout, js.stderr)
	}
	if st.State != "stopped" || st.TasksTotal != 4 || st.TasksDone != 2 || st.TasksFailed != 1 || st.DeadLetters != 1 || st.Skipped != 1 {
		t.Errorf("status --json of the killed job: %s; want stopped, 2 of 4 done, 1 failed, 1 dead letter, 1 skipped record", js.stdout)
	}
	if len(st.Failed) != 1 || st.Failed[0].Index != 1 || !st.Failed[0].OverLimit || len(st.Failed[0].Records) != 1 {
		t.Errorf("status --json lists the failed tasks %+v, want task 1 refused over the limit with its bad record", st.Failed)
	}

	txt := jetmr(t, dir, "status", "--store", store, "k")
	if txt.code != 0 {
		t.Fatalf("status: exit %d\n%s", txt.code, txt.stderr)
	}
	for _, want := range []string{
		"2/4 done, 1 failed", "more than --skip-bad-records 1", fmt.Sprintf(`bad record: %s line 2500 (byte`, path),
		"1 of --skip-bad-records 1", "--job k --resume --retry-failed --skip-bad-records 2 added",
	} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("status does not say %q:\n%s", want, txt.stdout)
		}
	}

	// The job's command with the flags status names, before the command.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append(append([]string{}, head...), "--job", "k", "--resume", "--retry-failed", "--skip-bad-records", "2"), tail...)
	r := jetmr(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("the job's command with the flags status names: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got := readOutput(t, filepath.Join(dir, "out.txt")); got != want.String() {
		t.Errorf("output after the resume differs from the input's numbers doubled without the bad lines (%d bytes, want %d)", len(got), want.Len())
	}
}

// TestStatusOfJobKilledBetweenPartitions kills a mapreduce job (its
// local worker in its process) once the third task stored the result of
// one of its two partitions but not the other: status counts the two
// tasks before it done, not the third, whose result the reducer cannot
// merge yet; the resume completes the job with the right counts.
func TestStatusOfJobKilledBetweenPartitions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 64<<10, 41)
	store := filepath.Join(dir, "store")
	args := []string{"mapreduce", "--store", store, "--job", "cut", "-i", in, "-o", "counts", "--map", "wordcount",
		"--reduce", "sum", "--partitions", "2", "--chunk-size", "8KiB", "-j", "1"}
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	_, stderr, wait := startJetmr(t, dir, append(env, "JETMR_CRASHPOINT=result.partial:3"), args...)
	if code := wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("with the crash point armed, jetmr exited %d instead of being killed there; stderr:\n%s", code, stderr)
	}
	js := jetmr(t, dir, "status", "--store", store, "--json", "cut")
	var st jobFigures
	if err := json.Unmarshal([]byte(js.stdout), &st); err != nil || js.code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s%s", js.code, err, js.stdout, js.stderr)
	}
	if st.State != "stopped" || st.TasksDone != 2 || st.TasksFailed != 0 {
		t.Errorf("status --json of the killed job: %s; want stopped with 2 tasks done (one slot ran them in order), 0 failed", js.stdout)
	}
	_, stderr, wait = startJetmr(t, dir, env, append([]string{"mapreduce", "--resume"}, args[1:]...)...)
	if code := wait(); code != 0 {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
	}
	got, want := readCounts(t, filepath.Join(dir, "counts")), referenceCounts(t, in)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts after the resume differ from the reference: %d words, want %d", len(got), len(want))
	}
}
