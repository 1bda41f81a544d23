package reducer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jetmr/jetmr/schema"
)

// OrderedSink writes the outputs of a pipe job in task order: task i's
// output is written once every task before it is written. Outputs that
// arrive early wait as references (inline bytes or spill files), bounded by
// the splitter's window, which this sink frees only as it writes.
//
// Once a task has failed, nothing after it is written: to a file, the
// output is discarded at Commit; to a stream, the output stops at the last
// task before the failure.
type OrderedSink struct {
	out     *bufio.Writer
	file    *os.File // temporary file; nil when writing to a stream
	final   string
	next    uint64
	pending map[uint64]*schema.Result
	failed  map[uint64]bool
	broken  bool
}

// NewOrderedFileSink writes to path, through a temporary file in the same
// directory that Commit renames to path.
func NewOrderedFileSink(path string) (*OrderedSink, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".jetmr-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("creating output %s: %w", path, err)
	}
	s := newOrderedSink(f)
	s.file, s.final = f, path
	return s, nil
}

// NewOrderedStreamSink writes to w as outputs become ready.
func NewOrderedStreamSink(w io.Writer) *OrderedSink { return newOrderedSink(w) }

func newOrderedSink(w io.Writer) *OrderedSink {
	return &OrderedSink{
		out:     bufio.NewWriterSize(w, 256<<10),
		pending: make(map[uint64]*schema.Result),
		failed:  make(map[uint64]bool),
	}
}

// Merge implements [Sink].
func (s *OrderedSink) Merge(_ context.Context, r *schema.Result) (int, error) {
	s.pending[r.Index] = r
	return s.drain()
}

// Fail implements [Sink].
func (s *OrderedSink) Fail(_ context.Context, r *schema.Result) (int, error) {
	s.failed[r.Index] = true
	return s.drain()
}

func (s *OrderedSink) drain() (int, error) {
	retired := 0
	for {
		if s.failed[s.next] {
			delete(s.failed, s.next)
			s.broken = true
		} else if r, ok := s.pending[s.next]; ok {
			delete(s.pending, s.next)
			if err := s.write(r); err != nil {
				return retired, err
			}
		} else {
			break
		}
		s.next++
		retired++
	}
	// Flush what is written so far when nothing more is ready, so that a
	// stream consumer sees output as the job progresses.
	if retired > 0 && s.file == nil && !s.broken {
		if err := s.out.Flush(); err != nil {
			return retired, fmt.Errorf("writing output: %w", err)
		}
	}
	return retired, nil
}

func (s *OrderedSink) write(r *schema.Result) error {
	if r.Spill == "" {
		if !s.broken {
			if _, err := s.out.Write(r.Payload); err != nil {
				return fmt.Errorf("writing output of task %d: %w", r.Index, err)
			}
		}
		return nil
	}
	defer os.Remove(r.Spill)
	if s.broken {
		return nil
	}
	f, err := os.Open(r.Spill)
	if err != nil {
		return fmt.Errorf("opening spilled output of task %d: %w", r.Index, err)
	}
	defer f.Close()
	if _, err := s.out.ReadFrom(f); err != nil {
		return fmt.Errorf("copying output of task %d: %w", r.Index, err)
	}
	return nil
}

// Commit implements [Sink]: it flushes, and for a file syncs and renames
// the temporary file into place, or removes it when tasks failed.
func (s *OrderedSink) Commit(_ context.Context, failed bool) error {
	if s.file == nil {
		if failed || s.broken {
			return nil
		}
		if err := s.out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	if failed || s.broken {
		s.Abort()
		return nil
	}
	if err := s.out.Flush(); err != nil {
		s.Abort()
		return fmt.Errorf("writing %s: %w", s.final, err)
	}
	if err := s.file.Sync(); err != nil {
		s.Abort()
		return fmt.Errorf("syncing %s: %w", s.final, err)
	}
	if err := s.file.Close(); err != nil {
		os.Remove(s.file.Name())
		return fmt.Errorf("closing %s: %w", s.final, err)
	}
	if err := os.Rename(s.file.Name(), s.final); err != nil {
		os.Remove(s.file.Name())
		return fmt.Errorf("renaming output into %s: %w", s.final, err)
	}
	return syncDir(filepath.Dir(s.final))
}

// Abort implements [Sink].
func (s *OrderedSink) Abort() {
	for _, r := range s.pending {
		if r.Spill != "" {
			os.Remove(r.Spill)
		}
	}
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
