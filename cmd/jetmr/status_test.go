package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// stateHome is a private state directory that the runs of one test share,
// so that they use the same default store root.
type stateHome struct {
	env  []string
	root string // the default store root under it
}

func newStateHome(t *testing.T) stateHome {
	d := t.TempDir()
	return stateHome{env: []string{"XDG_STATE_HOME=" + d}, root: filepath.Join(d, "jetmr")}
}

func (h stateHome) run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return jetmrEnv(t, dir, h.env, args...)
}

// jobFigures are the fields of status --json the tests compare.
type jobFigures struct {
	Job         string `json:"job"`
	State       string `json:"state"`
	PID         int    `json:"pid"`
	TasksTotal  int    `json:"tasks_total"`
	TasksDone   int    `json:"tasks_done"`
	TasksFailed int    `json:"tasks_failed"`
	Malformed   int    `json:"malformed"`
	DeadLetters int    `json:"dead_letters"`
	InFlight    int    `json:"in_flight"`
	BytesIn     int64  `json:"bytes_in"`
	BytesOut    int64  `json:"bytes_out"`
	DiskBytes   int64  `json:"disk_bytes"`
}

// statusOf runs status --json JOB with args in dir.
func (h stateHome) statusOf(t *testing.T, dir, id string, args ...string) jobFigures {
	t.Helper()
	r := h.run(t, dir, append([]string{"status", "--json", id}, args...)...)
	if r.code != 0 {
		t.Fatalf("status %s: exit %d; stderr:\n%s", id, r.code, r.stderr)
	}
	var f jobFigures
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatalf("status --json %s: %v\n%s", id, err, r.stdout)
	}
	return f
}

// checkAgainstReport checks that status says what the run report says.
func checkAgainstReport(t *testing.T, f jobFigures, report map[string]any) {
	t.Helper()
	tasks, failed := int(report["tasks"].(float64)), int(report["failed"].(float64))
	malformed := 0
	if m, ok := report["malformed_messages"].([]any); ok {
		malformed = len(m)
	}
	want := jobFigures{
		Job: f.Job, State: f.State, PID: f.PID,
		TasksTotal: tasks, TasksDone: tasks - failed, TasksFailed: failed,
		Malformed: malformed, DeadLetters: len(report["dead_letters"].([]any)) + malformed,
		BytesIn: int64(report["bytes_in"].(float64)), BytesOut: int64(report["bytes_out"].(float64)),
		DiskBytes: f.DiskBytes,
	}
	if f != want {
		t.Errorf("status says\n%+v\nthe run report\n%+v", f, want)
	}
}

// poisonCommand copies its chunk, or fails when the chunk holds POISON.
var poisonCommand = []string{"sh", "-c", `in=$(cat); case "$in" in *POISON*) echo poisoned >&2; exit 1;; esac; printf '%s\n' "$in"`}

