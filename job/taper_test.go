package job_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// stopAfter is an observer that cancels its job once n attempts ended.
type stopAfter struct {
	observe.Observer // ignores the other events
	mu               sync.Mutex
	n                int
	cancel           context.CancelFunc
	sizes            []int64 // the input bytes of each attempt that ended
}

func (s *stopAfter) AttemptEnded(a observe.Attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes = append(s.sizes, a.BytesIn)
	if s.n--; s.n == 0 {
		s.cancel()
	}
}

// TestTaperedPipeResumes runs a pipe job whose chunks shrink toward the
// end of the input (1 MiB chunks of 6 MiB on 2 slots), stops it after a
// few tasks, and resumes it: the resume cuts the same chunks, so the
// output is the sequential run's, and the job ran more, smaller tasks at
// its end than fixed chunks would have made.
func TestTaperedPipeResumes(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "taper-6m", 6<<20, 31, false)
	dir := t.TempDir()
	cfg := baseConfig(t)
	cfg.ID, cfg.Kind, cfg.Inputs, cfg.Slots, cfg.ChunkSize = "tapered", schema.KindPipe, []string{in}, 2, 1<<20
	cfg.Command, cfg.Output = []string{"sh", "-c", "sleep 0.05; tr a-z A-Z"}, filepath.Join(dir, "out.txt")
	cfg.Window = 2 // the stop comes before the split ends: the resume splits again
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	stopCtx, stop := context.WithCancel(ctx)
	first := &stopAfter{Observer: observe.Multi(), n: 3, cancel: stop}
	cfg.Observer = first
	if _, err := job.Run(stopCtx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped run: %v, want context.Canceled", err)
	}
	cfg.Resume = true
	all := &stopAfter{Observer: observe.Multi(), n: -1, cancel: func() {}}
	cfg.Observer = all
	rep, err := job.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if want := sequentialPipe(t, []string{"tr", "a-z", "A-Z"}, []string{in}); !bytes.Equal(got, want) {
		t.Fatalf("resumed output differs from the sequential run: %s", firstDiff(got, want))
	}
	fixed, _ := countRanges(t, cfg.ChunkSize, in)
	if rep.Tasks <= fixed {
		t.Errorf("%d tasks, no more than the %d of fixed 1 MiB chunks: the chunks did not shrink", rep.Tasks, fixed)
	}
	smallest := int64(1 << 20)
	for _, n := range all.sizes {
		smallest = min(smallest, n)
	}
	if smallest > 512<<10 {
		t.Errorf("the smallest task read %d bytes; want the last ones well below the 1 MiB chunk size", smallest)
	}
}
