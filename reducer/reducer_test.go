package reducer_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"

	"go.uber.org/goleak"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds each reducer run.
const testTimeout = 20 * time.Second

// openBroker starts an embedded broker in a temporary store and provisions
// the streams of rec's job.
func openBroker(t *testing.T, rec schema.JobRecord) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("broker.Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatalf("ProvisionJob: %v", err)
	}
	return b
}

// publisher publishes result messages as a worker would, but without a
// message ID, so that the server does not drop duplicates: the reducer
// has to.
type publisher struct {
	t   *testing.T
	b   *broker.Broker
	job string
}

func (p publisher) raw(subject string, data []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := p.b.JS.Publish(ctx, subject, data); err != nil {
		p.t.Fatalf("publishing on %s: %v", subject, err)
	}
}

func (p publisher) result(r schema.Result) {
	p.t.Helper()
	if r.Job == "" {
		r.Job = p.job
	}
	if r.Worker == "" {
		r.Worker, r.Slots, r.Attempt = "test-worker", 1, 1
		r.Start = time.Now().UnixNano()
		r.End = r.Start + int64(time.Millisecond)
	}
	data, err := schema.EncodeResult(r)
	if err != nil {
		p.t.Fatal(err)
	}
	p.raw(schema.ResultSubject(p.job, r.Partition), data) // this job's stream, whatever r.Job says
}

// pipeResult is task i's inline output.
func pipeResult(i uint64, payload string) schema.Result {
	return schema.Result{Index: i, Payload: []byte(payload), BytesOut: int64(len(payload))}
}

// failure is a failure result of task i.
func failure(i uint64, status int) schema.Result {
	return schema.Result{Index: i, Err: &schema.TaskError{
		Message: fmt.Sprintf("cmd exited with status %d", status), ExitStatus: status, StderrTail: "it broke\n",
	}}
}

// garbage publishes messages that are not valid results of the job: they
// must be dropped without stopping the reducer. It returns how many.
func (p publisher) garbage(partitions int) int {
	p.t.Helper()
	p.raw(schema.ResultSubject(p.job, 0), []byte("\xff\xfe not msgpack at all"))
	p.raw(schema.ResultSubject(p.job, 0), []byte{})
	p.raw(schema.ResultSubject(p.job, 0), []byte{0x93, 0x01, 0x02}) // a msgpack array, not a map
	p.result(schema.Result{Job: "another-job", Index: 0, Payload: []byte("not ours\n")})
	p.result(schema.Result{Index: 0, Partition: partitions, Payload: []byte("no such partition\n")})
	return 5
}

// spans records what the reducer retired.
type spans struct {
	reducer.NopSession
	mu  sync.Mutex
	got []reducer.Span
}

// Retired records the spans a reducer retires; the rest of the session
// is a NopSession's.
func (s *spans) Retired(sp reducer.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.To > sp.From {
		s.got = append(s.got, sp)
	}
}

// checkOnce checks that the spans retire each of the n tasks exactly once.
func (s *spans) checkOnce(t *testing.T, n uint64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	count := make([]int, n)
	for _, sp := range s.got {
		for i := sp.From; i < sp.To; i++ {
			if i >= n {
				t.Errorf("retired task %d of %d", i, n)
				continue
			}
			count[i]++
		}
	}
	for i, c := range count {
		if c != 1 {
			t.Errorf("task %d retired %d times, want once (spans %v)", i, c, s.got)
		}
	}
}

// run runs a reducer over the job's results with total tasks, publishing
// late (if given) once the reducer is running.
func run(t *testing.T, b *broker.Broker, rec schema.JobRecord, sink reducer.Sink, total uint64, late func()) (*report.Stats, *spans, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	totalCh := make(chan uint64, 1)
	totalCh <- total
	sp := &spans{}
	red, err := reducer.New(reducer.Config{JS: b.JS, Job: rec, Sink: sink, Total: totalCh, Session: sp})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		stats *report.Stats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		stats, err := red.Run(ctx)
		done <- result{stats, err}
	}()
	if late != nil {
		late()
	}
	r := <-done
	if ctx.Err() != nil {
		t.Fatalf("the reducer did not finish within %s: %v", testTimeout, r.err)
	}
	return r.stats, sp, r.err
}

func pipeRecord(id string) schema.JobRecord {
	return schema.JobRecord{V: schema.Version, ID: id, Kind: schema.KindPipe, Partitions: 1, Command: []string{"cat"}}
}

