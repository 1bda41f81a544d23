package reducer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/schema"
)

// Checkpointer stores an ordered output's checkpoint durably.
type Checkpointer interface {
	// Load returns the stored checkpoint; ok is false when there is none.
	Load(ctx context.Context) (c schema.OutputCheckpoint, ok bool, err error)
	// Save replaces the stored checkpoint.
	Save(ctx context.Context, c schema.OutputCheckpoint) error
}

// OrderedConfig configures an [OrderedSink].
type OrderedConfig struct {
	// Path is the output file. Empty writes to Stream instead.
	Path string
	// Stream receives the output when Path is empty.
	Stream io.Writer
	// Job names the job; it makes the temporary file's name, so that a
	// resumed job finds it: ".<base>.jetmr-<job>.tmp" next to Path.
	Job string
	// Checkpoints stores how far the file is written, for resumes. Optional
	// (without it a resume starts the file over).
	Checkpoints Checkpointer
	// Interval is the least time between checkpoints. Default 1s.
	Interval time.Duration
	// Sync fsyncs the file before each checkpoint and the rename, so that
	// a checkpoint survives a power loss, not just a crash of the process
	// (the page cache outlives a process). Set it with --sync always.
	Sync bool
}

// OrderedSink writes the outputs of a pipe job in task order: task i's
// output is written once every task before it is written. Outputs that
// arrive early wait as references (inline bytes or spill files), bounded by
// the splitter's window, which this sink frees only as it writes.
//
// Crash safety: the file is written under a temporary name. At most every
// Interval the sink flushes it (and fsyncs it, with Sync), then saves a checkpoint (next
// task, byte offset); only then does it delete the spill files of the tasks
// the checkpoint covers. A resumed sink truncates the file to the
// checkpoint's offset and continues from its task: whatever was written
// after the checkpoint is written again from the results stream and the
// spill files, which still exist. A crash between any two of these steps
// leaves either the old or the new checkpoint, and both are consistent.
//
// Once a task has failed, nothing after it is written; the file and the
// spill files stay for a resume with --retry-failed. Written to a stream,
// the output stops at the last task before the failure.
type OrderedSink struct {
	cfg      OrderedConfig
	out      *bufio.Writer
	file     *os.File // temporary file; nil when writing to a stream
	temp     string
	next     uint64
	offset   int64
	pending  map[uint64]*schema.Result
	failed   map[uint64]bool
	broken   bool
	written  []string // spill files written since the last checkpoint
	lastCkpt time.Time
}

