package splitter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/jetmr/jetmr/splitter"
)

// costModel is a synthetic workload: a fixed overhead per task plus a
// throughput, optionally changing after some tasks.
type costModel struct {
	overhead time.Duration
	perSec   float64 // units per second
}

func (m costModel) duration(units int64) time.Duration {
	return m.overhead + time.Duration(float64(units)/m.perSec*float64(time.Second))
}

func TestSizerConvergesToTarget(t *testing.T) {
	cases := []struct {
		name    string
		model   costModel
		initial int64
	}{
		{"from below, fast input", costModel{2 * time.Millisecond, 100e6}, 256 << 10},
		{"from above, slow input", costModel{5 * time.Millisecond, 50e3}, 8 << 20},
		{"overhead half the target", costModel{250 * time.Millisecond, 1e6}, 64 << 10},
	}
	const target = 500 * time.Millisecond
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := splitter.NewSizer(splitter.SizerConfig{Target: target, Initial: c.initial, Min: 1, Max: 1 << 40})
			prev := s.Size()
			var d time.Duration
			for step := range 40 {
				size := s.Size()
				if step > 0 && (float64(size) > 2*float64(prev)+1 || float64(size) < float64(prev)/2-1) {
					t.Fatalf("step %d: size moved from %d to %d, more than the 2x growth cap", step, prev, size)
				}
				prev = size
				d = c.model.duration(size)
				s.Observe(size, d)
			}
			if rel := math.Abs(d.Seconds()-target.Seconds()) / target.Seconds(); rel > 0.05 {
				t.Fatalf("after 40 tasks a task takes %s, want within 5%% of %s", d, target)
			}
		})
	}
}

func TestSizerFollowsAChangeAndIgnoresOneOutlier(t *testing.T) {
	const target = time.Second
	s := splitter.NewSizer(splitter.SizerConfig{Target: target, Initial: 1000, Min: 10, Max: 1e9})
	run := func(m costModel, n int) {
		for range n {
			size := s.Size()
			s.Observe(size, m.duration(size))
		}
	}
	run(costModel{0, 10000}, 40)
	settled := s.Size()
	if settled < 9500 || settled > 10500 {
		t.Fatalf("settled at %d units, want about 10000 (1 s at 10000/s)", settled)
	}
	// One task 100x slower moves the size by one capped, smoothed step only.
	s.Observe(settled, 100*target)
	if got := s.Size(); got < settled/2 {
		t.Fatalf("one outlier cut the size from %d to %d, below the 1/2 step cap", settled, got)
	}
	run(costModel{0, 10000}, 40)
	// The input gets 10x slower: the size follows.
	run(costModel{0, 1000}, 60)
	if got := s.Size(); got < 950 || got > 1050 {
		t.Fatalf("after the input slowed down the size is %d, want about 1000", got)
	}
}

func TestSizerClamps(t *testing.T) {
	s := splitter.NewSizer(splitter.SizerConfig{Target: time.Second, Initial: 1 << 30, Min: 4096, Max: 1 << 20})
	if got := s.Size(); got != 1<<20 {
		t.Fatalf("initial size %d, want it clamped to Max %d", got, 1<<20)
	}
	for range 50 {
		s.Observe(s.Size(), time.Hour) // very slow: wants ~0 units
	}
	if got := s.Size(); got != 4096 {
		t.Fatalf("size %d, want it clamped to Min 4096", got)
	}
	s.Observe(0, time.Second)
	s.Observe(100, 0)
	if s.Observed() != 50 {
		t.Fatalf("observations without units or time were counted: %d", s.Observed())
	}
}

// TestFilesSplitSized checks that ranges of changing sizes reassemble the
// inputs, and that splitting after any chunk goes on exactly where it ended.
func TestFilesSplitSized(t *testing.T) {
	dir := t.TempDir()
	var data [][]byte
	for f := range 3 {
		var b bytes.Buffer
		for i := range 500 + 300*f {
			fmt.Fprintf(&b, "file %d line %d %s\n", f, i, bytes.Repeat([]byte("x"), i%37))
		}
		data = append(data, b.Bytes())
		writeFile(t, dir, fmt.Sprintf("in%d.txt", f), b.Bytes())
	}
	inputs, err := splitter.ResolveInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	src := splitter.Files(inputs)
	sizes := []int64{1, 700, 64, 5000, 13, 100000}
	var n int
	next := func() int64 { n++; return sizes[n%len(sizes)] }
	var all []splitter.Chunk
	if err := src.SplitSized(context.Background(), nil, next, func(c splitter.Chunk) error {
		all = append(all, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := reassemble(t, all), bytes.Join(data, nil); !bytes.Equal(got, want) {
		t.Fatalf("%d chunks reassemble to %d bytes, want the %d input bytes", len(all), len(got), len(want))
	}
	for i := range all {
		n = i // same size sequence as the first run from here on
		var rest []splitter.Chunk
		if err := src.SplitSized(context.Background(), &all[i], next, func(c splitter.Chunk) error {
			rest = append(rest, c)
			return nil
		}); err != nil {
			t.Fatalf("after chunk %d: %v", i, err)
		}
		got := reassemble(t, append(append([]splitter.Chunk{}, all[:i+1]...), rest...))
		if !bytes.Equal(got, bytes.Join(data, nil)) {
			t.Fatalf("splitting after chunk %d (%+v) does not go on where it ended", i, all[i])
		}
	}
	bad := splitter.Chunk{Path: "elsewhere.txt", Offset: 0, Length: 10}
	err = src.SplitSized(context.Background(), &bad, next, func(splitter.Chunk) error { return nil })
	if !errors.Is(err, splitter.ErrBadInput) {
		t.Fatalf("a checkpoint outside the inputs: got %v, want ErrBadInput", err)
	}
}

func reassemble(t *testing.T, chunks []splitter.Chunk) []byte {
	t.Helper()
	var out []byte
	for _, c := range chunks {
		data, err := os.ReadFile(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		b := data[c.Offset : c.Offset+c.Length]
		if c.Offset+c.Length < int64(len(data)) && b[len(b)-1] != '\n' {
			t.Fatalf("chunk %+v does not end on a line boundary", c)
		}
		out = append(out, b...)
	}
	return out
}
