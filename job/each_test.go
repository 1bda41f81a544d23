package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/testcmd/testcmdbuild"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// helper is the command line of the testcmd program in mode.
func helper(t *testing.T, mode string, args ...string) []string {
	t.Helper()
	path, err := testcmdbuild.Path()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{path, mode}, args...)
}

// hostileItems are items a shell would split, expand or run.
var hostileItems = []string{
	"plain", "with space", `double "quotes"`, "single 'quotes'", "$(touch pwned)", "`touch pwned`",
	"a; touch pwned", "*", "-rf", "--help", "{}", "tab\there", "new\nline", "back\\slash", "$HOME", "> redirect",
	"| pipe", "&& and", "ünïcödé", " lead and trail ",
}

func eachConfig(t *testing.T, items []string, argv []string) (job.Config, *bytes.Buffer) {
	cfg := baseConfig(t)
	cfg.Kind, cfg.Items, cfg.Command = schema.KindEach, items, argv
	var out bytes.Buffer
	cfg.Stdout = &out
	return cfg, &out
}

// TestEachItemsAreArguments checks that every item arrives as exactly one
// argument, unchanged and never executed, with and without --shell.
func TestEachItemsAreArguments(t *testing.T) {
	t.Parallel()
	for _, shell := range []bool{false, true} {
		t.Run(fmt.Sprintf("shell=%v", shell), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			argv := append(helper(t, "argv"), "{}", "x{}y", "{#}")
			if shell {
				argv = []string{strings.Join(argv, " ")}
			}
			cfg, out := eachConfig(t, hostileItems, argv)
			cfg.Shell, cfg.KeepOrder, cfg.Dir = shell, true, work
			rep, err := runJob(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Items != len(hostileItems) || rep.ItemsFailed != 0 {
				t.Fatalf("report: %d items, %d failed; want %d, 0", rep.Items, rep.ItemsFailed, len(hostileItems))
			}
			dec := json.NewDecoder(out)
			for i, item := range hostileItems {
				var got []string
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				want := []string{item, "x" + item + "y", strconv.Itoa(i + 1)}
				if !slices.Equal(got, want) {
					t.Errorf("item %d: argv %q, want %q", i, got, want)
				}
			}
			if names := dirEntries(t, work); len(names) > 0 {
				t.Errorf("an item was executed: files %q appeared", names)
			}
		})
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestEachGroupsOutput runs 200 items printing 200 lines each to stdout and
// stderr: every item's lines come out as one contiguous group; with
// KeepOrder the groups come in item order.
func TestEachGroupsOutput(t *testing.T) {
	t.Parallel()
	items := make([]string, 200)
	for i := range items {
		items[i] = fmt.Sprintf("item%03d", i)
	}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			t.Parallel()
			cfg, out := eachConfig(t, items, helper(t, "lines", "200", "{}"))
			cfg.KeepOrder, cfg.ChunkSize = keep, 7
			if _, err := runJob(t, cfg); err != nil {
				t.Fatal(err)
			}
			order := checkGroups(t, out.String(), 200)
			if len(order) != len(items) {
				t.Fatalf("%d groups, want %d", len(order), len(items))
			}
			if keep && !slices.Equal(order, items) {
				t.Errorf("groups out of item order: %q...", order[:10])
			}
			slices.Sort(order)
			if !slices.Equal(order, items) {
				t.Errorf("groups are not one per item")
			}
		})
	}
}

// checkGroups checks that out is a sequence of groups of n lines
// "ITEM 0" ... "ITEM n-1" and returns the items in output order.
func checkGroups(t *testing.T, out string, n int) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines)%n != 0 {
		t.Fatalf("%d lines, not a multiple of %d", len(lines), n)
	}
	var order []string
	for g := 0; g < len(lines); g += n {
		item, _, _ := strings.Cut(lines[g], " ")
		for k := range n {
			if want := fmt.Sprintf("%s %d", item, k); lines[g+k] != want {
				t.Fatalf("line %d is %q, want %q: groups interleave", g+k, lines[g+k], want)
			}
		}
		order = append(order, item)
	}
	return order
}

