package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/s3test"
	"github.com/jetmr/jetmr/migrate/migratetest"
)

// runLine runs a command line jetmr printed with sh in dir, "jetmr"
// being the binary under test, with env added to the environment.
func runLine(t *testing.T, dir string, env []string, line string) result {
	t.Helper()
	cmd := exec.Command("sh", "-c", `jetmr() { "$JETMR_BIN" "$@"; }; `+line)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "JETMR_BIN="+bin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return result{code: clitest.ExitCode(err), stdout: out.String(), stderr: errb.String()}
	case <-time.After(runTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%q did not finish within %s; stderr:\n%s", line, runTimeout, errb.String())
		return result{}
	}
}

// hintLines returns the n lines after the line of stderr that ends with
// intro, trimmed, or fails the test.
func hintLines(t *testing.T, stderr, intro string, n int) []string {
	t.Helper()
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, intro) && i+n < len(lines) {
			out := make([]string, n)
			for j := range out {
				out[j] = strings.TrimSpace(lines[i+1+j])
			}
			return out
		}
	}
	t.Fatalf("stderr has no %q followed by %d lines:\n%s", intro, n, stderr)
	return nil
}

// uploadFigures are the fields of a run report and of status --json that
// the upload tests check.
type uploadFigures struct {
	Tasks     int `json:"tasks"`
	Committed int `json:"already_committed"`
	Upload    *struct {
		URL        string `json:"url"`
		Uploaded   bool   `json:"uploaded"`
		UploadOnly bool   `json:"upload_only"`
		Error      string `json:"error"`
		Staged     string `json:"staged"`
	} `json:"upload"`
	// status --json
	State         string `json:"state"`
	Output        string `json:"output"`
	Staged        string `json:"staged"`
	TasksTotal    int    `json:"tasks_total"`
	TasksDone     int    `json:"tasks_done"`
	UploadPending bool   `json:"upload_pending"`
}

func readFigures(t *testing.T, data []byte) uploadFigures {
	t.Helper()
	var f uploadFigures
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return f
}

