package job_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/splitter"
)

func TestUnregisteredFunctionFailsClearly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ m, r, want string }{
		{"nosuchmap", "sum", `--map "nosuchmap"`},
		{"wordcount", "nosuchreduce", `--reduce "nosuchreduce"`},
	} {
		start := time.Now()
		_, err := job.Run(context.Background(), job.Config{
			Kind: "mapreduce", Source: splitter.Lines{R: strings.NewReader("a\n")},
			Output: t.TempDir() + "/out", MapReduceConfig: job.MapReduceConfig{Map: c.m, Reduce: c.r},
			Registry: mapper.NewRegistry(),
			Broker:   broker.Config{StoreDir: t.TempDir()},
		})
		if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("map %s reduce %s: got %v, want a bad-input error naming %s", c.m, c.r, err, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to refuse", d)
		}
	}
}

func TestLinesSourceCannotResume(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	cfg := job.Config{
		ID: "once", Kind: "pipe", Source: splitter.Lines{R: strings.NewReader("a\n")},
		Command: []string{"cat"}, Output: t.TempDir() + "/o.txt",
		Broker: broker.Config{StoreDir: store},
	}
	if _, err := job.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	_, err := job.Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("resuming a finished job over a reader: no error")
	}
}

func TestRegistryPanicsOnMisuse(t *testing.T) {
	t.Parallel()
	reg := mapper.NewRegistry()
	for name, f := range map[string]func(){
		"duplicate built-in": func() { reg.RegisterMap("wordcount", mapper.Lines) },
		"empty name":         func() { reg.RegisterMap("", mapper.Lines) },
		"nil function":       func() { reg.RegisterMap("x", nil) },
		"grep prefix":        func() { reg.RegisterMap("grep:x", mapper.Lines) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestCheckFunctionsAsRun: CheckFunctions refuses the map, reduce and
// combiner that a job's own validation refuses, with the same message
// first, each problem naming its setting, and accepts those it runs.
func TestCheckFunctionsAsRun(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m, r, combiner string
		settings       []string // of the problems, in order
	}{
		{"wordcount", "sum", "", nil},
		{"cat", "uniq -c", "cat", nil},
		{"nosuchmap", "sum", "", []string{"Config.Map"}},
		{"wordcount", "nosuchreduce", "", []string{"Config.Reduce"}},
		{"nosuchmap", "nosuchreduce", "cat", []string{"Config.Map", "Config.Reduce"}},
		{"wordcount", "sum", "cat", []string{"Config.Combiner"}},
		{"nosuchmap", "cat", "nosuchcombiner", []string{"Config.Map", "Config.Combiner"}},
	} {
		cfg := job.Config{
			Kind: "mapreduce", Source: splitter.Lines{R: strings.NewReader("a b\n")},
			Output: t.TempDir() + "/out", MapReduceConfig: job.MapReduceConfig{Map: c.m, Reduce: c.r, Combiner: c.combiner},
			Broker: broker.Config{StoreDir: t.TempDir()},
		}
		checked := job.CheckFunctions(cfg)
		var got []string
		for _, err := range flattenErrors(checked) {
			var bad *errs.BadInputError
			if !errors.As(err, &bad) {
				t.Fatalf("%s/%s/%s: %v (%T) is no bad input", c.m, c.r, c.combiner, err, err)
			}
			got = append(got, bad.Setting)
		}
		if !slices.Equal(got, c.settings) {
			t.Errorf("%s/%s/%s: problems of %q, want %q: %v", c.m, c.r, c.combiner, got, c.settings, checked)
		}
		_, runErr := job.Run(context.Background(), cfg)
		if errors.Is(runErr, job.ErrBadInput) != (checked != nil) {
			t.Errorf("%s/%s/%s: CheckFunctions says %v, the job %v", c.m, c.r, c.combiner, checked, runErr)
		}
		// The job names its first problem (CheckFunctions every one).
		if problems := flattenErrors(checked); len(problems) > 0 && !strings.Contains(runErr.Error(), problems[0].Error()) {
			t.Errorf("%s/%s/%s: the job refuses with %q, not %q", c.m, c.r, c.combiner, runErr, problems[0])
		}
	}
}

// TestCheckFunctionsLeavesMapToWorkers: a bare map name known nowhere
// here passes when no task runs in this process, as the job lets its
// workers resolve it; a path, or a reduce, never does.
func TestCheckFunctionsLeavesMapToWorkers(t *testing.T) {
	t.Parallel()
	const url = "nats://127.0.0.1:4222" // never dialled
	for _, c := range []struct {
		name       string
		url        string
		local      int
		m, r       string
		wantRefuse bool
	}{
		{"outside workers by default", url, 0, "initials", "sum", false},
		{"no local workers", url, -1, "initials", "sum", false},
		{"local workers", url, 2, "initials", "sum", true},
		{"embedded broker", "", 0, "initials", "sum", true},
		{"a path", url, -1, "./initials", "sum", true},
		{"a reduce", url, -1, "wordcount", "initials", true},
	} {
		err := job.CheckFunctions(job.Config{
			Kind: "mapreduce", LocalWorkers: c.local, Broker: broker.Config{URL: c.url},
			MapReduceConfig: job.MapReduceConfig{Map: c.m, Reduce: c.r},
		})
		if (err != nil) != c.wantRefuse || (err != nil && !errors.Is(err, job.ErrBadInput)) {
			t.Errorf("%s: %v, want refused %v", c.name, err, c.wantRefuse)
		}
	}
}

// flattenErrors lists the errors joined in err, nil for none.
func flattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