// TestEachJoin checks the join file: one JSON record per item, in item
// order, with exit codes and outputs; the join command runs once, after the
// items' output.
func TestEachJoin(t *testing.T) {
	t.Parallel()
	items := []string{"b", "a", "c d", "e\nf"}
	cfg, out := eachConfig(t, items, []string{"echo", "got"})
	cfg.Join = []string{"sh", "-c", `echo JOIN; cat "$1"`, "sh", "{}"}
	if _, err := runJob(t, cfg); err != nil {
		t.Fatal(err)
	}
	_, joined, ok := strings.Cut(out.String(), "JOIN\n")
	if !ok {
		t.Fatalf("the join did not run: %q", out.String())
	}
	dec := json.NewDecoder(strings.NewReader(joined))
	for i, item := range items {
		var rec reducer.JoinRecord
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := reducer.JoinRecord{Seq: uint64(i + 1), Item: item, Output: "got " + item + "\n"}
		if rec != want {
			t.Errorf("record %d: %+v, want %+v", i, rec, want)
		}
	}
	if dec.More() {
		t.Error("more records than items")
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "jetmr-join-"+cfg.ID+".jsonl")); cfg.ID != "" && err == nil {
		t.Error("the join file was not removed")
	}
}

// TestEachFailedItem checks that an item failing every attempt is a dead
// letter naming the item, its exit status and output, the other items
// still run and print, and the join does not run.
func TestEachFailedItem(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "joined")
	items := []string{"one", "two", "three", "four"}
	cfg, out := eachConfig(t, items, helper(t, "fail-on", "three", "{}"))
	cfg.Retries, cfg.KeepOrder, cfg.ChunkSize = 1, true, 2
	cfg.Join = []string{"touch", marker}
	rep, err := runJob(t, cfg)
	var tf *job.TasksFailedError
	if !errors.As(err, &tf) || len(tf.Dead) != 1 {
		t.Fatalf("err %v, want one dead letter", err)
	}
	d := tf.Dead[0]
	if !strings.Contains(d.Error.Message, `item 3 "three" after 2 attempt(s)`) || d.Error.ExitStatus != 3 ||
		!strings.Contains(d.Error.StderrTail, "failing on purpose") {
		t.Errorf("dead letter %+v does not name the item, its attempts, exit status and output", d)
	}
	if rep.Items != 4 || rep.ItemsFailed != 1 {
		t.Errorf("report: %d items, %d failed; want 4, 1", rep.Items, rep.ItemsFailed)
	}
	want := "item one\nitem two\nitem three\nfailing on purpose\nitem four\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the join ran although an item failed")
	}
}

// TestEachRetriesItem checks that a failed item is retried alone and its
// output of the successful attempt is printed once.
func TestEachRetriesItem(t *testing.T) {
	t.Parallel()
	items := []string{"x", "y", "z"}
	cfg, out := eachConfig(t, items, helper(t, "flaky", t.TempDir(), "{}"))
	cfg.KeepOrder, cfg.ChunkSize = true, 3
	log := &attemptLog{}
	cfg.Observer = log
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "ok x\nok y\nok z\n" || rep.ItemsFailed != 0 {
		t.Errorf("output %q, %d failed", out.String(), rep.ItemsFailed)
	}
	if n := log.ended.Load(); n != 6 {
		t.Errorf("%d item attempts observed, want 6 (two per item)", n)
	}
}

// attemptLog counts item attempts.
type attemptLog struct {
	ended   atomic.Int64
	onEnded func(observe.Attempt)
}

func (a *attemptLog) JobStarted(string, string, int64, int64, int) {}
func (a *attemptLog) TasksPublished(string, string, int64, bool)   {}
func (a *attemptLog) AttemptStarted(observe.Attempt)               {}
func (a *attemptLog) JobEnded(string, string, error)               {}
func (a *attemptLog) AttemptEnded(e observe.Attempt) {
	a.ended.Add(1)
	if a.onEnded != nil {
		a.onEnded(e)
	}
}