// TestS3UploadFailsReportAndStatus fails the upload of a pipe job's s3://
// output (the server down, or answering writes with 500): the run exits 3
// and still writes its --report, which says that every task ran and why
// the output is not uploaded, and prints its summary; jetmr status names
// the s3:// URL, not the staging path, with the job's tasks. The printed
// resume uploads the output and writes a report of its own (every task
// already committed, the output uploaded); status then says done with
// the same tasks and the URL, and a resume of the done job names the URL.
// The printed discard drops the job at the end.
func TestS3UploadFailsReportAndStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(s *s3test.Server)
		heal func(s *s3test.Server)
		want string // in the report's upload error
	}{
		{"server down", func(s *s3test.Server) { s.Down(true) }, func(s *s3test.Server) { s.Down(false) }, "cannot be reached"},
		{"server error", func(s *s3test.Server) { s.RefuseWrites(http.StatusInternalServerError) }, func(s *s3test.Server) { s.RefuseWrites(0) }, "500 InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := s3test.Start(t)
			s.Bucket(t, "outbkt")
			dir, store := t.TempDir(), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writeGatedInput(t, in, 96<<10)
			g := newGate(t, "0")
			const url = "s3://outbkt/r/up4.txt"
			env := append(s.Env(), "XDG_STATE_HOME="+t.TempDir())
			args := append([]string{"pipe", "--store", store, "-i", in, "-o", url, "--report", "up4.json", "--job", "up4",
				"--chunk-size", "16KiB", "-j", "1", "--"}, g.argv...)
			sub := clitest.Start(t, bin, dir, env, args...)
			eventually(t, runTimeout, "the gated task", func() (bool, string) { return g.started(), sub.Stderr.String() })
			tt.fail(s)
			g.release()
			if code := sub.Wait(t, runTimeout); code != 3 {
				t.Fatalf("failed upload: exit %d, want 3; stderr:\n%s", code, sub.Stderr)
			}
			stderr := sub.Stderr.String()
			data, err := os.ReadFile(filepath.Join(dir, "up4.json"))
			if err != nil {
				t.Fatalf("the run whose upload failed wrote no --report: %v; stderr:\n%s", err, stderr)
			}
			rep := readFigures(t, data)
			if rep.Tasks < 2 || rep.Upload == nil || rep.Upload.Uploaded || rep.Upload.URL != url || !strings.Contains(rep.Upload.Error, tt.want) ||
				!strings.HasSuffix(rep.Upload.Staged, filepath.Join("s3-output", "up4", "out")) {
				t.Fatalf("report of the failed upload: %s", data)
			}
			tasks := rep.Tasks
			if !regexp.MustCompile(`jetmr: job up4: ` + strconv.Itoa(tasks) + ` tasks .*NOT uploaded to ` + regexp.QuoteMeta(url)).MatchString(stderr) {
				t.Errorf("no summary saying the output is not uploaded:\n%s", stderr)
			}
			noSecret(t, stderr, string(data))
			status := func() (uploadFigures, string) {
				t.Helper()
				js := jetmrEnv(t, dir, env, "status", "--store", store, "--json", "up4")
				txt := jetmrEnv(t, dir, env, "status", "--store", store, "up4")
				if js.code != 0 || txt.code != 0 {
					t.Fatalf("status: exit %d and %d; stderr:\n%s%s", js.code, txt.code, js.stderr, txt.stderr)
				}
				return readFigures(t, []byte(js.stdout)), txt.stdout
			}
			st, txt := status()
			if st.Output != url || !st.UploadPending || st.TasksTotal != tasks || st.TasksDone != tasks || !strings.HasSuffix(st.Staged, filepath.Join("s3-output", "up4", "out")) {
				t.Errorf("status --json of the job whose upload failed: %+v, want output %s, upload pending, %d/%d tasks", st, url, tasks, tasks)
			}
			if !regexp.MustCompile(`output:\s+` + regexp.QuoteMeta(url)).MatchString(txt) {
				t.Errorf("status does not name the output %s:\n%s", url, txt)
			}

			tt.heal(s)
			resume := hintLines(t, stderr, "upload it with:", 1)[0]
			r := runLine(t, dir, env, resume)
			if r.code != 0 {
				t.Fatalf("printed resume %q: exit %d; stderr:\n%s", resume, r.code, r.stderr)
			}
			if got, ok := s.Get(t, "outbkt", "r/up4.txt"); !ok || string(got) != sequential(t, []string{"tr", "a-z", "A-Z"}, in) {
				t.Fatalf("after the resume the object holds %d bytes (exists %v), want the input upper-cased", len(got), ok)
			}
			data, err = os.ReadFile(filepath.Join(dir, "up4.json"))
			if err != nil {
				t.Fatal(err)
			}
			rep = readFigures(t, data)
			if rep.Tasks != tasks || rep.Committed != tasks || rep.Upload == nil || !rep.Upload.Uploaded || !rep.Upload.UploadOnly || rep.Upload.Error != "" {
				t.Errorf("report of the resume that uploaded the output: %s", data)
			}
			if !strings.Contains(r.stderr, "jetmr: job up4: "+strconv.Itoa(tasks)+" tasks") || !strings.Contains(r.stderr, "output uploaded to "+url) {
				t.Errorf("the resume printed no summary of the upload:\n%s", r.stderr)
			}
			st, txt = status()
			if st.State != "done" || st.Output != url || st.Staged != "" || st.TasksTotal != tasks || st.TasksDone != tasks {
				t.Errorf("status --json once uploaded: %+v, want done, output %s, %d/%d tasks", st, url, tasks, tasks)
			}
			if !regexp.MustCompile(`tasks:\s+`+strconv.Itoa(tasks)+`/`+strconv.Itoa(tasks)+` done`).MatchString(txt) ||
				!regexp.MustCompile(`output:\s+`+regexp.QuoteMeta(url)).MatchString(txt) || strings.Contains(txt, "s3-output") {
				t.Errorf("status once uploaded:\n%s", txt)
			}
			again := runLine(t, dir, env, resume)
			if again.code != 0 || !strings.Contains(again.stderr, "finished already; its output is "+url) {
				t.Errorf("resume of the done job: exit %d, want 0 naming %s; stderr:\n%s", again.code, url, again.stderr)
			}
			discard := hintLines(t, stderr, "drop them with:", 1)[0]
			if d := runLine(t, dir, env, discard); d.code != 0 {
				t.Errorf("printed %q: exit %d; stderr:\n%s", discard, d.code, d.stderr)
			}
			noSecret(t, r.stderr, again.stderr, string(data), txt)
		})
	}
}

