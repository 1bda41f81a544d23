//go:build linux

package command

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFeederPrefills checks that a stdin that fits in a pipe of the
// system's largest size is in the pipe whole before the command starts,
// and that the pipe's growth is taken from the budget and given back.
// It changes pipeBudget: not parallel.
func TestFeederPrefills(t *testing.T) {
	if maxPipeSize() < 1<<20 {
		t.Skipf("pipe-max-size is %d", maxPipeSize())
	}
	before := pipeBudget.Load()
	in := NewBytes(bytes.Repeat([]byte("x"), 17), bytes.Repeat([]byte("y"), 1<<20-2*pageSize))
	f, err := newFeeder(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.rest) != 0 {
		t.Errorf("%d parts left to write after the prefill, want none", len(f.rest))
	}
	if got := pipeSize(t, f.w); got != 1<<20 {
		t.Errorf("pipe of %d bytes, want 1 MiB", got)
	}
	if f.grown <= 0 || pipeBudget.Load() != before-f.grown {
		t.Errorf("grown %d, budget %d, was %d", f.grown, pipeBudget.Load(), before)
	}
	f.abandon()
	if pipeBudget.Load() != before {
		t.Errorf("budget %d after abandon, want %d back", pipeBudget.Load(), before)
	}
}

// TestFeederWithinLimits checks that a pipe never grows past
// pipe-max-size, nor past the budget, and that a stdin that does not fit
// leaves the rest to write.
func TestFeederWithinLimits(t *testing.T) {
	before := pipeBudget.Load()
	defer pipeBudget.Store(before)
	big := NewBytes(bytes.Repeat([]byte("z"), int(maxPipeSize())*4))
	f, err := newFeeder(big)
	if err != nil {
		t.Fatal(err)
	}
	if got := pipeSize(t, f.w); int64(got) > maxPipeSize() {
		t.Errorf("pipe of %d bytes, over pipe-max-size %d", got, maxPipeSize())
	}
	if len(f.rest) == 0 {
		t.Error("a stdin four times the largest pipe fit whole")
	}
	f.abandon()

	pipeBudget.Store(0)
	f, err = newFeeder(NewBytes(bytes.Repeat([]byte("z"), 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.abandon()
	if f.grown != 0 || pipeSize(t, f.w) > 64<<10 {
		t.Errorf("with no budget left the pipe grew by %d to %d bytes", f.grown, pipeSize(t, f.w))
	}
}

// TestRunGivesPipesBack checks that commands run at once, on stdins that
// fit their pipe and on stdins that do not, all give back what their
// pipes took from the budget. It reads pipeBudget: not parallel.
func TestRunGivesPipesBack(t *testing.T) {
	before := pipeBudget.Load()
	var g errgroup.Group
	for i := range 8 {
		in := bytes.Repeat([]byte("w\n"), (i+1)<<18) // 512 KiB to 4 MiB
		g.Go(func() error {
			var out bytes.Buffer
			if err := Run(context.Background(), []string{"cat"}, "", NewBytes(in), &out); err != nil {
				return err
			}
			if !bytes.Equal(out.Bytes(), in) {
				return fmt.Errorf("cat read %d bytes of %d", out.Len(), len(in))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := pipeBudget.Load(); got != before {
		t.Errorf("pipe budget %d after the commands, want %d back", got, before)
	}
}