// writePoisoned writes n lines with POISON on line poison (0: none).
func writePoisoned(t *testing.T, path string, n, poison int) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i == poison {
			b.WriteString("POISON\n")
			continue
		}
		fmt.Fprintf(&b, "line %05d of the input\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusMatchesReport: for jobs that end, done or failed, status
// shows the figures of the run report, and the failed job's discard
// hints (from the run and from status) work.
func TestStatusMatchesReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		poison int
		args   []string
		code   int
		state  string
	}{
		{"pipe done", 0, nil, 0, "done"},
		{"pipe failed", 700, []string{"--retries", "0"}, 1, "failed"},
		{"mapreduce done", 0, []string{"mapreduce"}, 0, "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writePoisoned(t, in, 2000, tt.poison)
			id := strings.ReplaceAll(tt.name, " ", "-")
			args := []string{"pipe", "-i", in, "-o", "out.txt", "--chunk-size", "4KiB", "--job", id, "--report", "run.json", "-q"}
			if len(tt.args) > 0 && tt.args[0] == "mapreduce" {
				args = []string{"mapreduce", "-i", in, "-o", "counts", "--map", "wordcount", "--reduce", "sum", "--partitions", "3",
					"--chunk-size", "4KiB", "--job", id, "--report", "run.json", "-q"}
			} else {
				args = append(append(args, tt.args...), "--")
				args = append(args, poisonCommand...)
			}
			r := h.run(t, dir, args...)
			if r.code != tt.code {
				t.Fatalf("job exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			f := h.statusOf(t, dir, id)
			if f.State != tt.state || f.InFlight != 0 {
				t.Errorf("state %q with %d in flight, want %q and none", f.State, f.InFlight, tt.state)
			}
			checkAgainstReport(t, f, readReport(t, filepath.Join(dir, "run.json")))
			if tt.code == 0 {
				return
			}
			if f.TasksFailed != 1 || f.DiskBytes == 0 {
				t.Errorf("failed job: %d failed tasks, %d bytes on disk; want 1 and its staged output", f.TasksFailed, f.DiskBytes)
			}
			runHint := discardHint(t, r.stderr)
			st := h.run(t, dir, "status", id)
			if st.code != 0 || discardHint(t, st.stdout) != runHint {
				t.Fatalf("status %s: exit %d, hint %q, want the run's %q:\n%s", id, st.code, discardHint(t, st.stdout), runHint, st.stdout)
			}
			runHintCommand(t, h, dir, runHint)
			if names := dirNames(t, dir); strings.Join(names, " ") != "in.txt run.json" {
				t.Errorf("after discard the working directory holds %q, want in.txt and run.json", names)
			}
			if _, err := os.Stat(filepath.Join(h.root, "jobs", id)); !os.IsNotExist(err) {
				t.Errorf("the job's store is still there after discard: %v", err)
			}
			if r := h.run(t, dir, "status", id); r.code != 2 || !strings.Contains(r.stderr, "unknown job "+id) {
				t.Errorf("status of a discarded job: exit %d, want 2 naming it; stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// discardHint is the jetmr discard command printed in out.
func discardHint(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "jetmr discard "); ok {
			return "jetmr discard " + cmd
		}
	}
	t.Fatalf("no jetmr discard hint in:\n%s", out)
	return ""
}

// runHintCommand runs a printed jetmr command line through a shell in dir,
// with the test's binary as jetmr, and checks that it succeeds.
func runHintCommand(t *testing.T, h stateHome, dir, line string) {
	t.Helper()
	sh := exec.Command("sh", "-c", `jetmr() { "$JETMR_BIN" "$@"; }; `+line)
	sh.Dir = dir
	sh.Env = append(append(os.Environ(), h.env...), "JETMR_BIN="+bin)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("hint %q: %v\n%s", line, err, out)
	}
}

// TestStatusRunningThenStopped: a running job is "running (pid N)"; once
// its process is killed (SIGKILL) or stopped (SIGTERM), status says
// stopped, and its done count is what the resumed run's report finds
// already committed. A running job cannot be discarded.
func TestStatusRunningThenStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sig     syscall.Signal
		discard bool // drop the stopped job with the hint status prints, instead of resuming it
	}{{syscall.SIGKILL, false}, {syscall.SIGTERM, false}, {syscall.SIGKILL, true}}
	for _, tt := range tests {
		sig := tt.sig
		t.Run(fmt.Sprintf("%v discard %v", sig, tt.discard), func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writeInput(t, in, 3000, true)
			g := newGate(t, "0.02")
			id := "held"
			args := append([]string{"pipe", "-i", in, "-o", "out.txt", "--chunk-size", "4KiB", "-j", "2", "--job", id, "--"}, g.argv...)
			p := startProcEnv(t, dir, h.env, args...)
			cmd, stderr := p.Cmd, p.Stderr
			eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), stderr.String() })
			var f jobFigures
			eventually(t, runTimeout, "running status", func() (bool, string) {
				f = h.statusOf(t, dir, id)
				return f.State == "running" && f.PID == cmd.Process.Pid && f.TasksDone > 0, fmt.Sprintf("%+v", f)
			})
			r := h.run(t, dir, "status")
			if want := fmt.Sprintf("running (pid %d)", cmd.Process.Pid); !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
			r = h.run(t, dir, "discard", id)
			if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprint(cmd.Process.Pid)) || !strings.Contains(r.stderr, "stop it first") {
				t.Errorf("discard of a running job: exit %d, want 2 naming its process; stderr:\n%s", r.code, r.stderr)
			}
			r = h.run(t, dir, slices.Insert(slices.Clone(args), 1, "--resume")...)
			if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprintf("job %s runs in jetmr process %d", id, cmd.Process.Pid)) {
				t.Errorf("resume of a running job: exit %d, want 2 naming its process; stderr:\n%s", r.code, r.stderr)
			}
			cmd.Process.Signal(sig)
			g.release() // a graceful stop may wait for the running tasks
			code := p.Wait(t, runTimeout)
			if want := map[syscall.Signal]int{syscall.SIGKILL: 137, syscall.SIGTERM: 130}[sig]; code != want {
				t.Fatalf("exit %d after %v, want %d; stderr:\n%s", code, sig, want, stderr)
			}
			f = h.statusOf(t, dir, id)
			if f.State != "stopped" || f.InFlight != 0 || f.TasksDone == 0 || f.TasksDone >= f.TasksTotal {
				t.Fatalf("status after %v: %+v, want stopped, nothing in flight, some tasks done", sig, f)
			}
			resume := slices.Insert(slices.Clone(args), 1, "--resume", "--report", "run.json")
			if tt.discard {
				st := h.run(t, dir, "status", id)
				runHintCommand(t, h, dir, discardHint(t, st.stdout))
				if names := dirNames(t, dir); strings.Join(names, " ") != "in.txt" {
					t.Errorf("after discard the working directory holds %q, want in.txt", names)
				}
				if r := h.run(t, dir, resume...); r.code != 2 || !strings.Contains(r.stderr, "there is no job "+id) {
					t.Errorf("resume after discard: exit %d, want 2; stderr:\n%s", r.code, r.stderr)
				}
				return
			}
			if r := h.run(t, dir, resume...); r.code != 0 {
				t.Fatalf("resume: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			report := readReport(t, filepath.Join(dir, "run.json"))
			if committed := int(report["already_committed"].(float64)); committed != f.TasksDone {
				t.Errorf("status said %d tasks done; the resume found %d committed", f.TasksDone, committed)
			}
			checkPipeOutput(t, dir, g.argv, in)
			done := h.statusOf(t, dir, id)
			checkAgainstReport(t, done, report)
		})
	}
}