// TestMigrateResumeOfDoneJobNamesTable resumes a migration that
// finished: the message names the table it migrated, not stdout.
func TestMigrateResumeOfDoneJobNamesTable(t *testing.T) {
	t.Parallel()
	d := migratetest.OpenSQLite(t)
	ks := migratetest.IntKeys(200, 5)
	d.CreateTable(t, ks, false)
	dir := t.TempDir()
	args := []string{"migrate", "--store", t.TempDir(), "--job", "mig", "--db", d.URL, "--table", "t", "--key", "id",
		"--sql", migPlainUpdate, "--chunk-size", "50"}
	if r := jetmr(t, dir, args...); r.code != 0 {
		t.Fatalf("migrate: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	r := jetmr(t, dir, append(args, "--resume")...)
	if r.code != 0 || !strings.Contains(r.stderr, "finished already; its output is table t of its database") || strings.Contains(r.stderr, "stdout") {
		t.Fatalf("resume of the finished migration: exit %d, want 0 naming its table; stderr:\n%s", r.code, r.stderr)
	}
}

// TestInputChangedHints changes the input of a pipe job while it runs (a
// local file edited in place, an object written again): the job exits 1
// with dead letters that say so, and what jetmr prints, at the end of
// the run and in jetmr status, is not --resume --retry-failed (refused
// for the changed input) but the commands that work: drop the job, run
// the command again. The test runs them; the output is the new input's.
func TestInputChangedHints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s3   bool
	}{
		{"file", false},
		{"object", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, store := t.TempDir(), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			const size = 96 << 10
			writeGatedInput(t, in, size)
			env := []string{"XDG_STATE_HOME=" + t.TempDir()}
			input := in
			var s *s3test.Server
			if tt.s3 {
				s = s3test.Start(t)
				s.Bucket(t, "inputs")
				data, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				s.Put(t, "inputs", "in.txt", data)
				env = append(env, s.Env()...)
				input = "s3://inputs/in.txt"
			}
			g := newGate(t, "0")
			args := append([]string{"pipe", "--store", store, "--job", "chg", "-i", input, "-o", "out.txt",
				"--chunk-size", "16KiB", "-j", "1", "--retries", "1", "--"}, g.argv...)
			sub := clitest.Start(t, bin, dir, env, args...)
			eventually(t, runTimeout, "the gated task", func() (bool, string) { return g.started(), sub.Stderr.String() })
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			changed := bytes.Replace(data, []byte("fox"), []byte("cat"), -1)
			if tt.s3 {
				s.Put(t, "inputs", "in.txt", changed)
			} else {
				f, err := os.OpenFile(in, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.WriteAt(changed, 0)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			g.release()
			if code := sub.Wait(t, runTimeout); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, sub.Stderr)
			}
			stderr := sub.Stderr.String()
			if !strings.Contains(stderr, "dead letter") || strings.Contains(stderr, "--retry-failed") {
				t.Fatalf("the run prints --retry-failed for a job whose input changed, or no dead letter:\n%s", stderr)
			}
			hint := hintLines(t, stderr, "drop it, then run the command again:", 2)
			st := jetmrEnv(t, dir, env, "status", "--store", store, "chg")
			if st.code != 0 || strings.Contains(st.stdout, "--retry-failed") || strings.Contains(st.stdout, "--resume added") {
				t.Fatalf("status of the job whose input changed: exit %d, advice with --resume:\n%s%s", st.code, st.stdout, st.stderr)
			}
			if got := hintLines(t, st.stdout, "once the job is dropped with:", 1)[0]; got != hint[0] {
				t.Errorf("status says %q, the run %q", got, hint[0])
			}
			if strings.Contains(hint[1], "--resume") {
				t.Errorf("the command to run again %q resumes", hint[1])
			}
			for _, line := range hint {
				if r := runLine(t, dir, env, line); r.code != 0 {
					t.Fatalf("printed %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
				}
			}
			got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.ToUpper(changed); !bytes.Equal(got, want) {
				t.Errorf("output of the run again: %d bytes, want the changed input upper-cased (%d bytes)", len(got), len(want))
			}
		})
	}
}

// TestS3ResumeOtherOutputRefused resumes a failed job that writes to an
// s3:// URL with another URL: refused (exit 2) naming both, as for a
// local output, though both stage to the same place; nothing is uploaded.
// With its own URL the resume completes and uploads there.
func TestS3ResumeOtherOutputRefused(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "outbkt")
	dir, store := t.TempDir(), t.TempDir()
	in := td(t, "nonl.txt")
	run := func(out string, extra []string, argv ...string) result {
		args := append([]string{"pipe", "--store", store, "--job", "other", "-i", in, "-o", out, "--retries", "0"}, extra...)
		return jetmrEnv(t, dir, s.Env(), append(append(args, "--"), argv...)...)
	}
	if r := run("s3://outbkt/a.txt", nil, "sh", "-c", "exit 3"); r.code != 1 {
		t.Fatalf("failing job: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	r := run("s3://outbkt/b.txt", []string{"--resume", "--retry-failed"}, "cat")
	if r.code != 2 || !strings.Contains(r.stderr, "the output was s3://outbkt/a.txt, now s3://outbkt/b.txt") {
		t.Fatalf("resume to another URL: exit %d, want 2 naming both URLs; stderr:\n%s", r.code, r.stderr)
	}
	if keys := s.Keys(t, "outbkt", ""); len(keys) != 0 {
		t.Fatalf("objects after the refused resume: %q", keys)
	}
	if r := run("s3://outbkt/a.txt", []string{"--resume", "--retry-failed"}, "cat"); r.code != 0 {
		t.Fatalf("resume to its own URL: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	want, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Get(t, "outbkt", "a.txt"); !ok || !bytes.Equal(got, want) {
		t.Fatalf("s3://outbkt/a.txt holds %q (exists %v), want the input", got, ok)
	}
}
