package main_test

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// TestUnknownWorkerFunctionExitsAlike: a map function no live worker
// knows (--nats, --local-workers 0, a plain jetmr worker) is bad input of
// jetmr mapreduce and of a jetmr pipeline stage alike: exit 2, the
// workers' reason and the fix, no output, nothing kept under the job (the
// same command, --job included, runs again from the start), and no
// --retry-failed hint, which would only run the refused job again. A
// pipeline whose earlier stage ran prints how to continue it; the test
// starts a worker that has the function and runs that command.
func TestUnknownWorkerFunctionExitsAlike(t *testing.T) {
	t.Parallel()
	custom, cleanup, err := clitest.Build("../../job/testdata/customworker") // the built-ins and "initials"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	// Each case has a server of its own, with a worker that knows the
	// built-ins only: the worker of one's own the last case starts takes
	// no other case's job.
	cluster := func(t *testing.T) string {
		url := plainNATS(t)
		startWorker(t, url).waitUp(t)
		return url
	}
	const input = "apple banana avocado\ncherry bean Apricot\n"
	refused := []string{`unknown function: map "initials"`, "start workers whose registry has the job's functions"}
	checkRefused := func(t *testing.T, url string, r result, id string) {
		t.Helper()
		if r.code != 2 {
			t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
		}
		for _, want := range refused {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "--retry-failed") {
			t.Errorf("stderr advises --retry-failed, which runs the refused job again:\n%s", r.stderr)
		}
		if s := jetmr(t, "", "status", "--nats", url, id); s.code != 2 || !strings.Contains(s.stderr, "unknown job") {
			t.Errorf("jetmr status %s after the refusal: exit %d, want 2 (nothing kept); stderr:\n%s", id, s.code, s.stderr)
		}
	}
	t.Run("mapreduce", func(t *testing.T) {
		t.Parallel()
		url, dir := cluster(t), t.TempDir()
		writeFile(t, filepath.Join(dir, "in.txt"), input)
		r := jetmr(t, dir, "mapreduce", "--nats", url, "--local-workers", "0", "--transport", "shared", "--job", "mrunknown",
			"-i", "in.txt", "-o", "b", "--map", "initials", "--reduce", "sum")
		checkRefused(t, url, r, "mrunknown")
		if names := dirNames(t, dir); !slices.Equal(names, []string{"in.txt"}) {
			t.Errorf("the refused job left %q", names)
		}
	})
	t.Run("pipeline stage", func(t *testing.T) {
		t.Parallel()
		url, dir := cluster(t), t.TempDir()
		writeFile(t, filepath.Join(dir, "in.txt"), input)
		writeJobFile(t, dir, `
stages:
  - name: b
    mapreduce: {input: in.txt, output: b, map: initials, reduce: sum}
`)
		r := jetmr(t, dir, "pipeline", "--nats", url, "--local-workers", "0", "--transport", "shared", "--job", "plunknown", "job.yaml")
		checkRefused(t, url, r, "plunknown-b")
		if strings.Contains(r.stderr, "--resume") {
			t.Errorf("a pipeline of which nothing is kept advises --resume:\n%s", r.stderr)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"in.txt", "job.yaml"}) {
			t.Errorf("the refused pipeline left %q", names)
		}
	})
	t.Run("pipeline stage after one that ran", func(t *testing.T) {
		t.Parallel()
		url, dir := cluster(t), t.TempDir()
		writeFile(t, filepath.Join(dir, "in.txt"), input)
		writeJobFile(t, dir, `
stages:
  - name: a
    pipe: {input: in.txt, output: a.txt, command: [tr, A-Z, a-z]}
  - name: b
    mapreduce: {input: stage:a, output: b, map: initials, reduce: sum}
`)
		r := jetmr(t, dir, "pipeline", "--nats", url, "--local-workers", "0", "--transport", "shared", "--job", "plafter", "job.yaml")
		checkRefused(t, url, r, "plafter-b")
		if names := dirNames(t, dir); !slices.Equal(names, []string{"a.txt", "in.txt", "job.yaml"}) {
			t.Errorf("the pipeline left %q, want stage a's output alone", names)
		}
		hint := hintAfter(r.stderr, "continue it, once fixed, with:")
		if !strings.Contains(hint, "--job plafter --resume") {
			t.Fatalf("no resume command after the refused stage; stderr:\n%s", r.stderr)
		}
		w := clitest.Start(t, custom, "", nil, url)
		defer func() {
			w.Signal(syscall.SIGTERM)
			w.Wait(t, runTimeout)
		}()
		r = runHint(t, dir, hint)
		if r.code != 0 || !strings.Contains(r.stderr, "already done") {
			t.Fatalf("%s: exit %d, want 0 with stage a already done; stderr:\n%s", hint, r.code, r.stderr)
		}
		if got := fileText(t, filepath.Join(dir, "b", "part-00000")); got != "a\t3\nb\t2\nc\t1\n" {
			t.Errorf("the resumed stage counted %q, want a 3, b 2, c 1", got)
		}
	})
}
