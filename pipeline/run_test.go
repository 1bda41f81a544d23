package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/pipeline"
)

// runTimeout bounds every pipeline a test runs.
const runTimeout = 60 * time.Second

// env is an open embedded broker in a test's own store.
type env struct {
	dir  string
	b    *broker.Broker
	bcfg broker.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	bcfg := broker.Config{StoreDir: filepath.Join(dir, "store")}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	b, err := broker.Open(ctx, bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &env{dir: dir, b: b, bcfg: bcfg}
}

// run plans and runs the job file text with opts (ID, Broker and Slots
// filled in when unset).
func (e *env) run(t *testing.T, ctx context.Context, text string, opts pipeline.Options) (*pipeline.Report, error) {
	t.Helper()
	f := mustParse(t, text)
	p, err := pipeline.NewPlan(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ID == "" {
		opts.ID = "p"
	}
	if opts.Slots == 0 {
		opts.Slots = 4
	}
	opts.Broker, opts.BrokerConfig = e.b, e.bcfg
	if opts.Stdout == nil {
		opts.Stdout = &bytes.Buffer{}
	}
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
	}
	return pipeline.Run(ctx, p, opts)
}

func stageOf(t *testing.T, r *pipeline.Report, name string) pipeline.StageReport {
	t.Helper()
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("report has no stage %s", name)
	return pipeline.StageReport{}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestRunDiamond runs a -> {b, c} -> d: b and c run at the same time, d
// after both. The middle stages sleep so that they certainly overlap; the
// test checks the order of the recorded times, never their lengths.
func TestRunDiamond(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 1000)
	out := func(name string) string { return filepath.Join(e.dir, name) }
	rep, err := e.run(t, nil, `
stages:
  - name: a
    pipe: {input: [`+in+`], output: `+out("a.txt")+`, command: [tr, a-z, A-Z]}
  - name: b
    pipe: {input: [stage:a], output: `+out("b.txt")+`, command: [sh, -c, "sleep 0.5; cat"]}
  - name: c
    pipe: {input: [stage:a], output: `+out("c.txt")+`, command: [sh, -c, "sleep 0.5; tr A-Z a-z"]}
  - name: d
    pipe: {input: [stage:b, stage:c], output: `+out("d.txt")+`, command: [cat]}
`, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := stageOf(t, rep, "a"), stageOf(t, rep, "b"), stageOf(t, rep, "c"), stageOf(t, rep, "d")
	for _, s := range []pipeline.StageReport{a, b, c, d} {
		if s.State != pipeline.StateDone || s.Start.IsZero() || s.End.Before(s.Start) {
			t.Fatalf("stage %s: state %s, %s to %s", s.Name, s.State, s.Start, s.End)
		}
	}
	if b.Start.Before(a.End) || c.Start.Before(a.End) {
		t.Errorf("b (from %s) or c (from %s) started before a ended (%s)", b.Start, c.Start, a.End)
	}
	if !b.Start.Before(c.End) || !c.Start.Before(b.End) {
		t.Errorf("b (%s to %s) and c (%s to %s) did not overlap", b.Start, b.End, c.Start, c.End)
	}
	if d.Start.Before(b.End) || d.Start.Before(c.End) {
		t.Errorf("d started at %s, before b (%s) or c (%s) ended", d.Start, b.End, c.End)
	}
	if b.Slots+c.Slots != 4 || b.Slots < 1 || c.Slots < 1 {
		t.Errorf("b and c ran on %d and %d slots, want 4 shared", b.Slots, c.Slots)
	}
	text := readFile(t, in)
	if got, want := readFile(t, out("d.txt")), strings.ToUpper(text)+text; got != want {
		t.Errorf("d.txt is %d bytes, want b's output then c's (%d bytes)", len(got), len(want))
	}
	if len(rep.CriticalPath) != 3 || rep.CriticalPath[0] != "a" || rep.CriticalPath[2] != "d" {
		t.Errorf("critical path as run %v, want a, b or c, d", rep.CriticalPath)
	}
	if got := rep.ObserveStages(); len(got) != 4 || !got[0].Critical {
		t.Errorf("stages for the report page: %+v", got)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "critical path (*): a -> ") {
		t.Errorf("report text (%v):\n%s", err, buf.String())
	}
}

// TestRunFailedStageStopsDependents: a failed stage's dependents do not
// run; the independent stage runs to the end.
func TestRunFailedStageStopsDependents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 100)
	rep, err := e.run(t, nil, `
retries: 0
stages:
  - name: broken
    pipe: {input: [`+in+`], output: `+e.dir+`/broken.txt, command: ["false"]}
  - name: after
    pipe: {input: [stage:broken], output: `+e.dir+`/after.txt, command: [cat]}
  - name: last
    pipe: {input: [stage:after], output: `+e.dir+`/last.txt, command: [cat]}
  - name: other
    pipe: {input: [`+in+`], output: `+e.dir+`/other.txt, command: [sh, -c, "sleep 0.2; cat"]}
`, pipeline.Options{})
	var serr *pipeline.StageError
	if !errors.As(err, &serr) || serr.Stage != "broken" || !errors.Is(err, job.ErrTasksFailed) || errors.Is(err, job.ErrBadInput) {
		t.Fatalf("error %v, want a StageError of stage broken matching job.ErrTasksFailed", err)
	}
	if !strings.Contains(err.Error(), "stage broken failed") || !strings.Contains(err.Error(), "not run: after, last") {
		t.Errorf("error %q does not name the stage and the stages not run", err)
	}
	for name, state := range map[string]string{"broken": pipeline.StateFailed, "after": pipeline.StateNotRun, "last": pipeline.StateNotRun, "other": pipeline.StateDone} {
		if got := stageOf(t, rep, name).State; got != state {
			t.Errorf("stage %s: %s, want %s", name, got, state)
		}
	}
	if _, err := os.Stat(e.dir + "/after.txt"); !os.IsNotExist(err) {
		t.Errorf("after.txt exists (%v)", err)
	}
	if readFile(t, e.dir+"/other.txt") != readFile(t, in) {
		t.Error("other.txt differs from its input")
	}
}

