package reducer_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/jetmr/jetmr/fold"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// taskOutput is task i's output in the ordered sink tests.
func taskOutput(i uint64) string {
	return strings.Repeat("task "+strconv.FormatUint(i, 10)+" line\n", int(i%3)+1)
}

func outputs(from, to uint64) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(taskOutput(i))
	}
	return b.String()
}

// TestOrderedSinkStream checks that a stream gets each task's output as
// soon as every task before it is written, and nothing earlier.
func TestOrderedSinkStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out bytes.Buffer
	s, err := reducer.NewOrderedSink(ctx, reducer.OrderedConfig{Stream: &out, Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		index   uint64
		written uint64 // tasks written after the merge
		span    reducer.Span
	}{
		{2, 0, reducer.Span{}},
		{0, 1, reducer.Span{From: 0, To: 1}},
		{3, 1, reducer.Span{}},
		{1, 4, reducer.Span{From: 1, To: 4}},
		{4, 5, reducer.Span{From: 4, To: 5}},
	}
	for _, st := range steps {
		span, err := s.Merge(ctx, &schema.Result{Index: st.index, Payload: []byte(taskOutput(st.index))})
		if err != nil {
			t.Fatalf("Merge(%d): %v", st.index, err)
		}
		if span != st.span {
			t.Errorf("Merge(%d) retired %+v, want %+v", st.index, span, st.span)
		}
		if want := outputs(0, st.written); out.String() != want {
			t.Fatalf("after Merge(%d): stream holds %q, want %q", st.index, out.String(), want)
		}
	}
	if err := s.Commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	if want := outputs(0, 5); out.String() != want {
		t.Errorf("after Commit: %q, want %q", out.String(), want)
	}
}

// writeSpill writes a spilled output and returns its path.
func writeSpill(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOrderedSinkFile checks that a file output appears only at Commit,
// whole, from inline and spilled outputs, and that the spill files go.
func TestOrderedSinkFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, spills := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "out.txt")
	s, err := reducer.NewOrderedSink(ctx, reducer.OrderedConfig{Path: path, Job: "filejob"})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{5, 1, 0, 3, 2, 4} {
		r := &schema.Result{Index: i}
		if i%2 == 1 {
			r.Spill = writeSpill(t, spills, "spill-"+strconv.FormatUint(i, 10), taskOutput(i))
		} else {
			r.Payload = []byte(taskOutput(i))
		}
		if _, err := s.Merge(ctx, r); err != nil {
			t.Fatalf("Merge(%d): %v", i, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("output exists before Commit (stat: %v)", err)
		}
	}
	if err := s.Commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := outputs(0, 6); string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out.txt"}) {
		t.Errorf("output folder holds %q, want only out.txt", names)
	}
	if names := dirNames(t, spills); len(names) != 0 {
		t.Errorf("spill files left after Commit: %q", names)
	}
}

// TestOrderedSinkFailure checks that nothing after a failed task is
// written, and that a file output is not published.
func TestOrderedSinkFailure(t *testing.T) {
	t.Parallel()
	for _, toFile := range []bool{false, true} {
		t.Run("file="+strconv.FormatBool(toFile), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var out bytes.Buffer
			path := filepath.Join(t.TempDir(), "out.txt")
			cfg := reducer.OrderedConfig{Stream: &out, Job: "failjob"}
			if toFile {
				cfg = reducer.OrderedConfig{Path: path, Job: "failjob"}
			}
			s, err := reducer.NewOrderedSink(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			merge := func(i uint64) {
				if _, err := s.Merge(ctx, &schema.Result{Index: i, Payload: []byte(taskOutput(i))}); err != nil {
					t.Fatalf("Merge(%d): %v", i, err)
				}
			}
			merge(3)
			merge(0)
			if _, err := s.Fail(ctx, &schema.Result{Index: 2, Err: &schema.TaskError{Message: "broke"}}); err != nil {
				t.Fatal(err)
			}
			merge(1)
			merge(4)
			if err := s.Commit(ctx, true); err != nil {
				t.Fatal(err)
			}
			if toFile {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("output %s published although a task failed (stat: %v)", path, err)
				}
				return
			}
			if want := outputs(0, 2); out.String() != want {
				t.Errorf("stream holds %q, want the tasks before the failure, %q", out.String(), want)
			}
		})
	}
}

// memCheckpoints keeps an output checkpoint in memory.
type memCheckpoints struct {
	mu sync.Mutex
	c  *schema.OutputCheckpoint
}

func (m *memCheckpoints) Load(context.Context) (schema.OutputCheckpoint, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return schema.OutputCheckpoint{}, false, nil
	}
	return *m.c, true, nil
}