// TestConcurrentDefaultStore: four jobs with the default store run at
// once, each correct, and status lists the four.
func TestConcurrentDefaultStore(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tr := []string{"tr", "a-z", "A-Z"}
	dirs := make([]string, 4)
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = t.TempDir()
		in := filepath.Join(dirs[i], "in.txt")
		genText(t, in, 200<<10, uint64(i))
		wg.Go(func() {
			results[i] = h.run(t, dirs[i], append([]string{"pipe", "-i", in, "-o", "out.txt", "--chunk-size", "8KiB", "-j", "2", "-q", "--"}, tr...)...)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("job %d: exit %d; stderr:\n%s", i, r.code, r.stderr)
		}
		got, err := os.ReadFile(filepath.Join(dirs[i], "out.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if want := sequential(t, tr, filepath.Join(dirs[i], "in.txt")); string(got) != want {
			t.Errorf("job %d: output differs from the sequential run", i)
		}
	}
	r := h.run(t, t.TempDir(), "status", "--json")
	var list struct{ Jobs []jobFigures }
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil {
		t.Fatalf("status --json: exit %d, %v; stderr:\n%s", r.code, err, r.stderr)
	}
	if len(list.Jobs) != 4 {
		t.Fatalf("status lists %d jobs, want 4: %+v", len(list.Jobs), list.Jobs)
	}
	for _, f := range list.Jobs {
		if f.State != "done" || f.TasksDone != f.TasksTotal || f.TasksTotal == 0 {
			t.Errorf("job %s: %+v, want done with every task", f.Job, f)
		}
	}
}

// TestStatusDiscardBadInput: unknown jobs and stores get exit 2, one
// message, and nothing is created.
func TestStatusDiscardBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"status of a store that is not there", []string{"status", "--store", "typo"}, "no jetmr store at typo"},
		{"status of an unknown job", []string{"status", "nosuch"}, "unknown job nosuch"},
		{"status with --nats and --store", []string{"status", "--nats", "nats://127.0.0.1:1", "--store", "typo"}, "not both"},
		{"discard of an unknown job", []string{"discard", "nosuch"}, "unknown job nosuch"},
		{"discard in a store that is not there", []string{"discard", "nosuch", "--store", "typo"}, "no jetmr store at typo"},
		{"discard without a job", []string{"discard"}, "discard needs one JOB"},
		{"discard of an invalid ID", []string{"discard", "../x"}, "unknown job ../x"},
		{"token file missing", []string{"status", "--nats", "nats://127.0.0.1:1", "--token-file", "nofile"}, "reading token file nofile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			r := h.run(t, dir, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, want 2 and one line saying %q; stderr:\n%s", r.code, tt.want, r.stderr)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("working directory holds %q, want nothing", names)
			}
			if _, err := os.Stat(h.root); !os.IsNotExist(err) {
				t.Errorf("the default store root was created: %v", err)
			}
		})
	}
	h := newStateHome(t)
	if r := h.run(t, t.TempDir(), "status"); r.code != 0 || r.stdout != "no jobs\n" {
		t.Errorf("status without jobs: exit %d, stdout %q, want 0 and \"no jobs\"; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(h.root); !os.IsNotExist(err) {
		t.Errorf("status created the default store root: %v", err)
	}
}