// NewOrderedSink opens the output. For a file it creates or reopens the
// temporary file and, when a checkpoint exists, continues from it.
func NewOrderedSink(ctx context.Context, cfg OrderedConfig) (*OrderedSink, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	s := &OrderedSink{
		cfg:      cfg,
		pending:  make(map[uint64]*schema.Result),
		failed:   make(map[uint64]bool),
		lastCkpt: time.Now(),
	}
	if cfg.Path == "" {
		if cfg.Stream == nil {
			return nil, errors.New("reducer.NewOrderedSink: Path or Stream is required")
		}
		s.out = bufio.NewWriterSize(cfg.Stream, 256<<10)
		return s, nil
	}
	if err := s.openTemp(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// TempPath is the temporary file an ordered output at path is written to.
func TempPath(path, job string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".jetmr-"+job+".tmp")
}

func (s *OrderedSink) openTemp(ctx context.Context) error {
	s.temp = TempPath(s.cfg.Path, s.cfg.Job)
	var ckpt schema.OutputCheckpoint
	if s.cfg.Checkpoints != nil {
		c, ok, err := s.cfg.Checkpoints.Load(ctx)
		if err != nil {
			return fmt.Errorf("loading the checkpoint of output %s: %w", s.cfg.Path, err)
		}
		if ok {
			ckpt = c
		}
	}
	shorter := fmt.Errorf("output %s: temporary file %s is shorter than its checkpoint (%d bytes): it was changed outside jetmr; remove it and run the job again without --resume",
		s.cfg.Path, s.temp, ckpt.Offset)
	flag := os.O_RDWR | os.O_CREATE
	if ckpt.Offset > 0 {
		flag = os.O_RDWR // a checkpoint past 0 needs the file written so far: never create an empty one
	}
	f, err := os.OpenFile(s.temp, flag, 0o644)
	if errors.Is(err, os.ErrNotExist) && ckpt.Offset > 0 {
		return shorter
	}
	if err != nil {
		return fmt.Errorf("creating output %s: %w", s.cfg.Path, err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() < ckpt.Offset {
		f.Close()
		return shorter
	}
	if err := f.Truncate(ckpt.Offset); err != nil {
		f.Close()
		return fmt.Errorf("truncating %s to its checkpoint: %w", s.temp, err)
	}
	if _, err := f.Seek(ckpt.Offset, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seeking in %s: %w", s.temp, err)
	}
	s.file, s.next, s.offset = f, ckpt.Next, ckpt.Offset
	s.out = bufio.NewWriterSize(f, 256<<10)
	return nil
}

// Next is the first task whose output is not written yet.
func (s *OrderedSink) Next() uint64 { return s.next }

// Skips reports whether the sink will not read r's output: the output of
// a task written before a resume. The reducer then does not fetch it.
func (s *OrderedSink) Skips(r *schema.Result) bool { return r.Index < s.next }

// Merge implements [Sink].
func (s *OrderedSink) Merge(ctx context.Context, r *schema.Result) (Span, error) {
	if r.Index < s.next {
		return Span{}, nil // written before a resume
	}
	if s.broken {
		return one(r.Index), nil // kept in the stream and spill files for a resume
	}
	s.pending[r.Index] = r
	return s.drain(ctx)
}

// Fail implements [Sink].
func (s *OrderedSink) Fail(ctx context.Context, r *schema.Result) (Span, error) {
	if r.Index < s.next {
		return Span{}, nil
	}
	if s.broken {
		return one(r.Index), nil
	}
	s.failed[r.Index] = true
	return s.drain(ctx)
}

func (s *OrderedSink) drain(ctx context.Context) (Span, error) {
	from := s.next
	for {
		if s.failed[s.next] {
			return s.breakAt(from), nil
		}
		r, ok := s.pending[s.next]
		if !ok {
			break
		}
		delete(s.pending, s.next)
		if err := s.write(r); err != nil {
			return Span{from, s.next}, err
		}
		s.next++
	}
	if s.next == from {
		return Span{}, nil
	}
	if s.file == nil {
		// A stream consumer sees output as the job progresses.
		if err := s.out.Flush(); err != nil {
			return Span{from, s.next}, fmt.Errorf("writing output: %w", err)
		}
	} else if time.Since(s.lastCkpt) >= s.cfg.Interval {
		if err := s.checkpoint(ctx); err != nil {
			return Span{from, s.next}, err
		}
	}
	return Span{from, s.next}, nil
}

// breakAt stops writing at the failed task s.next. The tasks waiting behind
// it are released from memory (their data stays in the results stream and
// spill files) and retired together.
func (s *OrderedSink) breakAt(from uint64) Span {
	s.broken = true
	to := s.next
	for i := range s.pending {
		to = max(to, i+1)
	}
	for i := range s.failed {
		to = max(to, i+1)
	}
	clear(s.pending)
	clear(s.failed)
	return Span{from, to}
}

func (s *OrderedSink) write(r *schema.Result) error {
	if r.Spill == "" {
		n, err := s.out.Write(r.Payload)
		s.offset += int64(n)
		if err != nil {
			return fmt.Errorf("writing output of task %d: %w", r.Index, err)
		}
		return nil
	}
	f, err := os.Open(r.Spill)
	if err != nil {
		return fmt.Errorf("opening spilled output of task %d: %w", r.Index, err)
	}
	defer f.Close()
	n, err := s.out.ReadFrom(f)
	s.offset += n
	if err != nil {
		return fmt.Errorf("copying output of task %d: %w", r.Index, err)
	}
	if s.file == nil {
		os.Remove(r.Spill) // a stream cannot be resumed: nothing to keep
	} else {
		s.written = append(s.written, r.Spill)
	}
	return nil
}

// checkpoint makes the file durable up to s.next, records that, and only
// then deletes the spill files it no longer needs.
func (s *OrderedSink) checkpoint(ctx context.Context) error {
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", s.temp, err)
	}
	if s.cfg.Sync {
		if err := s.file.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", s.temp, err)
		}
	}
	crashpoint.Hit("output.flushed")
	if s.cfg.Checkpoints != nil {
		c := schema.OutputCheckpoint{Next: s.next, Offset: s.offset}
		if err := s.cfg.Checkpoints.Save(ctx, c); err != nil {
			return fmt.Errorf("saving the output checkpoint: %w", err)
		}
	}
	crashpoint.Hit("output.checkpointed")
	for _, p := range s.written {
		os.Remove(p)
	}
	s.written = s.written[:0]
	s.lastCkpt = time.Now()
	return nil
}

// Commit implements [Sink]: for a complete file it syncs it and renames it
// into place; with failures it checkpoints and keeps it for a resume.
func (s *OrderedSink) Commit(ctx context.Context, failed bool) error {
	if s.file == nil {
		// A stream gets everything written: with a failure, the outputs of
		// the tasks before it.
		if err := s.out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	if failed || s.broken {
		return s.Suspend(ctx)
	}
	if err := s.checkpoint(ctx); err != nil {
		return err
	}
	if err := s.file.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.temp, err)
	}
	if err := os.Rename(s.temp, s.cfg.Path); err != nil {
		return fmt.Errorf("renaming output into %s: %w", s.cfg.Path, err)
	}
	crashpoint.Hit("commit.renamed")
	if !s.cfg.Sync {
		return nil
	}
	return syncDir(filepath.Dir(s.cfg.Path))
}

// Suspend implements [Sink]: it checkpoints the file as far as it is
// written and closes it.
func (s *OrderedSink) Suspend(ctx context.Context) error {
	if s.file == nil {
		return s.out.Flush()
	}
	err := s.checkpoint(ctx)
	if cerr := s.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", s.temp, cerr)
	}
	return err
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