func (m *memCheckpoints) Save(_ context.Context, c schema.OutputCheckpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = &c
	return nil
}

// TestOrderedSinkResume suspends a file output, appends junk to its
// temporary file (bytes written after the checkpoint by a crashed run) and
// resumes it: the junk goes and the output is complete.
func TestOrderedSinkResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.txt")
	ckpts := &memCheckpoints{}
	cfg := reducer.OrderedConfig{Path: path, Job: "resumejob", Checkpoints: ckpts}
	s, err := reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{1, 0, 2, 4} {
		if _, err := s.Merge(ctx, &schema.Result{Index: i, Payload: []byte(taskOutput(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	c, ok, _ := ckpts.Load(ctx)
	if !ok || c.Next != 3 || c.Offset != int64(len(outputs(0, 3))) {
		t.Fatalf("checkpoint %+v (stored %v), want next 3 at offset %d", c, ok, len(outputs(0, 3)))
	}
	tmp := reducer.TempPath(path, "resumejob")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("the temporary file of a suspended output: %v", err)
	}
	f.WriteString("junk written after the checkpoint\n")
	f.Close()

	s, err = reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Next() != 3 {
		t.Fatalf("resumed sink starts at task %d, want 3", s.Next())
	}
	for _, i := range []uint64{1, 4, 3, 5} { // 1 is a replayed result, already written
		if _, err := s.Merge(ctx, &schema.Result{Index: i, Payload: []byte(taskOutput(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := outputs(0, 6); string(got) != want {
		t.Errorf("resumed output %q, want %q", got, want)
	}
}

// keyedRun is a keyed result of task i for partition p.
func keyedRun(t *testing.T, i uint64, p int, pairs map[string]string) *schema.Result {
	payload := runPayload(t, pairs)
	return &schema.Result{Index: i, Partition: p, Payload: payload}
}

// TestKeyedSinkFold checks folded partitions, and that the output appears
// only at Commit and only when no task failed.
func TestKeyedSinkFold(t *testing.T) {
	t.Parallel()
	const parts = 3
	keys := []string{"apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango", "", "z\xff"}
	tests := []struct {
		name    string
		failed  bool
		prepare func(t *testing.T, dir string) // before Commit
		wantErr string
	}{
		{name: "complete"},
		{name: "failed", failed: true},
		{name: "output appeared meanwhile", prepare: func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "mine"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "appeared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			s, err := reducer.NewKeyedSink(reducer.KeyedConfig{Dir: dir, Job: "foldjob", Partitions: parts, Fold: fold.Sum})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for i := range uint64(4) {
				byPart := make([]map[string]string, parts)
				for p := range byPart {
					byPart[p] = map[string]string{}
				}
				for j, k := range keys {
					if (j+int(i))%3 == 0 {
						continue // not every task has every key
					}
					v := int(i)*10 + j
					byPart[schema.Partition([]byte(k), parts)][k] = strconv.Itoa(v)
					want[k] += v
				}
				for p := range parts {
					span, err := s.Merge(ctx, keyedRun(t, i, p, byPart[p]))
					if err != nil {
						t.Fatalf("Merge(%d, %d): %v", i, p, err)
					}
					if wantSpan := (reducer.Span{From: i, To: i + 1}); p == parts-1 && span != wantSpan {
						t.Errorf("last partition of task %d retired %+v, want %+v", i, span, wantSpan)
					} else if p < parts-1 && span != (reducer.Span{}) {
						t.Errorf("partition %d of task %d retired %+v before the task was complete", p, i, span)
					}
				}
			}
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			err = s.Commit(ctx, tt.failed)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Commit: %v, want an error saying %q", err, tt.wantErr)
				}
				if names := dirNames(t, dir); !slices.Equal(names, []string{"mine"}) {
					t.Errorf("the directory that appeared holds %q, want it untouched", names)
				}
			case tt.failed:
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("output %s published although a task failed (stat: %v)", dir, err)
				}
			default:
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				got := readParts(t, dir, parts)
				if len(got) != len(want) {
					t.Errorf("%d keys, want %d", len(got), len(want))
				}
				for k, v := range want {
					if got[k] != strconv.Itoa(v) {
						t.Errorf("sum of %q: %q, want %d", k, got[k], v)
					}
				}
			}
			wantNames := []string{}
			if !tt.failed {
				wantNames = []string{"out"}
			}
			if names := dirNames(t, parent); !slices.Equal(names, wantNames) {
				t.Errorf("output's folder holds %q, want %q (no temporary directory left)", names, wantNames)
			}
		})
	}
}

// TestKeyedSinkReduceCommand checks that a reducer command gets the runs of
// its partition merged by key, each run once, and that the runs go.
func TestKeyedSinkReduceCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const parts = 2
	work, spills := t.TempDir(), t.TempDir()
	dir := filepath.Join(t.TempDir(), "out")
	s, err := reducer.NewKeyedSink(reducer.KeyedConfig{
		Dir: dir, Job: "cmdjob", Partitions: parts, ReduceCommand: []string{"cat"}, WorkDir: work,
	})
	if err != nil {
		t.Fatal(err)
	}
	var want [parts][]string
	for i := range uint64(5) {
		byPart := [parts]map[string]string{{}, {}}
		for _, k := range []string{"ant", "bee", "cat", "dog", "eel", "fox"} {
			if int(i)%2 == 0 && k == "cat" {
				continue
			}
			p := schema.Partition([]byte(k), parts)
			v := k + "-" + strconv.FormatUint(i, 10)
			byPart[p][k] = v
			want[p] = append(want[p], k+"\t"+v)
		}
		for p := range parts {
			r := keyedRun(t, i, p, byPart[p])
			if i == 3 { // as a worker spills a large run
				r.Spill = writeSpill(t, spills, "run-3-"+strconv.Itoa(p), string(r.Payload))
				r.Payload = nil
			}
			if _, err := s.Merge(ctx, r); err != nil {
				t.Fatalf("Merge(%d, %d): %v", i, p, err)
			}
		}
	}
	if err := s.Commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	for p := range parts {
		data, err := os.ReadFile(filepath.Join(dir, reducer.PartName(p)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		keysOf := func(ls []string) []string {
			out := make([]string, len(ls))
			for i, l := range ls {
				out[i], _, _ = strings.Cut(l, "\t")
			}
			return out
		}
		if !sort.StringsAreSorted(keysOf(lines)) {
			t.Errorf("%s: the reducer command's input was not sorted by key: %q", reducer.PartName(p), lines)
		}
		slices.Sort(lines)
		slices.Sort(want[p])
		if !slices.Equal(lines, want[p]) {
			t.Errorf("%s: %q, want %q", reducer.PartName(p), lines, want[p])
		}
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("runs left in the work directory: %q", names)
	}
	if names := dirNames(t, spills); len(names) != 0 {
		t.Errorf("spilled runs left: %q", names)
	}
}

// TestKeyedSinkLaneError checks that a result its partition's lane cannot
// read fails the merge, by the next Merge or by Commit, and publishes
// nothing.
func TestKeyedSinkLaneError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	s, err := reducer.NewKeyedSink(reducer.KeyedConfig{Dir: dir, Job: "lanejob", Partitions: 2, Fold: fold.Sum})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(ctx, keyedRun(t, 0, 0, map[string]string{"a": "1"})); err != nil {
		t.Fatal(err)
	}
	bad := &schema.Result{Index: 5, Partition: 1, Payload: []byte("\xc1 not a run")}
	if _, err := s.Merge(ctx, bad); err != nil {
		t.Fatal(err) // handed to the lane; its error comes later
	}
	var mergeErr error
	for i := uint64(1); i < 200 && mergeErr == nil; i++ {
		_, mergeErr = s.Merge(ctx, keyedRun(t, i, 0, map[string]string{"a": "1"}))
	}
	err = s.Commit(ctx, false)
	for _, e := range []error{mergeErr, err} {
		if e != nil && !strings.Contains(e.Error(), "task 5, partition 1") {
			t.Fatalf("error %q does not name the task and partition it could not merge", e)
		}
	}
	if err == nil {
		t.Fatal("Commit succeeded after a result could not be merged")
	}
	if names := dirNames(t, parent); len(names) != 0 {
		t.Fatalf("output's folder holds %q, want nothing published and no temporary directory", names)
	}
}

// TestOrderedSinkResumeWithoutTemp resumes an output whose temporary
// file was removed after its checkpoint: the sink refuses, naming the
// file, and creates no empty one in its place (which a later resume would
// refuse again for another reason, or a user take for output).
func TestOrderedSinkResumeWithoutTemp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.txt")
	ckpts := &memCheckpoints{}
	cfg := reducer.OrderedConfig{Path: path, Job: "gonejob", Checkpoints: ckpts}
	s, err := reducer.NewOrderedSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(ctx, &schema.Result{Index: 0, Payload: []byte(taskOutput(0))}); err != nil {
		t.Fatal(err)
	}
	if err := s.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	tmp := reducer.TempPath(path, "gonejob")
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := reducer.NewOrderedSink(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "shorter than its checkpoint") || !strings.Contains(err.Error(), tmp) {
			t.Fatalf("resume without the temporary file: %v, want it refused naming %s", err, tmp)
		}
		if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused resume left %s behind (%v)", tmp, err)
		}
	}
}
