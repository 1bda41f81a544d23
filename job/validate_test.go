package job_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestCheckReportsEveryProblem checks that a configuration with several
// mistakes is refused with all of them at once, each a bad input naming
// its setting, before anything is opened.
func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "store")
	cfg := job.Config{
		Kind: schema.KindPipe, Inputs: []string{filepath.Join(t.TempDir(), "missing")}, Command: []string{"cat"},
		MapReduceConfig: job.MapReduceConfig{Partitions: -1}, Timeout: -time.Second, Transport: "carrier pigeon", RetryFailed: true,
		Broker: broker.Config{StoreDir: store},
	}
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) {
		t.Fatalf("Run: %v, want bad input", err)
	}
	settings := map[string]bool{}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("Run: %v, want every problem joined", err)
	}
	for _, e := range joined.Unwrap() {
		var bad *errs.BadInputError
		if !errors.As(e, &bad) {
			t.Errorf("%v is not a BadInputError", e)
			continue
		}
		settings[bad.Setting] = true
	}
	for _, want := range []string{"Config.Partitions", "Config.Timeout", "Config.Transport", "Config.RetryFailed"} {
		if !settings[want] {
			t.Errorf("the error does not report %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "missing") {
		t.Errorf("the inputs were looked at although the settings were wrong: %v", err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("the broker store was created (stat: %v)", err)
	}
}

// TestCheckOutputPlaceBothWays checks that an output is refused when it
// lies inside an input folder and when an input lies inside it (an
// output folder replaced with Config.Force goes whole), by path, so that
// inputs a pipeline's earlier stage has yet to write count too; and that
// an output beside its inputs passes.
func TestCheckOutputPlaceBothWays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "proj", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proj", "data", "in.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name   string
		output string
		inputs []string
		want   string // "" when the output passes
	}{
		{"input file inside", at("proj"), []string{at("proj/data/in.txt")}, "is inside output"},
		{"input folder inside", at("proj"), []string{at("proj/data")}, "is inside output"},
		{"input yet to be written inside", at("proj"), []string{at("proj/stage1/part-00000")}, "is inside output"},
		{"output inside input folder", at("proj/data/out"), []string{at("proj/data")}, "inside input directory"},
		{"output is the input", at("proj/data/in.txt"), []string{at("proj/data/in.txt")}, "is also an input"},
		{"output beside the input", at("counts"), []string{at("proj/data/in.txt")}, ""},
		{"name that starts like the input's folder", at("pro"), []string{at("proj/data/in.txt")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := job.CheckOutputPlace(schema.KindMapReduce, tc.output, tc.inputs)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckOutputPlace: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckOutputPlace: %v, want bad input saying %q", err, tc.want)
			}
		})
	}
}