// TestEachResume stops a job part-way and resumes it: the resumed run
// writes every item's output exactly once, in item order.
func TestEachResume(t *testing.T) {
	t.Parallel()
	items := make([]string, 60)
	var want strings.Builder
	for i := range items {
		items[i] = fmt.Sprintf("i%02d", i)
		fmt.Fprintf(&want, "i%02d 0\ni%02d 1\n", i, i)
	}
	cfg, _ := eachConfig(t, items, helper(t, "lines", "2", "{}"))
	cfg.ID, cfg.KeepOrder, cfg.ChunkSize, cfg.Slots = "each-resume", true, 2, 2
	cfg.Output = filepath.Join(t.TempDir(), "out.txt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Observer = &attemptLog{onEnded: func(e observe.Attempt) {
		if e.Index == 20 {
			cancel()
		}
	}}
	if _, err := job.Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(cfg.Output); err == nil {
		t.Fatal("the output appeared before the job completed")
	}
	cfg.Resume, cfg.Observer = true, nil
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("resumed output differs:\n%s", got)
	}
	if rep.Committed == 0 {
		t.Error("the resumed run redid every task")
	}
}

// TestEachBadInput checks that bad each jobs are refused before anything
// runs.
func TestEachBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*job.Config)
		words string
	}{
		{"no items", func(c *job.Config) { c.Items = nil }, "no items"},
		{"empty item", func(c *job.Config) { c.Items = []string{"a", ""} }, "item 2 is empty"},
		{"NUL in item", func(c *job.Config) { c.Items = []string{"a\x00b"} }, "NUL"},
		{"no command", func(c *job.Config) { c.Command = nil }, "needs a command"},
		{"bad placeholder", func(c *job.Config) { c.Command = []string{"echo", "{..}"} }, "unknown placeholder {..}"},
		{"bad dir placeholder", func(c *job.Config) { c.Dir = "{%}" }, "--dir: unknown placeholder {%}"},
		{"missing program", func(c *job.Config) { c.Command = []string{"no-such-program-jetmr"} }, "not found"},
		{"builtin and command", func(c *job.Config) { c.Builtin = "echo" }, "not both"},
		{"unknown builtin", func(c *job.Config) { c.Builtin, c.Command = "frob", nil }, `item function "frob"`},
		{"missing join", func(c *job.Config) { c.Join = []string{"no-such-join-jetmr"} }, "Config.Join"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, out := eachConfig(t, []string{"a"}, []string{"echo"})
			tc.edit(&cfg)
			_, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("err %v, want ErrBadInput mentioning %q", err, tc.words)
			}
			if out.Len() > 0 {
				t.Errorf("output %q from a refused job", out.String())
			}
		})
	}
}

// TestEachBuiltin runs many tiny items with the built-in echo.
func TestEachBuiltin(t *testing.T) {
	t.Parallel()
	items := make([]string, 5000)
	var want strings.Builder
	for i := range items {
		items[i] = strconv.Itoa(i)
		want.WriteString(items[i] + "\n")
	}
	cfg, out := eachConfig(t, items, nil)
	cfg.Builtin, cfg.KeepOrder = "echo", true
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Error("echo output differs from the items")
	}
	if rep.Items != len(items) || rep.Tasks >= len(items)/10 {
		t.Errorf("%d items in %d tasks: want all items, batched", rep.Items, rep.Tasks)
	}
}

// TestEachTimeout checks that --timeout limits each item: the slow item is
// killed and named in its dead letter, the others succeed.
func TestEachTimeout(t *testing.T) {
	t.Parallel()
	cfg, out := eachConfig(t, []string{"1ms", "60s", "2ms"}, helper(t, "sleep", "{}", "{}"))
	cfg.Timeout, cfg.Retries, cfg.KeepOrder, cfg.ChunkSize = 3*time.Second, -1, true, 3
	rep, err := runJob(t, cfg)
	var tf *job.TasksFailedError
	if !errors.As(err, &tf) || len(tf.Dead) != 1 || !strings.Contains(tf.Dead[0].Error.Message, `item 2 "60s"`) ||
		!strings.Contains(tf.Dead[0].Error.Message, "timed out after 3s") {
		t.Fatalf("err %v, want a dead letter naming item 2 and its timeout", err)
	}
	if out.String() != "1ms\n2ms\n" || rep.ItemsFailed != 1 {
		t.Errorf("output %q, %d failed items", out.String(), rep.ItemsFailed)
	}
}

