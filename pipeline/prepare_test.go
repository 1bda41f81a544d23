package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/pipeline"
)

// writeJob writes text as dir/job.yaml and returns its path.
func writeJob(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrepareResolvesFunctions: the map, reduce and combiner of a
// mapreduce stage are resolved as its job will resolve them: a map that
// is neither a built-in nor a command passes only where the stage's tasks
// run on outside workers alone, which may have it.
func TestPrepareResolvesFunctions(t *testing.T) {
	t.Parallel()
	const nats = "nats://127.0.0.1:4222" // never dialled: Prepare opens nothing
	reg := mapper.NewRegistry()
	reg.RegisterMap("initials", func(context.Context, []byte, mapper.Emitter) error { return nil })
	for _, tc := range []struct {
		name, mapName, reduce, combiner string
		opts                            pipeline.Options
		want                            []string // "" for none
	}{
		{"built-ins", "wordcount", "sum", "", pipeline.Options{}, nil},
		{"commands", "cat", "uniq -c", "cat", pipeline.Options{}, nil},
		{"unknown map", "wordcout", "sum", "", pipeline.Options{}, []string{`job.yaml:4: mapreduce of stage b: map "wordcout" is neither a built-in`}},
		{"unknown reduce", "wordcount", "summ", "", pipeline.Options{}, []string{`job.yaml:4: mapreduce of stage b: reduce "summ" is neither a built-in`}},
		{"both unknown", "wordcout", "summ", "", pipeline.Options{}, []string{`map "wordcout"`, `reduce "summ"`}},
		{"combiner of a fold", "wordcount", "sum", "cat", pipeline.Options{}, []string{"mapreduce of stage b: the built-in reduce sum already combines map-side: drop combiner"}},
		{"unknown combiner", "wordcount", "cat", "no-such-combiner-jetmr", pipeline.Options{}, []string{`combiner "no-such-combiner-jetmr"`}},
		{"registered map", "initials", "sum", "", pipeline.Options{Registry: reg}, nil},
		// With --nats the stage's tasks run on workers, whose map it may be.
		{"worker map", "wordcout", "sum", "", pipeline.Options{BrokerConfig: broker.Config{URL: nats}}, nil},
		{"worker map, no local workers", "wordcout", "sum", "", pipeline.Options{BrokerConfig: broker.Config{URL: nats}, LocalWorkers: -1}, nil},
		{"local workers need the map", "wordcout", "sum", "", pipeline.Options{BrokerConfig: broker.Config{URL: nats}, LocalWorkers: 2}, []string{`map "wordcout" is neither a built-in`}},
		{"a path is no worker's map", "./mapper.sh", "sum", "", pipeline.Options{BrokerConfig: broker.Config{URL: nats}, LocalWorkers: -1}, []string{`map: command "./mapper.sh" not found`}},
		{"the reduce runs here", "wordcount", "summ", "", pipeline.Options{BrokerConfig: broker.Config{URL: nats}, LocalWorkers: -1}, []string{`reduce "summ" is neither a built-in`}},
		{"no worker at all", "wordcout", "sum", "", pipeline.Options{LocalWorkers: -1}, []string{"Config.LocalWorkers 0 needs Config.Broker.URL", `map "wordcout" is neither a built-in`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := writeFile(t, dir, "in.txt", 100)
			text := "stages:\n  - name: b\n    mapreduce:\n      {input: \"" + in + "\", output: \"" + filepath.Join(dir, "out") +
				"\", map: \"" + tc.mapName + "\", reduce: \"" + tc.reduce + "\""
			if tc.combiner != "" {
				text += ", combiner: " + tc.combiner
			}
			p, err := pipeline.Prepare(writeJob(t, dir, text+"}\n"), tc.opts)
			if len(tc.want) == 0 {
				if err != nil || p == nil {
					t.Fatalf("Prepare: %v", err)
				}
				return
			}
			if !errors.Is(err, job.ErrBadInput) || p != nil {
				t.Fatalf("Prepare: %v, want bad input and no plan", err)
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", got, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestPrepareNamesEveryProblem: the problems of the file, of the files it
// names and of its functions are refused together, in file order.
func TestPrepareNamesEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "in.txt", 100)
	path := writeJob(t, dir, `
stages:
  - name: a
    pipe: {input: `+in+`, output: `+filepath.Join(dir, "a.txt")+`, command: [cat], retries: -1, timeout: banana}
  - name: b
    mapreduce: {input: `+filepath.Join(dir, "nothere.txt")+`, output: `+filepath.Join(dir, "no", "b")+`, map: wordcout, reduce: sum}
  - name: c
    each: {items: [x], command: [echo]}
  - name: d
    pipe: {input: "stage:c", output: `+filepath.Join(dir, "d.txt")+`, command: [cat]}
`)
	_, err := pipeline.Prepare(path, pipeline.Options{})
	var perr *pipeline.Error
	if !errors.As(err, &perr) || !errors.Is(err, pipeline.ErrInvalid) || perr.Line != 4 {
		t.Fatalf("Prepare: %v, want a *pipeline.Error at line 4 first", err)
	}
	want := []string{
		path + ":4: retries: -1 is not valid",
		path + `:4: timeout: "banana" is not a duration`,
		path + ":6: stage b: the folder of output",
		path + ":6: stage b: input " + filepath.Join(dir, "nothere.txt") + " does not exist",
		path + `:6: mapreduce of stage b: map "wordcout" is neither a built-in`,
		path + ":10: stage d reads stage:c, but stage c writes no file",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d does not start %q:\n%v", i+1, w, err)
		}
	}
}

// TestRunRefusesUnknownFunctions: Run, given a plan of NewPlan, resolves
// the stages' functions before the first stage starts, as Prepare does.
func TestRunRefusesUnknownFunctions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := writeFile(t, e.dir, "in.txt", 100)
	a := filepath.Join(e.dir, "a.txt")
	_, err := e.run(t, nil, `
stages:
  - name: a
    pipe: {input: `+in+`, output: `+a+`, command: [tr, a-z, A-Z]}
  - name: b
    mapreduce: {input: `+in+`, output: `+filepath.Join(e.dir, "b")+`, map: wordcount, reduce: summ}
`, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), `job.yaml:6: mapreduce of stage b: reduce "summ" is neither a built-in`) {
		t.Fatalf("Run: %v, want the unknown reduce refused", err)
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("stage a ran: %s exists (%v)", a, err)
	}
}
