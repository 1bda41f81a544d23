package job_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// lineCommands are line-wise commands: run on line-aligned chunks and
// joined, their output equals their output over the whole file.
var lineCommands = []struct {
	name string
	argv []string
}{
	{"tr", []string{"tr", "a-z", "A-Z"}},
	{"sed", []string{"sed", "-E", `s/([a-z]+)/<\1>/g`}},
	{"cat", []string{"cat"}},
	{"awk", []string{"awk", "{print length($0)}"}},
}

// TestPipeMatchesSequential checks that a pipe job's output is
// byte-identical to running the command over each input file in turn.
// Each input runs with a small chunk size (many tasks, output to a file)
// and with the default chunk size (output to Config.Stdout).
func TestPipeMatchesSequential(t *testing.T) {
	t.Parallel()
	big := generatedText(t, "big.txt", 3<<20, 1, false)
	small := generatedText(t, "small.txt", 64<<10, 2, false)
	inputs := []struct {
		name  string
		paths []string
		tiny  int64 // the small chunk size
	}{
		{"generated-3MiB", []string{big}, 128 << 10},
		{"generated-64KiB", []string{small}, 1 << 10},
		{"prose-dir", []string{td(t, "text")}, 1 << 10},
		{"crlf", []string{td(t, "crlf.txt")}, 16},
		{"no-final-newline", []string{td(t, "nonl.txt")}, 8},
		{"empty", []string{td(t, "empty.txt")}, 1 << 10},
		{"invalid-utf8", []string{td(t, "invalid-utf8.txt")}, 16},
		{"line-longer-than-chunk", []string{td(t, "longline.txt")}, 4 << 10},
		{"several-with-dir", []string{
			td(t, "nonl.txt"), td(t, "crlf.txt"), td(t, "text"), td(t, "empty.txt"),
			td(t, "invalid-utf8.txt"), td(t, "longline.txt"),
		}, 1 << 10},
	}
	for _, in := range inputs {
		files := inputFiles(t, in.paths...)
		for _, c := range lineCommands {
			want := sequentialPipe(t, c.argv, files)
			t.Run(in.name+"/"+c.name+"/small-chunks-to-file", func(t *testing.T) {
				t.Parallel()
				cfg := baseConfig(t)
				cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize = schema.KindPipe, in.paths, c.argv, in.tiny
				outDir := t.TempDir()
				cfg.Output = filepath.Join(outDir, "out.txt")
				rep, err := runJob(t, cfg)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				got, err := os.ReadFile(cfg.Output)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("output differs from the sequential run: %s", firstDiff(got, want))
				}
				if names := dirNames(t, outDir); !slices.Equal(names, []string{"out.txt"}) {
					t.Errorf("output folder holds %q, want only out.txt", names)
				}
				tasks, inBytes := countRanges(t, in.tiny, in.paths...)
				if rep.Tasks != tasks || rep.Failed != 0 || rep.BytesIn != inBytes || rep.BytesOut != int64(len(want)) {
					t.Errorf("report: %d tasks, %d failed, %d bytes in, %d bytes out; want %d tasks, 0 failed, %d in, %d out",
						rep.Tasks, rep.Failed, rep.BytesIn, rep.BytesOut, tasks, inBytes, len(want))
				}
				checkNoSpill(t, cfg)
			})
			t.Run(in.name+"/"+c.name+"/default-chunks-to-stdout", func(t *testing.T) {
				t.Parallel()
				cfg := baseConfig(t)
				cfg.Kind, cfg.Inputs, cfg.Command = schema.KindPipe, in.paths, c.argv
				var out bytes.Buffer
				cfg.Stdout = &out
				rep, err := runJob(t, cfg)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("output differs from the sequential run: %s", firstDiff(out.Bytes(), want))
				}
				if rep.Failed != 0 || rep.BytesOut != int64(len(want)) {
					t.Errorf("report: %d failed, %d bytes out; want 0 failed, %d out", rep.Failed, rep.BytesOut, len(want))
				}
				checkNoSpill(t, cfg)
			})
		}
	}
}

