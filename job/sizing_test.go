package job_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// TestTaskTimeGrowsChunks runs a pipe job sized by --task-time from a
// tiny first chunk: the output is the sequential one, and the chunks grew
// toward the target, so there are far fewer tasks than at the first size.
func TestTaskTimeGrowsChunks(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "tasktime.txt", 8<<20, 7, true)
	argv := []string{"tr", "a-z", "A-Z"}
	want := sequentialPipe(t, argv, []string{in})
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command = schema.KindPipe, []string{in}, argv
	cfg.Output = filepath.Join(t.TempDir(), "out.txt")
	cfg.ChunkSize, cfg.TaskTime, cfg.Slots = 16<<10, 300*time.Millisecond, 2
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from the sequential run at %s", firstDiff(got, want))
	}
	// At the first size the job would take 512 tasks; a task of tr over
	// 16 KiB takes a few milliseconds, far below 300 ms, so the sizer
	// doubles the size with each task it sees.
	fixed, _ := countRanges(t, 16<<10, in)
	if rep.Tasks*4 > fixed {
		t.Fatalf("%d tasks, want well below the %d of the first chunk size: the chunks did not grow", rep.Tasks, fixed)
	}
}

func TestTaskTimeBadInput(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "tasktime-bad.txt", 64<<10, 8, true)
	cases := []struct {
		name string
		edit func(*job.Config)
		want string
	}{
		{"negative", func(c *job.Config) { c.TaskTime = -time.Second }, "Config.TaskTime -1s is not valid"},
		{"below a millisecond", func(c *job.Config) { c.TaskTime = time.Microsecond }, "use a duration of 1ms or more"},
		{"source that cannot be resized", func(c *job.Config) {
			c.Inputs, c.Source, c.TaskTime = nil, splitter.Lines{R: strings.NewReader("a\nb\n")}, time.Second
		}, "Config.TaskTime needs a source that can be split adaptively"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Command, cfg.Stdout = schema.KindPipe, []string{in}, []string{"cat"}, &bytes.Buffer{}
			c.edit(&cfg)
			_, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrBadInput saying %q", err, c.want)
			}
			if out := cfg.Stdout.(*bytes.Buffer); out.Len() > 0 {
				t.Fatalf("bad input wrote %d bytes of output", out.Len())
			}
		})
	}
}

// TestTaskTimeResumeKeepsTheSplit checks that --task-time cannot be added
// to a job split with a fixed size, whose resume skips tasks by count.
func TestTaskTimeResumeKeepsTheSplit(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "tasktime-resume.txt", 64<<10, 9, true)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.ID = schema.KindPipe, []string{in}, []string{"false"}, "fixed"
	cfg.Output, cfg.Retries = filepath.Join(t.TempDir(), "out.txt"), -1
	if _, err := runJob(t, cfg); !errors.As(err, new(*job.TasksFailedError)) {
		t.Fatalf("first run: got %v, want failed tasks", err)
	}
	cfg.Resume, cfg.RetryFailed, cfg.Command, cfg.TaskTime = true, true, []string{"cat"}, time.Second
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "--task-time was not given, now 1s") {
		t.Fatalf("got %v, want a refusal naming --task-time", err)
	}
}
