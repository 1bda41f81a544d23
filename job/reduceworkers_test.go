package job_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/reducer"
)

// TestReduceOnWorkers runs a word count of 4 partitions whose partitions
// two worker processes reduce, with the built-in fold and with a reducer
// command: the output equals the embedded run's, where this process
// reduces, and nothing is left next to it.
func TestReduceOnWorkers(t *testing.T) {
	t.Parallel()
	const parts = 4
	input := generatedText(t, "reduce-on-workers", 300<<10, 7, false)
	url := natsServer(t)
	startCustomWorkers(t, url, 2)
	script := filepath.Join(t.TempDir(), "sum.awk")
	if err := os.WriteFile(script, []byte(`NR > 1 && $1 != k { print k "\t" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k "\t" s }`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, reduce string }{
		{"fold", "sum"},
		{"reduce-command", "awk -F '\t' -f " + script},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := baseConfig(t)
			local.Kind, local.Inputs, local.Map, local.Reduce = "mapreduce", []string{input}, "wordcount", tt.reduce
			local.Output, local.ChunkSize, local.Partitions = filepath.Join(t.TempDir(), "local"), 16<<10, parts
			if _, err := runJob(t, local); err != nil {
				t.Fatal(err)
			}
			want := readParts(t, local.Output, parts)

			remote := local
			remote.Broker, remote.Transport, remote.ReduceOnWorkers = broker.Config{URL: url}, "shared", true
			remote.Output = filepath.Join(t.TempDir(), "remote")
			if _, err := runJob(t, remote); err != nil {
				t.Fatal(err)
			}
			if got := readParts(t, remote.Output, parts); !maps.Equal(got, want) {
				t.Errorf("the output reduced on workers (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
			}
			if left := dirNames(t, filepath.Dir(remote.Output)); len(left) != 1 {
				t.Errorf("next to the output: %q, want the output alone", left)
			}
		})
	}
}

// TestReduceOnWorkersRefused: a setting under which no worker could write
// the part files where this process renames them is refused before the
// job starts, naming the fix.
func TestReduceOnWorkersRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*job.Config)
		want   string
	}{
		{"embedded broker", func(c *job.Config) {}, "add --nats URL"},
		{"object transport", func(c *job.Config) { c.Broker.URL, c.Transport = "nats://127.0.0.1:1", "object" }, "add --transport shared"},
		{"auto transport", func(c *job.Config) { c.Broker.URL, c.Transport = "nats://127.0.0.1:1", "" }, "add --transport shared"},
		{"local workers", func(c *job.Config) { c.Broker.URL, c.Transport, c.LocalWorkers = "nats://127.0.0.1:1", "shared", 2 }, "drop --local-workers"},
		{"pipe job", func(c *job.Config) {
			c.Broker.URL, c.Transport, c.Kind, c.Command, c.Map, c.Reduce = "nats://127.0.0.1:1", "shared", "pipe", []string{"cat"}, "", ""
		}, "for mapreduce jobs"},
		{"s3 output", func(c *job.Config) {
			c.Broker.URL, c.Transport, c.Output = "nats://127.0.0.1:1", "shared", "s3://bucket/out"
		}, "choose a local -o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce = "mapreduce", []string{td(t, "text")}, "wordcount", "sum"
			cfg.Output, cfg.ReduceOnWorkers = filepath.Join(t.TempDir(), "out"), true
			tt.change(&cfg)
			_, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want bad input naming %q", err, tt.want)
			}
			if _, err := os.Stat(cfg.Output); !strings.HasPrefix(cfg.Output, "s3:") && !os.IsNotExist(err) {
				t.Errorf("output %s exists after a refused job", cfg.Output)
			}
		})
	}
}

// TestReduceOnWorkersCommandFails: a reducer command that fails on the
// worker fails the job with the worker's error, and writes no output.
func TestReduceOnWorkersCommandFails(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	startCustomWorkers(t, url, 1)
	script := filepath.Join(t.TempDir(), "reduce.sh")
	if err := os.WriteFile(script, []byte("echo reducer broke >&2; exit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce = "mapreduce", []string{td(t, "text")}, "wordcount", "sh "+script
	cfg.Broker, cfg.Transport, cfg.ReduceOnWorkers, cfg.Partitions = broker.Config{URL: url}, "shared", true, 2
	cfg.ID, cfg.Output = "reducerfixed", filepath.Join(t.TempDir(), "out")
	_, err := runJob(t, cfg)
	if !errors.Is(err, reducer.ErrPartitionFailed) || !strings.Contains(err.Error(), "exit") {
		t.Fatalf("err = %v, want ErrPartitionFailed with the command's exit", err)
	}
	if left := dirNames(t, filepath.Dir(cfg.Output)); len(left) != 0 {
		t.Errorf("a failed job left %q next to its output", left)
	}

	// Once the reducer is fixed, a resume reduces every partition again:
	// the failed stage's answers do not fail it.
	fixed := `awk -F '\t' 'NR > 1 && $1 != k { print k "\t" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k "\t" s }'` + "\n"
	if err := os.WriteFile(script, []byte(fixed), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("resuming after the reducer was fixed: %v", err)
	}
	embedded := cfg
	embedded.ID, embedded.Resume, embedded.ReduceOnWorkers, embedded.Broker, embedded.Transport = "", false, false, broker.Config{}, ""
	embedded.Output = filepath.Join(t.TempDir(), "out")
	if _, err := runJob(t, embedded); err != nil {
		t.Fatal(err)
	}
	if got, want := readParts(t, cfg.Output, 2), readParts(t, embedded.Output, 2); !maps.Equal(got, want) {
		t.Errorf("the resumed output differs from the embedded run's")
	}
}

// TestReduceOnWorkersEmptyInput: an empty input has no task; the workers
// still write each partition's part, as the embedded run does.
func TestReduceOnWorkersEmptyInput(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	url := natsServer(t)
	startCustomWorkers(t, url, 1)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce, cfg.Partitions = "mapreduce", []string{empty}, "wordcount", "sum", 2
	cfg.Broker, cfg.Transport, cfg.ReduceOnWorkers = broker.Config{URL: url}, "shared", true
	cfg.Output = filepath.Join(t.TempDir(), "out")
	if _, err := runJob(t, cfg); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, cfg.Output, 2); len(got) != 0 {
		t.Errorf("the output of an empty input holds %v", got)
	}
}