// TestEachHaltNow checks that --halt now,fail=1 stops the job at the
// first failed item: later items do not all run.
func TestEachHaltNow(t *testing.T) {
	t.Parallel()
	items := make([]string, 50)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	cfg, _ := eachConfig(t, items, helper(t, "fail-on", "0", "{}"))
	cfg.Slots, cfg.ChunkSize, cfg.Retries = 1, 1, -1
	cfg.Halt = job.Halt{When: job.HaltNow, Fail: 1}
	log := &attemptLog{}
	cfg.Observer = log
	_, err := runJob(t, cfg)
	var tf *job.TasksFailedError
	if !errors.As(err, &tf) || len(tf.Dead) != 1 || !strings.Contains(tf.Dead[0].Error.Message, `item 1 "0"`) {
		t.Fatalf("err %v, want the halt with the dead letter of item 1", err)
	}
	if n := log.ended.Load(); n >= int64(len(items)) {
		t.Errorf("%d items ran after the halt, want fewer than %d", n, len(items))
	}
}

// TestEachHaltSoon checks that --halt soon,fail=1 starts no task once the
// first one failed, including tasks already queued (as GNU parallel runs
// one job), and that a resume with RetryFailed runs the failed task and
// every task that never started, each once.
func TestEachHaltSoon(t *testing.T) {
	t.Parallel()
	items := []string{"a", "b", "c", "d", "e", "f"}
	cfg, out := eachConfig(t, items, []string{"false"})
	cfg.ID, cfg.Slots, cfg.ChunkSize, cfg.Retries = "halt-soon", 1, 1, -1
	cfg.Halt = job.Halt{When: job.HaltSoon, Fail: 1}
	log := &attemptLog{}
	cfg.Observer = log
	_, err := runJob(t, cfg)
	var tf *job.TasksFailedError
	if !errors.As(err, &tf) || len(tf.Dead) != 1 {
		t.Fatalf("err %v, want the halt with one dead letter", err)
	}
	if n := log.ended.Load(); n != 1 {
		t.Errorf("%d items ran, want 1: halting soon starts no queued task", n)
	}
	cfg.Command, cfg.Resume, cfg.RetryFailed, cfg.Halt = []string{"echo", "{}"}, true, true, job.Halt{}
	log = &attemptLog{}
	cfg.Observer = log
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("resume with RetryFailed: %v", err)
	}
	if n := log.ended.Load(); n != int64(len(items)) {
		t.Errorf("the resume ran %d items, want %d", n, len(items))
	}
	lines := strings.Fields(out.String())
	slices.Sort(lines)
	if !slices.Equal(lines, items) {
		t.Errorf("the resume printed %q, want every item once", lines)
	}
}

// TestEachHaltSoonCountsItems runs many items, which would be batched
// several to a task, with --halt soon,fail=1 and no --chunk-size: the
// first item fails and no other item starts.
func TestEachHaltSoonCountsItems(t *testing.T) {
	t.Parallel()
	items := make([]string, 200)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	cfg, _ := eachConfig(t, items, helper(t, "fail-on", "0", "{}"))
	cfg.Slots, cfg.Retries = 1, -1
	cfg.Halt = job.Halt{When: job.HaltSoon, Fail: 1}
	log := &attemptLog{}
	cfg.Observer = log
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrTasksFailed) {
		t.Fatalf("err %v, want the halt", err)
	}
	if n := log.ended.Load(); n != 1 {
		t.Errorf("%d items ran, want 1: the failed one", n)
	}
}