// TestPipeManyTinyTasks pushes many more tasks than the window through one
// job, so that the window is recycled many times and results arrive out of
// order.
func TestPipeManyTinyTasks(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "small.txt", 64<<10, 2, false)
	argv := []string{"sed", "-E", `s/([a-z]+)/<\1>/g`}
	want := sequentialPipe(t, argv, []string{in})
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command = schema.KindPipe, []string{in}, argv
	cfg.ChunkSize, cfg.Window, cfg.Slots = 512, 8, 4
	var out bytes.Buffer
	cfg.Stdout = &out
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output differs from the sequential run: %s", firstDiff(out.Bytes(), want))
	}
	if tasks, _ := countRanges(t, 512, in); rep.Tasks != tasks {
		t.Errorf("report counts %d tasks, want %d", rep.Tasks, tasks)
	}
}

// TestPipeLargeOutputsSpill runs a command whose output per task is larger
// than a result message holds, so results travel as spill files.
func TestPipeLargeOutputsSpill(t *testing.T) {
	t.Parallel()
	in := td(t, "longline.txt")
	// Each chunk's output is its input doubled: the task holding the
	// 300 KiB line outputs 600 KiB.
	argv := []string{"awk", "{print; print}"}
	want := sequentialPipe(t, argv, []string{in})
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize = schema.KindPipe, []string{in}, argv, 1<<10
	cfg.Output = filepath.Join(t.TempDir(), "out")
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from the sequential run: %s", firstDiff(got, want))
	}
	checkNoSpill(t, cfg)
}

// TestPipeReplacesExistingOutput checks that an existing output file is
// replaced whole with Force.
func TestPipeReplacesExistingOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(out, []byte(strings.Repeat("old content\n", 10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	in := td(t, "crlf.txt")
	want := sequentialPipe(t, []string{"tr", "a-z", "A-Z"}, []string{in})
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.Output = schema.KindPipe, []string{in}, []string{"tr", "a-z", "A-Z"}, out
	cfg.Force = true
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs: %s", firstDiff(got, want))
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out.txt"}) {
		t.Errorf("output folder holds %q, want only out.txt", names)
	}
}

// stalledWriter blocks every write until release is closed, as a reader
// of the job's stdout that stops reading for a while.
type stalledWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}

// TestPipeStalledReaderIsNotLoss checks that a reader of stdout that stops
// reading for many watchdog looks does not make the watchdog take the
// tasks whose results wait to be merged for lost: the job finishes with
// the whole output.
func TestPipeStalledReaderIsNotLoss(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "stalled-reader", 2<<20, 7, true)
	argv := []string{"tr", "0-9", "a-j"}
	want := sequentialPipe(t, argv, []string{in})
	w := &stalledWriter{release: make(chan struct{})}
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.Stdout = schema.KindPipe, []string{in}, argv, w
	cfg.ChunkSize, cfg.Slots = 64<<10, 2
	cfg.LossCheck = 50 * time.Millisecond
	stall := time.AfterFunc(60*cfg.LossCheck, func() { close(w.release) }) // 60 looks: 5 minutes at the default
	defer stall.Stop()
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run with a stalled reader: %v", err)
	}
	if got := w.buf.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("output differs: %s", firstDiff(got, want))
	}
}

// TestPipeRefusesFileGivenTwice checks that inputs reaching one file twice
// are refused before the job starts: read once, the file would give other
// output than the command run sequentially over the same paths.
func TestPipeRefusesFileGivenTwice(t *testing.T) {
	t.Parallel()
	for _, paths := range [][]string{
		{td(t, "crlf.txt"), td(t, "crlf.txt")},
		{td(t, "text"), td(t, "text/cafe.txt")},
	} {
		cfg := baseConfig(t)
		cfg.Kind, cfg.Inputs, cfg.Command = schema.KindPipe, paths, []string{"cat"}
		_, err := runJob(t, cfg)
		if !errors.Is(err, splitter.ErrDuplicateInput) || !errors.Is(err, job.ErrBadInput) {
			t.Errorf("Run(%q) = %v, want ErrDuplicateInput and ErrBadInput", paths, err)
		}
	}
}