// cancelOnAttempt cancels a context when a task attempt of job starts.
type cancelOnAttempt struct {
	job    string
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelOnAttempt) JobStarted(string, string, int64, int64, int) {}
func (c *cancelOnAttempt) TasksPublished(string, string, int64, bool)   {}
func (c *cancelOnAttempt) AttemptEnded(observe.Attempt)                 {}
func (c *cancelOnAttempt) JobEnded(string, string, error)               {}
func (c *cancelOnAttempt) AttemptStarted(a observe.Attempt) {
	if a.Job == c.job {
		c.once.Do(c.cancel)
	}
}

// TestRunResume interrupts a pipeline in its second stage, then resumes
// it: the first stage is not run again, the second is resumed, the third
// runs.
func TestRunResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 1000)
	ready := filepath.Join(e.dir, "ready")
	text := `
stages:
  - name: first
    pipe: {input: [` + in + `], output: ` + e.dir + `/first.txt, command: [tr, a-z, A-Z]}
  - name: second
    pipe:
      input: [stage:first]
      output: ` + e.dir + `/second.txt
      command: [sh, -c, "while [ ! -e ` + ready + ` ]; do sleep 0.05; done; cat"]
  - name: third
    pipe: {input: [stage:second], output: ` + e.dir + `/third.txt, command: [cat]}
`
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	stop := &cancelOnAttempt{job: "p-second", cancel: cancel}
	rep, err := e.run(t, ctx, text, pipeline.Options{Observer: stop})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	for name, state := range map[string]string{"first": pipeline.StateDone, "second": pipeline.StateStopped, "third": pipeline.StateStopped} {
		if got := stageOf(t, rep, name).State; got != state {
			t.Errorf("interrupted run: stage %s: %s, want %s", name, got, state)
		}
	}

	if _, err := e.run(t, nil, text, pipeline.Options{}); !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "add --resume") {
		t.Fatalf("rerun without resume: %v, want a bad input error asking for --resume", err)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = e.run(t, nil, text, pipeline.Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]string{"first": pipeline.StateAlreadyDone, "second": pipeline.StateDone, "third": pipeline.StateDone} {
		if got := stageOf(t, rep, name).State; got != state {
			t.Errorf("resumed run: stage %s: %s, want %s", name, got, state)
		}
	}
	if got, want := readFile(t, e.dir+"/third.txt"), strings.ToUpper(readFile(t, in)); got != want {
		t.Errorf("third.txt is %d bytes, want the upper-cased input (%d bytes)", len(got), len(want))
	}
	rep, err = e.run(t, nil, text, pipeline.Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Stages {
		if s.State != pipeline.StateAlreadyDone {
			t.Errorf("second resume: stage %s: %s, want %s", s.Name, s.State, pipeline.StateAlreadyDone)
		}
	}
}

// TestRunEachStage runs a fork-join pipeline: a pipe stage writes the
// item list that an each stage reads, whose join gets every item's result.
// The top-level task_time applies to the pipe stage only.
func TestRunEachStage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := filepath.Join(e.dir, "in.txt")
	if err := os.WriteFile(in, []byte("b\na c\n$(touch pwned)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err := e.run(t, nil, `
task_time: 2s
stages:
  - name: list
    pipe: {input: [`+in+`], output: `+e.dir+`/items.txt, command: [sort]}
  - name: greet
    each: {items_file: `+e.dir+`/items.txt, command: [echo, hi, "{}"], keep_order: true, join: [cp, "{}", `+e.dir+`/joined.jsonl], chunk_size: 2}
    depends_on: [list]
`, pipeline.Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "hi $(touch pwned)\nhi a c\nhi b\n"; got != want {
		t.Errorf("each stage printed %q, want %q", got, want)
	}
	if lines := strings.Count(readFile(t, e.dir+"/joined.jsonl"), "\n"); lines != 3 {
		t.Errorf("the join file has %d lines, want one per item (3)", lines)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "pwned")); err == nil {
		t.Error("an item was run as shell text")
	}
}

func TestRunRefusesUnknownResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 100)
	_, err := e.run(t, nil, `
stages:
  - name: a
    pipe: {input: [`+in+`], output: `+e.dir+`/a.txt, command: [cat]}
`, pipeline.Options{ID: "nothere", Resume: true})
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "no pipeline nothere to resume") {
		t.Fatalf("resume of an unknown pipeline: %v", err)
	}
}

// TestRunEachStageBadItemsFileWithChunkSize checks that an each stage
// whose items_file cannot be read fails on that, even when the stage also
// sets chunk_size (whose parsing used to replace the error).
func TestRunEachStageBadItemsFileWithChunkSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := filepath.Join(e.dir, "items.d") // a folder: opened, but not read
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, nil, `
stages:
  - name: greet
    each: {items_file: `+missing+`, command: [echo, "{}"], chunk_size: 2}
`, pipeline.Options{})
	if err == nil || !strings.Contains(err.Error(), "items_file "+missing) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("each stage with an unreadable items_file: %v, want an error naming items_file %s", err, missing)
	}
}

// TestRunRefusesExistingOutputs runs a pipeline, then the same file as a
// new run: every stage's output exists, so the run is refused before any
// stage runs, naming each output, and the outputs are left as they were.
// With Force the stages run and replace them.
func TestRunRefusesExistingOutputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 1000)
	a, b := filepath.Join(e.dir, "a.txt"), filepath.Join(e.dir, "b.txt")
	text := `
stages:
  - name: a
    pipe: {input: [` + in + `], output: ` + a + `, command: [tr, a-z, A-Z]}
  - name: b
    pipe: {input: ["stage:a"], output: ` + b + `, command: [tr, A-Z, a-z]}
`
	if _, err := e.run(t, nil, text, pipeline.Options{ID: "first"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.run(t, nil, text, pipeline.Options{ID: "second"})
	if !errors.Is(err, job.ErrBadInput) {
		t.Fatalf("second run over existing outputs: %v, want bad input", err)
	}
	for _, p := range []string{a, b} {
		if !strings.Contains(err.Error(), "output "+p+" already exists") || !strings.Contains(err.Error(), "--force") {
			t.Errorf("the refusal does not name %s and --force: %v", p, err)
		}
		if got := readFile(t, p); got != "mine\n" {
			t.Errorf("%s was overwritten by a refused run: %q", p, got)
		}
	}
	if _, err := e.run(t, nil, text, pipeline.Options{ID: "third", Force: true}); err != nil {
		t.Fatalf("run with Force: %v", err)
	}
	if got, want := readFile(t, b), readFile(t, in); got != want {
		t.Errorf("with Force, b.txt is not the pipeline's output")
	}
}

// TestRunRecordStages runs a pipe stage over CSV with a header and quoted
// newlines and a mapreduce stage over its output with the header: the
// pipe keeps one header and never cuts a record, the map skips the
// header each chunk reads first.
func TestRunRecordStages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := filepath.Join(e.dir, "in.csv")
	var csv strings.Builder
	csv.WriteString("name,\"note\nof two lines\"\n")
	for i := range 300 {
		fmt.Fprintf(&csv, "k%d,\"x\n%d\"\n", i%3, i)
	}
	if err := os.WriteFile(in, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, nil, `
stages:
  - name: keys
    pipe: {input: [`+in+`], output: `+e.dir+`/keys.csv, command: [awk, "NR % 2 == 1 { print $1 }"], format: csv, header: 1, header_once: true, chunk_size: 256}
  - name: count
    mapreduce: {input: [stage:keys], output: `+e.dir+`/counts, map: "awk 'NR > 1 { print $0 \"\\t1\" }'", reduce: sum, header: 1, chunk_size: 256}
`, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Every record is two lines: awk prints the first line's name field.
	var want strings.Builder
	want.WriteString("name,\"note\n")
	for i := range 300 {
		fmt.Fprintf(&want, "k%d,\"x\n", i%3)
	}
	if got := readFile(t, e.dir+"/keys.csv"); got != want.String() {
		t.Errorf("keys.csv is %d bytes, want %d:\n%.300s", len(got), want.Len(), got)
	}
	if got := readFile(t, e.dir+"/counts/part-00000"); got != "k0,\"x\t100\nk1,\"x\t100\nk2,\"x\t100\n" {
		t.Errorf("counts: %q", got)
	}
}

// TestRunStreamingStage runs a mapreduce stage with a combiner, two key
// fields partitioned on the first and a numeric key order: its part files
// hold, for each user, the events in time order, as sort -k1,1 -k2,2n
// gives them; and a combiner refused with a built-in reduce is named by
// its job file key.
func TestRunStreamingStage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := filepath.Join(e.dir, "events.tsv")
	var events strings.Builder
	for i := range 400 {
		fmt.Fprintf(&events, "u%d\t%d\te%d\n", i%7, (i*37)%1000, i)
	}
	if err := os.WriteFile(in, []byte(events.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, nil, `
stages:
  - name: sessions
    mapreduce: {input: [`+in+`], output: `+e.dir+`/by-user, map: cat, combiner: cat, reduce: cat, partitions: 3, key_fields: 2, partition_fields: 1, key_order: "text,numeric", chunk_size: 1KiB}
`, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sort := exec.Command("sort", "-t", "\t", "-k1,1", "-k2,2n", in)
	sort.Env = append(os.Environ(), "LC_ALL=C")
	want, err := sort.Output()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for p := range 3 {
		parts = append(parts, readFile(t, filepath.Join(e.dir, "by-user", fmt.Sprintf("part-%05d", p))))
	}
	// Each user's lines are in one part, in order; the parts together,
	// users grouped by part, hold every line.
	byUser := map[string][]string{}
	for p, part := range parts {
		seen := map[string]bool{}
		for _, line := range strings.SplitAfter(part, "\n") {
			if line == "" {
				continue
			}
			user, _, _ := strings.Cut(line, "\t")
			if len(byUser[user]) > 0 && !seen[user] {
				t.Fatalf("user %s is in part %d and another", user, p)
			}
			seen[user] = true
			byUser[user] = append(byUser[user], line)
		}
	}
	var got strings.Builder
	users := slices.Sorted(maps.Keys(byUser))
	for _, u := range users {
		got.WriteString(strings.Join(byUser[u], ""))
	}
	if got.String() != string(want) {
		t.Errorf("the parts hold %d bytes, sort gives %d:\n%.300s\nwant:\n%.300s", got.Len(), len(want), got.String(), want)
	}
	_, err = e.run(t, nil, `
stages:
  - name: counts
    mapreduce: {input: [`+in+`], output: `+e.dir+`/counts, map: cat, combiner: cat, reduce: sum}
`, pipeline.Options{})
	if err == nil || !strings.Contains(err.Error(), "combiner") || strings.Contains(err.Error(), "Config.") {
		t.Errorf("a combiner with a built-in reduce: got %v, want it refused naming combiner", err)
	}
}

// TestRunSkipBadRecordsStage runs a pipe stage with skip_bad_records over
// an input with one bad line: the stage completes, its output is the
// command's over the other lines, and the bad line is in the stage
// output's rejects file; the next stage reads that output.
func TestRunSkipBadRecordsStage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := filepath.Join(e.dir, "in.txt")
	if err := os.WriteFile(in, []byte("a\nb\nBAD\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, nil, `
stages:
  - name: upper
    pipe: {input: [`+in+`], output: `+e.dir+`/up.txt, command: [awk, '/BAD/ { exit 3 } { print toupper($0) }'], skip_bad_records: 1, retries: 0}
  - name: copy
    pipe: {input: [stage:upper], output: `+e.dir+`/copy.txt, command: [cat]}
`, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e.dir+"/copy.txt"); got != "A\nB\nC\n" {
		t.Errorf("output %q, want the lines without the bad one", got)
	}
	if got := readFile(t, e.dir+"/up.txt.rejected"); !strings.Contains(got, `"line":3`) || !strings.Contains(got, `"record":"BAD\n"`) {
		t.Errorf("rejects file %q does not name line 3", got)
	}
}
