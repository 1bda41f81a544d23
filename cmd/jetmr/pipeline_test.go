package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"
)

func writeJobFile(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPipelineMatchesSequential runs the example shape, a pipe
// stage and a mapreduce stage over its output, and compares the outputs
// with those of jetmr pipe and jetmr mapreduce run one after the other.
func TestPipelineMatchesSequential(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeJobFile(t, dir, `
stages:
  - name: upper
    pipe: {input: [`+td(t, "text")+`], output: out/upper.txt, command: [tr, a-z, A-Z], chunk_size: 1KiB}
  - name: counts
    mapreduce: {input: [stage:upper], output: out/counts, map: wordcount, reduce: sum, partitions: 2, chunk_size: 1KiB}
`)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "pipeline", "--store", t.TempDir(), "-j", "3", "--report", "run.json", "job.yaml")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"stage upper started", "stage counts done", "critical path (*): upper -> counts"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	seq := t.TempDir()
	store := t.TempDir()
	if r := jetmr(t, seq, "pipe", "--store", store, "-q", "-i", td(t, "text"), "-o", "upper.txt", "--", "tr", "a-z", "A-Z"); r.code != 0 {
		t.Fatalf("jetmr pipe: %d\n%s", r.code, r.stderr)
	}
	if r := jetmr(t, seq, "mapreduce", "--store", store, "-q", "-i", "upper.txt", "-o", "counts", "--map", "wordcount", "--reduce", "sum", "--partitions", "2"); r.code != 0 {
		t.Fatalf("jetmr mapreduce: %d\n%s", r.code, r.stderr)
	}
	for _, f := range []string{"upper.txt", "counts/part-00000", "counts/part-00001"} {
		got, err := os.ReadFile(filepath.Join(dir, "out", f))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(seq, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || len(want) == 0 {
			t.Errorf("%s: pipeline wrote %d bytes, the commands in sequence %d", f, len(got), len(want))
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Job      string `json:"job"`
		Kind     string `json:"kind"`
		Tasks    int    `json:"tasks"`
		Stages   []struct{ Name string }
		Pipeline struct {
			CriticalPath []string `json:"critical_path"`
			Stages       []struct {
				Name, State string
				Start, End  time.Time
			} `json:"stages"`
		} `json:"pipeline"`
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if run.Kind != "pipeline" || run.Tasks < 2 || len(run.Stages) != 2 || !slices.Equal(run.Pipeline.CriticalPath, []string{"upper", "counts"}) {
		t.Errorf("report: kind %q, %d tasks, %d stages, critical path %v", run.Kind, run.Tasks, len(run.Stages), run.Pipeline.CriticalPath)
	}
	if ps := run.Pipeline.Stages; len(ps) != 2 || ps[1].Start.Before(ps[0].End) || ps[0].State != "done" {
		t.Errorf("report stages %+v: counts must start after upper ended", ps)
	}
	r = jetmr(t, dir, "report", "run.json", "--html", "run.html")
	if r.code != 0 || !strings.Contains(r.stdout, "(pipeline)") || !strings.Contains(r.stdout, "critical path (*): upper -> counts") {
		t.Fatalf("jetmr report: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if page, err := os.ReadFile(filepath.Join(dir, "run.html")); err != nil || !bytes.Contains(page, []byte("Critical path: upper → counts")) {
		t.Errorf("the report page does not name the critical path (%v)", err)
	}
}

// TestPipelineRefusesBadFiles: each problem is named with file:line, exit
// status 2, and nothing is written, on a run as on a dry run; a file with
// several problems is refused with every one of them at once.
func TestPipelineRefusesBadFiles(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"cycle", `
stages:
  - name: a
    pipe: {input: [stage:b], output: a.txt, command: [cat]}
  - name: b
    pipe: {input: [stage:a], output: b.txt, command: [cat]}
`, []string{"job.yaml:3: the stages depend on each other in a cycle: a -> b -> a"}},
		{"unknown dependency", `
stages:
  - name: a
    pipe: {input: [` + in + `], output: a.txt, command: [cat]}
    depends_on: [prepare]
`, []string{"job.yaml:5: stage a depends on prepare, but there is no stage prepare"}},
		{"missing field", `
stages:
  - name: counts
    mapreduce: {input: [` + in + `], map: wordcount, reduce: sum}
`, []string{"job.yaml:4: mapreduce of stage counts has no output"}},
		{"duplicate names", `
stages:
  - name: a
    pipe: {input: [` + in + `], output: a.txt, command: [cat]}
  - name: a
    pipe: {input: [` + in + `], output: b.txt, command: [cat]}
`, []string{"job.yaml:5: two stages are named a"}},
		{"missing input", `
stages:
  - name: a
    pipe: {input: [nothere.txt], output: a.txt, command: [cat]}
`, []string{"job.yaml:4: stage a: input nothere.txt does not exist"}},
		// The stage before the bad one is not run.
		{"unknown map", `
stages:
  - name: a
    pipe: {input: ` + in + `, output: a.txt, command: [tr, a-z, A-Z]}
  - name: b
    mapreduce: {input: ` + in + `, output: b, map: wordcout, reduce: sum}
`, []string{`job.yaml:6: mapreduce of stage b: map "wordcout" is neither a built-in (lines, wordcount, grep:REGEX) nor a command on PATH`}},
		{"unknown reduce", `
stages:
  - name: a
    pipe: {input: ` + in + `, output: a.txt, command: [tr, a-z, A-Z]}
  - name: b
    mapreduce:
      input: ` + in + `
      output: b
      map: wordcount
      reduce: summ
`, []string{`job.yaml:10: mapreduce of stage b: reduce "summ" is neither a built-in`}},
		{"map path not found", `
stages:
  - name: b
    mapreduce: {input: ` + in + `, output: b, map: ./mapper.sh, reduce: sum}
`, []string{`job.yaml:4: mapreduce of stage b: map: command "./mapper.sh" not found`}},
		{"unknown combiner", `
stages:
  - name: b
    mapreduce:
      input: ` + in + `
      output: b
      map: wordcount
      reduce: cat
      combiner: no-such-combiner-jetmr
`, []string{`job.yaml:9: mapreduce of stage b: combiner "no-such-combiner-jetmr": command "no-such-combiner-jetmr" not found`}},
		{"every problem at once", `
jobs: -3
stages:
  - name: a
    pipe:
      input: ` + in + `
      output: a.txt
      command: [tr, a-z, A-Z]
      retries: -1
      timeout: banana
      jobs: -3
  - name: b
    mapreduce: {input: ` + in + `, output: b, map: wordcout, reduce: summ}
  - name: c
    each: {items: [x], command: [echo, "{}"]}
  - name: d
    pipe: {input: stage:c, output: d.txt, command: [cat]}
  - name: e
    pipe: {input: nothere.txt, output: e.txt, command: [cat], partitions: 2}
`, []string{
			`job.yaml:2: jobs "-3" is not valid`,
			"job.yaml:9: retries: -1 is not valid",
			`job.yaml:10: timeout: "banana" is not a duration`,
			`job.yaml:11: pipe of stage a: jobs "-3" is not valid`,
			`job.yaml:13: mapreduce of stage b: map "wordcout" is neither a built-in`,
			`job.yaml:13: mapreduce of stage b: reduce "summ" is neither a built-in`,
			"job.yaml:17: stage d reads stage:c, but stage c writes no file",
			`job.yaml:19: unknown field "partitions" in pipe of stage e`,
			"job.yaml:19: stage e: input nothere.txt does not exist",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeJobFile(t, dir, tc.file)
			store := filepath.Join(t.TempDir(), "store")
			for _, dry := range []bool{true, false} {
				args := []string{"pipeline", "--store", store, "job.yaml"}
				if dry {
					args = append(args[:1], append([]string{"--dry-run"}, args[1:]...)...)
				}
				r := jetmr(t, dir, args...)
				if r.code != 2 || r.stdout != "" {
					t.Errorf("%s: exit status %d, stdout %q, want 2 and nothing; stderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
				}
				if got := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; got != len(tc.want) {
					t.Errorf("%s: %d problems named, want %d; stderr:\n%s", strings.Join(args, " "), got, len(tc.want), r.stderr)
				}
				for _, want := range tc.want {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("%s: stderr does not name %q:\n%s", strings.Join(args, " "), want, r.stderr)
					}
				}
				if names := dirNames(t, dir); !slices.Equal(names, []string{"job.yaml"}) {
					t.Errorf("the directory holds %q, want only job.yaml", names)
				}
				if _, err := os.Stat(store); !os.IsNotExist(err) {
					t.Errorf("the store was created (%v)", err)
				}
			}
		})
	}
	t.Run("no such file", func(t *testing.T) {
		t.Parallel()
		r := jetmr(t, t.TempDir(), "pipeline", "nothere.yaml")
		if r.code != 2 || !strings.Contains(r.stderr, "nothere.yaml") {
			t.Errorf("exit status %d, stderr %q", r.code, r.stderr)
		}
	})
}

// TestPipelineDryRunExample prints the plan of the README's example and
// runs nothing.
func TestPipelineDryRunExample(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "pipeline", "--dry-run", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"4 stages in 2 levels", "counts", "lint", "critical path (*): "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if names := dirNames(t, filepath.Join(dir, "out")); !slices.Equal(names, []string{".gitignore"}) {
		t.Errorf("a dry run wrote into examples/out: %q", names)
	}
}

func TestPipelineFailedStage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeJobFile(t, dir, `
retries: 0
stages:
  - name: broken
    pipe: {input: [`+td(t, "crlf.txt")+`], output: broken.txt, command: ["false"]}
  - name: after
    pipe: {input: [stage:broken], output: after.txt, command: [cat]}
`)
	r := jetmr(t, dir, "pipeline", "--store", t.TempDir(), "--job", "pfail", "job.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "jetmr: stage broken failed") || !strings.Contains(r.stderr, "not run: after") ||
		!strings.Contains(r.stderr, "jetmr: dead letter: task 0") {
		t.Errorf("exit status %d, stderr:\n%s", r.code, r.stderr)
	}
	// The way out is to resume the pipeline, not the stage's job alone.
	if !strings.Contains(r.stderr, "pipeline --store") || !strings.Contains(r.stderr, "--job pfail --resume --retry-failed") ||
		strings.Contains(r.stderr, "--job pfail-broken") {
		t.Errorf("stderr does not say to resume the pipeline with --retry-failed:\n%s", r.stderr)
	}
}

// TestPipelineInterruptAndResume stops a pipeline with SIGTERM in its
// second stage (exit status 130, the resume command printed), then
// resumes it to the end.
func TestPipelineInterruptAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := t.TempDir()
	writeJobFile(t, dir, `
stages:
  - name: first
    pipe: {input: [`+td(t, "crlf.txt")+`], output: first.txt, command: [tr, a-z, A-Z]}
  - name: second
    pipe: {input: [stage:first], output: second.txt, command: [sh, -c, "touch started; while [ ! -e ready ]; do sleep 0.05; done; cat"]}
`)
	p := clitest.Start(t, bin, dir, nil, "pipeline", "--store", store, "--job", "nightly", "job.yaml")
	eventually(t, runTimeout, "the second stage to start", func() (bool, string) {
		if p.Exited() {
			t.Fatalf("jetmr exited %d before the second stage started; stderr:\n%s", p.Code(), p.Stderr)
		}
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil, p.Stderr.String()
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(t, runTimeout); code != 130 || !strings.Contains(p.Stderr.String(), "--job nightly --resume") ||
		strings.Contains(p.Stderr.String(), "context canceled") {
		t.Fatalf("jetmr exited %d, want exit status 130 and the resume command, no context canceled; stderr:\n%s", code, p.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "second.txt")); !os.IsNotExist(err) {
		t.Errorf("second.txt exists after an interrupted stage (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := jetmr(t, dir, "pipeline", "--store", store, "--job", "nightly", "--resume", "job.yaml")
	if r.code != 0 || !strings.Contains(r.stderr, "first") || !strings.Contains(r.stderr, "already done") {
		t.Fatalf("resume: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	want := strings.ToUpper(fileText(t, td(t, "crlf.txt")))
	if got := fileText(t, filepath.Join(dir, "second.txt")); got != want {
		t.Errorf("second.txt is %d bytes, want the upper-cased input (%d bytes)", len(got), len(want))
	}
}

func fileText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPipelineWorkerMap: on --nats with no local workers, a stage's map
// may be a Go function only the workers have, as for jetmr mapreduce: the
// file is not refused, and a worker of one's own runs it. Where this
// process runs tasks, or for a reduce (which runs here), the same name is
// refused before anything runs.
func TestPipelineWorkerMap(t *testing.T) {
	t.Parallel()
	worker, cleanup, err := clitest.Build("../../job/testdata/customworker") // the built-ins and "initials"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	url := plainNATS(t)
	job := func(t *testing.T, reduce string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "in.txt"), "apple banana avocado\ncherry bean Apricot\n")
		writeJobFile(t, dir, `
stages:
  - name: a
    pipe: {input: in.txt, output: a.txt, command: [tr, A-Z, a-z]}
  - name: b
    mapreduce: {input: stage:a, output: b, map: initials, reduce: `+reduce+`}
`)
		return dir
	}
	for _, tc := range []struct {
		name, reduce string
		args         []string
		want         string // the problem, "" for none
	}{
		{"dry run", "sum", []string{"--dry-run", "--nats", url, "--local-workers", "0"}, ""},
		{"dry run, no --local-workers", "sum", []string{"--dry-run", "--nats", url}, ""},
		{"local workers", "sum", []string{"--nats", url, "--local-workers", "2"}, `job.yaml:6: mapreduce of stage b: map "initials" is neither a built-in`},
		{"embedded server", "sum", []string{"--store", filepath.Join(t.TempDir(), "store")}, `job.yaml:6: mapreduce of stage b: map "initials" is neither a built-in`},
		{"unknown reduce", "summ", []string{"--nats", url, "--local-workers", "0"}, `job.yaml:6: mapreduce of stage b: reduce "summ" is neither a built-in`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := job(t, tc.reduce)
			r := jetmr(t, dir, slices.Concat([]string{"pipeline"}, tc.args, []string{"job.yaml"})...)
			if tc.want == "" {
				if r.code != 0 || !strings.Contains(r.stdout, "2 stages in 2 levels") {
					t.Fatalf("exit %d, want 0 and the plan; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "started") {
				t.Fatalf("exit %d, want 2 naming %q before any stage started; stderr:\n%s", r.code, tc.want, r.stderr)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"in.txt", "job.yaml"}) {
				t.Errorf("the refused pipeline left %q", names)
			}
		})
	}
	t.Run("run on the worker", func(t *testing.T) {
		t.Parallel()
		w := clitest.Start(t, worker, "", nil, url)
		defer func() {
			w.Signal(syscall.SIGTERM)
			w.Wait(t, runTimeout)
		}()
		dir := job(t, "sum")
		r := jetmr(t, dir, "pipeline", "--nats", url, "--local-workers", "0", "--transport", "shared", "job.yaml")
		if r.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
		}
		if got := fileText(t, filepath.Join(dir, "b", "part-00000")); got != "a\t3\nb\t2\nc\t1\n" {
			t.Errorf("the worker's map counted %q, want a 3, b 2, c 1", got)
		}
	})
}