// TestOrderedDuplicatesMergedOnce publishes the same task's result several
// times, some with a different payload (a second attempt), interleaved
// with malformed messages: the output holds each task once, from its first
// result, in order.
func TestOrderedDuplicatesMergedOnce(t *testing.T) {
	t.Parallel()
	for _, toFile := range []bool{false, true} {
		t.Run(fmt.Sprintf("file=%v", toFile), func(t *testing.T) {
			t.Parallel()
			rec := pipeRecord("ordered-dups")
			b := openBroker(t, rec)
			p := publisher{t, b, rec.ID}
			const n = 6
			// Before the reducer starts: tasks out of order, with duplicates.
			p.result(pipeResult(3, "task 3\n"))
			p.result(pipeResult(1, "task 1\n"))
			p.result(pipeResult(1, "task 1 again\n"))
			bad := p.garbage(1)
			p.result(pipeResult(0, "task 0\n"))
			p.result(pipeResult(3, "task 3 again\n"))
			p.result(pipeResult(2, "task 2\n"))
			p.result(pipeResult(0, "task 0 again\n"))
			p.result(failure(2, 9)) // a late failure of a task already merged

			var stream bytes.Buffer
			cfg := reducer.OrderedConfig{Stream: &stream, Job: rec.ID}
			out := filepath.Join(t.TempDir(), "out.txt")
			if toFile {
				cfg = reducer.OrderedConfig{Path: out, Job: rec.ID}
			}
			sink, err := reducer.NewOrderedSink(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			stats, sp, err := run(t, b, rec, sink, n, func() {
				// While it runs: the rest, again with duplicates and garbage.
				p.result(pipeResult(5, "task 5\n"))
				bad += p.garbage(1)
				p.result(pipeResult(5, "task 5 again\n"))
				p.result(pipeResult(4, "task 4\n"))
				p.result(pipeResult(4, "task 4 again\n"))
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := stream.Bytes()
			if toFile {
				if got, err = os.ReadFile(out); err != nil {
					t.Fatal(err)
				}
				if names := dirNames(t, filepath.Dir(out)); !slices.Equal(names, []string{"out.txt"}) {
					t.Errorf("output folder holds %q, want only out.txt", names)
				}
			}
			want := "task 0\ntask 1\ntask 2\ntask 3\ntask 4\ntask 5\n"
			if string(got) != want {
				t.Errorf("output %q, want %q", got, want)
			}
			if stats.Tasks() != n || len(stats.Dead) != 0 {
				t.Errorf("stats: %d tasks, %d dead; want %d, 0", stats.Tasks(), len(stats.Dead), n)
			}
			if len(stats.Malformed) != bad {
				t.Errorf("stats list %d malformed messages, want %d: %q", len(stats.Malformed), bad, stats.Malformed)
			}
			sp.checkOnce(t, n)
		})
	}
}

// TestOrderedFailureDuplicates publishes a task's failure twice and then a
// success for it: it is one dead letter, and a stream output stops before
// it.
func TestOrderedFailureDuplicates(t *testing.T) {
	t.Parallel()
	rec := pipeRecord("ordered-fail")
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	p.result(pipeResult(0, "task 0\n"))
	p.result(failure(1, 3))
	p.result(failure(1, 3))
	p.result(pipeResult(1, "task 1 after all\n"))
	p.result(pipeResult(2, "task 2\n"))
	p.result(pipeResult(2, "task 2\n"))
	var stream bytes.Buffer
	sink, err := reducer.NewOrderedSink(context.Background(), reducer.OrderedConfig{Stream: &stream, Job: rec.ID})
	if err != nil {
		t.Fatal(err)
	}
	stats, _, err := run(t, b, rec, sink, 3, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(stats.Dead) != 1 || stats.Dead[0].Index != 1 || stats.Dead[0].Error.ExitStatus != 3 {
		t.Fatalf("dead letters %+v, want task 1 once, with exit status 3", stats.Dead)
	}
	if stats.Tasks() != 3 {
		t.Errorf("stats count %d tasks, want 3", stats.Tasks())
	}
	if got := stream.String(); got != "task 0\n" {
		t.Errorf("stream output %q, want only the task before the failure", got)
	}
}

// runPayload encodes pairs as a keyed run, sorted by key: a result payload.
func runPayload(t *testing.T, pairs map[string]string) []byte {
	t.Helper()
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	run := make([]schema.Pair, 0, len(keys))
	for _, k := range keys {
		run = append(run, schema.Pair{Key: []byte(k), Value: []byte(pairs[k])})
	}
	var buf bytes.Buffer
	if err := schema.EncodeRun(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// keyedTask is what task i emits: every key, in its partition, with the
// value i+1; so the sum of a key over tasks 0..n-1 is n(n+1)/2.
func keyedTask(t *testing.T, i uint64, partitions int) []schema.Result {
	byPart := make([]map[string]string, partitions)
	for p := range byPart {
		byPart[p] = map[string]string{}
	}
	for _, k := range keyedKeys {
		byPart[schema.Partition([]byte(k), partitions)][k] = strconv.FormatUint(i+1, 10)
	}
	out := make([]schema.Result, partitions)
	for p := range out {
		payload := runPayload(t, byPart[p])
		out[p] = schema.Result{Index: i, Partition: p, Payload: payload, BytesOut: int64(len(payload))}
	}
	return out
}

var keyedKeys = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"}

// TestKeyedDuplicatesMergedOnce publishes the same (task, partition) twice,
// before and after the task is complete, interleaved with malformed
// messages: the sums count each task once.
func TestKeyedDuplicatesMergedOnce(t *testing.T) {
	t.Parallel()
	const parts, n = 3, 5
	tests := []struct {
		name string
		sink func(t *testing.T, dir, job string) reducer.Sink
	}{
		{"fold", func(t *testing.T, dir, job string) reducer.Sink {
			s, err := reducer.NewKeyedSink(reducer.KeyedConfig{Dir: dir, Job: job, Partitions: parts, Fold: fold.Sum})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"reduce-command", func(t *testing.T, dir, job string) reducer.Sink {
			s, err := reducer.NewKeyedSink(reducer.KeyedConfig{
				Dir: dir, Job: job, Partitions: parts, WorkDir: filepath.Join(t.TempDir(), "runs"),
				ReduceCommand: []string{"awk", "-F\t", `NR > 1 && $1 "" != k "" { print k "\t" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k "\t" s }`},
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := schema.JobRecord{V: schema.Version, ID: "keyed-dups", Kind: schema.KindMapReduce, Partitions: parts, Map: "wordcount", Reduce: "sum"}
			b := openBroker(t, rec)
			p := publisher{t, b, rec.ID}
			tasks := make([][]schema.Result, n)
			for i := range tasks {
				tasks[i] = keyedTask(t, uint64(i), parts)
			}
			// Task 0: partition 0 twice before the task is complete, then
			// the rest, then all of it again.
			p.result(tasks[0][0])
			p.result(tasks[0][0])
			bad := p.garbage(parts)
			p.result(tasks[0][1])
			p.result(tasks[0][2])
			for _, r := range tasks[0] {
				p.result(r)
			}
			// Task 2 with partitions in reverse and one twice in a row.
			p.result(tasks[2][2])
			p.result(tasks[2][2])
			p.result(tasks[2][1])
			p.result(tasks[2][0])
			dir := filepath.Join(t.TempDir(), "out")
			late := 0
			stats, sp, err := run(t, b, rec, tt.sink(t, dir, rec.ID), n, func() {
				for _, i := range []int{4, 1, 3, 1, 4} {
					for _, r := range tasks[i] {
						p.result(r)
					}
				}
				// After the last result the reducer needs: it may or may
				// not read these before it finishes.
				p.result(tasks[3][1])
				late = p.garbage(parts)
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := strconv.Itoa(n * (n + 1) / 2)
			got := readParts(t, dir, parts)
			if len(got) != len(keyedKeys) {
				t.Errorf("output holds %d keys, want %d: %v", len(got), len(keyedKeys), got)
			}
			for _, k := range keyedKeys {
				if got[k] != want {
					t.Errorf("sum of %s: %q, want %s (each task once)", k, got[k], want)
				}
			}
			if stats.Tasks() != n || len(stats.Dead) != 0 {
				t.Errorf("stats: %d tasks, %d dead; want %d, 0", stats.Tasks(), len(stats.Dead), n)
			}
			if m := len(stats.Malformed); m < bad || m > bad+late {
				t.Errorf("stats list %d malformed messages, want %d to %d: %q", m, bad, bad+late, stats.Malformed)
			}
			sp.checkOnce(t, n)
		})
	}
}

// TestTrailingMessagesDoNotHang stores, after every result the reducer
// needs, more duplicates and garbage: the reducer must finish without
// reading them all, and not wait for its context to end.
func TestTrailingMessagesDoNotHang(t *testing.T) {
	t.Parallel()
	rec := pipeRecord("trailing")
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	p.result(pipeResult(0, "a\n"))
	p.result(pipeResult(1, "b\n"))
	for range 50 {
		p.result(pipeResult(1, "b again\n"))
		p.garbage(1)
	}
	var stream bytes.Buffer
	sink, err := reducer.NewOrderedSink(context.Background(), reducer.OrderedConfig{Stream: &stream, Job: rec.ID})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := run(t, b, rec, sink, 2, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run took %s", took)
	}
	if stream.String() != "a\nb\n" {
		t.Errorf("output %q, want %q", stream.String(), "a\nb\n")
	}
}

// TestOnlyGarbageThenResults checks that a results stream starting with
// nothing but malformed messages does not stop the reducer.
func TestOnlyGarbageThenResults(t *testing.T) {
	t.Parallel()
	rec := pipeRecord("garbage-first")
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	bad := 0
	for range 20 {
		bad += p.garbage(1)
	}
	var stream bytes.Buffer
	sink, err := reducer.NewOrderedSink(context.Background(), reducer.OrderedConfig{Stream: &stream, Job: rec.ID})
	if err != nil {
		t.Fatal(err)
	}
	stats, _, err := run(t, b, rec, sink, 2, func() {
		bad += p.garbage(1)
		p.result(pipeResult(1, "b\n"))
		p.result(pipeResult(0, "a\n"))
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stream.String() != "a\nb\n" {
		t.Errorf("output %q, want %q", stream.String(), "a\nb\n")
	}
	if len(stats.Malformed) != bad {
		t.Errorf("stats list %d malformed messages, want %d", len(stats.Malformed), bad)
	}
}

// readParts reads an output directory of part files, checking that each
// is sorted by key and each key is in its partition.
func readParts(t *testing.T, dir string, partitions int) map[string]string {
	return clitest.ReadParts(t, dir, partitions)
}

func dirNames(t *testing.T, dir string) []string { return clitest.DirNames(t, dir) }

// suspendedRun merges the first n tasks' outputs into an ordered sink
// writing path, as an earlier run of rec's job would, suspends it, and
// returns the configuration that opens its sink again.
func suspendedRun(t *testing.T, ctx context.Context, rec schema.JobRecord, path string, n uint64) reducer.OrderedConfig {
	t.Helper()
	cfg := reducer.OrderedConfig{Path: path, Job: rec.ID, Checkpoints: &memCheckpoints{}}
	first, err := reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := first.Merge(ctx, &schema.Result{Index: i, Payload: []byte(taskOutput(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReplayedObjectsNotFetched resumes an ordered output written up to
// task 3: the replayed results below it name output objects (transport
// "object") that the reducer must not fetch, since the sink skips them;
// this reducer has no Fetch at all, so a fetch would fail the run.
func TestReplayedObjectsNotFetched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := pipeRecord("replay-objects")
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	path := filepath.Join(t.TempDir(), "out.txt")
	cfg := suspendedRun(t, ctx, rec, path, 3)
	for i := range uint64(5) {
		r := pipeResult(i, taskOutput(i))
		if i < 3 {
			r.Payload, r.Object = nil, fmt.Sprintf("out-%d", i) // written before the resume
		}
		p.result(r)
	}
	sink, err := reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, b, rec, sink, 5, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := outputs(0, 5); string(got) != want {
		t.Errorf("resumed output %q, want %q", got, want)
	}
}

// TestRunSuspendsWhenResultsAreMissing checks that a reducer that cannot
// even open the job's results suspends its sink, which closes an output
// file it had opened.
func TestRunSuspendsWhenResultsAreMissing(t *testing.T) {
	t.Parallel()
	b := openBroker(t, pipeRecord("present"))
	sink := &suspendCounter{}
	totalCh := make(chan uint64, 1)
	red, err := reducer.New(reducer.Config{JS: b.JS, Job: pipeRecord("absent"), Sink: sink, Total: totalCh})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := red.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("Run: %v, want an error naming the job", err)
	}
	if sink.suspended != 1 {
		t.Fatalf("the sink was suspended %d times, want once", sink.suspended)
	}
}

// suspendCounter is a sink that only counts Suspend calls.
type suspendCounter struct {
	reducer.Sink
	suspended int
}

func (s *suspendCounter) Suspend(context.Context) error {
	s.suspended++
	return nil
}

// TestPrepareMarksWhereThisRunBegins: results stored before Prepare are
// replayed from an earlier run; those stored after it, even before Run
// starts reading (a worker quicker than the reducer's start), are this
// run's: executed, not already committed.
func TestPrepareMarksWhereThisRunBegins(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	rec := pipeRecord("prepare-mark")
	b := openBroker(t, rec)
	p := publisher{t, b, rec.ID}
	path := filepath.Join(t.TempDir(), "out.txt")
	cfg := suspendedRun(t, ctx, rec, path, 1)
	p.result(pipeResult(0, taskOutput(0))) // stored by the earlier run
	sink, err := reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	totalCh := make(chan uint64, 1)
	totalCh <- 3
	red, err := reducer.New(reducer.Config{JS: b.JS, Job: rec, Sink: sink, Total: totalCh})
	if err != nil {
		t.Fatal(err)
	}
	if err := red.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	p.result(pipeResult(1, taskOutput(1))) // this run's, stored before Run reads
	p.result(pipeResult(2, taskOutput(2)))
	stats, err := red.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stats.Executed != 2 || stats.Committed != 1 {
		t.Errorf("executed %d and already committed %d tasks, want 2 and 1", stats.Executed, stats.Committed)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != outputs(0, 3) {
		t.Errorf("output %q (%v), want %q", got, err, outputs(0, 3))
	}
}