// TestDiscardStores: a failed job is discarded from an explicit --store
// and from a NATS server by the hint its run prints; its staged output,
// spill files and streams go.
func TestDiscardStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		where func(t *testing.T) []string
	}{
		{"store", func(t *testing.T) []string { return []string{"--store", "st"} }},
		{"nats", func(t *testing.T) []string { return []string{"--nats", plainNATS(t)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writePoisoned(t, in, 2000, 10)
			where := tt.where(t)
			args := append([]string{"pipe", "-i", in, "-o", "out.txt", "--chunk-size", "4KiB", "--retries", "0", "--job", "bad", "--local-workers", "2", "-q"}, where...)
			r := h.run(t, dir, append(append(args, "--"), poisonCommand...)...)
			if r.code != 1 {
				t.Fatalf("job exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, ".out.txt.jetmr-bad.tmp")); err != nil {
				t.Fatalf("no staged output after the failed run: %v", err)
			}
			if f := h.statusOf(t, dir, "bad", where...); f.State != "failed" || f.TasksFailed != 1 || f.DiskBytes == 0 {
				t.Errorf("status: %+v, want failed, 1 failed task, disk used", f)
			}
			runHintCommand(t, h, dir, discardHint(t, r.stderr))
			if _, err := os.Stat(filepath.Join(dir, ".out.txt.jetmr-bad.tmp")); !os.IsNotExist(err) {
				t.Errorf("staged output still there after discard: %v", err)
			}
			if r := h.run(t, dir, append([]string{"status", "bad"}, where...)...); r.code != 2 {
				t.Errorf("status after discard: exit %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			if r := h.run(t, dir, append([]string{"status", "--json"}, where...)...); !strings.Contains(r.stdout, `"jobs": []`) {
				t.Errorf("status lists jobs after discard:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

// TestStatusRunningOnNATS: on a NATS server, a running job is shown
// running with its submitter's process, from the snapshot it records, and
// cannot be discarded.
func TestStatusRunningOnNATS(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	url := plainNATS(t)
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 2000, true)
	g := newGate(t, "0")
	args := append([]string{"pipe", "--nats", url, "--local-workers", "2", "-i", in, "-o", "out.txt", "--chunk-size", "4KiB", "--job", "remote", "--"}, g.argv...)
	p := startProcEnv(t, dir, h.env, args...)
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	var f jobFigures
	eventually(t, runTimeout, "running status", func() (bool, string) {
		f = h.statusOf(t, dir, "remote", "--nats", url)
		return f.State == "running" && f.PID == p.Cmd.Process.Pid && f.TasksDone > 0, fmt.Sprintf("%+v", f)
	})
	if r := h.run(t, dir, "discard", "remote", "--nats", url); r.code != 2 || !strings.Contains(r.stderr, "stop it first") {
		t.Errorf("discard of a running job: exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	g.release()
	if code := p.Wait(t, runTimeout); code != 0 {
		t.Fatalf("job exit %d; stderr:\n%s", code, p.Stderr)
	}
	if f = h.statusOf(t, dir, "remote", "--nats", url); f.State != "done" || f.TasksDone != f.TasksTotal {
		t.Errorf("after the run: %+v, want done", f)
	}
}
