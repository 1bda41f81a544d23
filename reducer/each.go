package reducer

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/jetmr/jetmr/schema"
)

// EachConfig configures an [EachSink].
type EachConfig struct {
	// Path is the output file; empty writes to Stream instead.
	Path string
	// Stream receives the output when Path is empty.
	Stream io.Writer
	// Job names the job, for the temporary file's name (see [TempPath]).
	Job string
	// KeepOrder writes the items' output groups in item order; otherwise
	// each task's groups are written as the task completes.
	KeepOrder bool
	// JoinPath, when set, receives the join file once every item is
	// merged: one JSON object per line per item, in item order (see
	// [JoinRecord]).
	JoinPath string
	// Join, when set with JoinPath, runs once the join file is written,
	// before the output file is renamed into place: when it fails the
	// file is not published, and Commit returns its error.
	Join func(ctx context.Context) error
	// Sync fsyncs the output before it is renamed into place.
	Sync bool
}

// JoinRecord is one line of an each job's join file.
type JoinRecord struct {
	// Seq is the item's 1-based sequence number ({#}).
	Seq  uint64 `json:"seq"`
	Item string `json:"item"`
	// Exit is the command's exit status, also one the job's OkExit accepted
	// (the item succeeded all the same); -1 when it did not exit.
	Exit   int    `json:"exit"`
	Signal string `json:"signal,omitempty"`
	Error  string `json:"error,omitempty"`
	// Output is the item's stdout and stderr as written (invalid UTF-8
	// becomes U+FFFD).
	Output string `json:"output"`
}

// EachSink writes the output of an each job: each item's stdout and
// stderr as one group, never interleaved with another item's, in item
// order with KeepOrder and otherwise in the order the tasks complete. The
// groups of a failed task's items are written too. It counts items and
// failed items and, with JoinPath, writes the join file.
//
// Resume: the reducer replays every stored result into a new sink, which
// starts its file (and join file) over, so the run that completes the job
// writes the complete output, each group once. A file appears only when
// every item succeeded; a stream gets everything as it comes.
type EachSink struct {
	cfg     EachConfig
	out     *bufio.Writer
	file    *os.File
	temp    string
	next    uint64
	pending map[uint64]*schema.ItemResults
	join    *joinWriter

	// Items counts the items merged, written or still held for their turn
	// (KeepOrder); Failed those that failed for good.
	Items, Failed int
	// Ended counts the items of every task merged or failed, those
	// skipped and those still held for their turn (KeepOrder) included:
	// the items of the job that ran to an end.
	Ended int
}

// NewEachSink opens the output (and the join file's scratch file).
func NewEachSink(cfg EachConfig) (*EachSink, error) {
	s := &EachSink{cfg: cfg, pending: make(map[uint64]*schema.ItemResults)}
	if cfg.Path == "" {
		if cfg.Stream == nil {
			return nil, errors.New("reducer.NewEachSink: Path or Stream is required")
		}
		s.out = bufio.NewWriterSize(cfg.Stream, 64<<10)
	} else {
		s.temp = TempPath(cfg.Path, cfg.Job)
		f, err := os.OpenFile(s.temp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("creating output %s: %w", cfg.Path, err)
		}
		s.file, s.out = f, bufio.NewWriterSize(f, 256<<10)
	}
	if cfg.JoinPath != "" {
		j, err := newJoinWriter(cfg.JoinPath)
		if err != nil {
			s.close()
			return nil, err
		}
		s.join = j
	}
	return s, nil
}

// Merge implements [Sink]. The items a result skipped (skip mode) are
// left out: their output, their count and their join records.
func (s *EachSink) Merge(ctx context.Context, r *schema.Result) (Span, error) {
	items, err := readItems(r)
	if err != nil {
		return Span{}, err
	}
	s.Ended += len(items.Items)
	if len(r.Skipped) > 0 {
		skip := make(map[uint64]bool, len(r.Skipped))
		for _, b := range r.Skipped {
			skip[b.Seq] = true
		}
		items.Items = slices.DeleteFunc(items.Items, func(it schema.ItemResult) bool { return skip[it.Seq+1] })
	}
	return s.add(r.Index, items)
}

// Fail implements [Sink]: the failed task's items are written like any.
func (s *EachSink) Fail(ctx context.Context, r *schema.Result) (Span, error) {
	items := &schema.ItemResults{}
	if r.Payload != nil || r.Spill != "" {
		var err error
		if items, err = readItems(r); err != nil {
			return Span{}, err
		}
	}
	s.Ended += len(items.Items)
	return s.add(r.Index, items)
}

func readItems(r *schema.Result) (*schema.ItemResults, error) {
	data := r.Payload
	if r.Spill != "" {
		var err error
		if data, err = os.ReadFile(r.Spill); err != nil {
			return nil, fmt.Errorf("reading spilled output of task %d: %w", r.Index, err)
		}
	}
	items, err := schema.DecodeItemResults(data)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", r.Index, err)
	}
	return &items, nil
}

func (s *EachSink) add(index uint64, items *schema.ItemResults) (Span, error) {
	// Counted as they come, not as they are written: with KeepOrder a
	// job that halts never writes the items after a task it left.
	for i := range items.Items {
		s.Items++
		if items.Items[i].Failed() {
			s.Failed++
		}
	}
	if !s.cfg.KeepOrder {
		return one(index), s.write(items)
	}
	s.pending[index] = items
	from := s.next
	for {
		it, ok := s.pending[s.next]
		if !ok {
			break
		}
		delete(s.pending, s.next)
		if err := s.write(it); err != nil {
			return Span{from, s.next}, err
		}
		s.next++
	}
	return Span{from, s.next}, nil
}

// write writes the groups of one task's items.
func (s *EachSink) write(items *schema.ItemResults) error {
	for i := range items.Items {
		it := &items.Items[i]
		if _, err := s.out.Write(it.Output); err != nil {
			return fmt.Errorf("writing output of item %d: %w", it.Seq+1, err)
		}
		if s.join != nil {
			if err := s.join.add(it); err != nil {
				return err
			}
		}
	}
	if s.file == nil {
		if err := s.out.Flush(); err != nil { // a stream shows output as it comes
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// Commit implements [Sink]: a complete file is renamed into place, and the
// join file written; with failures the file is removed.
func (s *EachSink) Commit(ctx context.Context, failed bool) error {
	if err := s.out.Flush(); err != nil {
		s.close()
		return fmt.Errorf("writing output: %w", err)
	}
	var err error
	if s.join != nil && !failed {
		err = s.join.finish()
		if err == nil && s.cfg.Join != nil {
			err = s.cfg.Join(ctx)
		}
	}
	if s.file == nil {
		s.close()
		return err
	}
	if s.cfg.Sync && err == nil {
		err = s.file.Sync()
	}
	s.close()
	if failed || err != nil {
		os.Remove(s.temp)
		return err
	}
	if err := os.Rename(s.temp, s.cfg.Path); err != nil {
		return fmt.Errorf("renaming output into %s: %w", s.cfg.Path, err)
	}
	if s.cfg.Sync {
		return syncDir(filepath.Dir(s.cfg.Path))
	}
	return nil
}

// Suspend implements [Sink]: a resume writes the output over again, from
// the results stream.
func (s *EachSink) Suspend(context.Context) error {
	err := s.out.Flush()
	s.close()
	return err
}

func (s *EachSink) close() {
	if s.file != nil {
		s.file.Close()
	}
	if s.join != nil {
		s.join.close()
	}
}

// joinWriter collects join records in the order items complete in a
// scratch file, and writes them in item order when the job is done.
type joinWriter struct {
	path    string
	scratch *os.File
	w       *bufio.Writer
	off     int64
	spans   []joinSpan
}

type joinSpan struct {
	seq      uint64
	off, len int64
}

func newJoinWriter(path string) (*joinWriter, error) {
	f, err := os.OpenFile(path+".scratch", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the join file: %w", err)
	}
	return &joinWriter{path: path, scratch: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (j *joinWriter) add(it *schema.ItemResult) error {
	exit := it.Exit
	if exit == 0 {
		exit = it.Accepted // the real status of an item --ok-exit kept
	}
	line, err := json.Marshal(JoinRecord{Seq: it.Seq + 1, Item: it.Item, Exit: exit, Signal: it.Signal, Error: it.Error, Output: string(it.Output)})
	if err != nil {
		return fmt.Errorf("encoding join record of item %d: %w", it.Seq+1, err)
	}
	line = append(line, '\n')
	if _, err := j.w.Write(line); err != nil {
		return fmt.Errorf("writing the join file: %w", err)
	}
	j.spans = append(j.spans, joinSpan{seq: it.Seq, off: j.off, len: int64(len(line))})
	j.off += int64(len(line))
	return nil
}

// finish writes the records in item order to the join file.
func (j *joinWriter) finish() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("writing the join file: %w", err)
	}
	slices.SortFunc(j.spans, func(a, b joinSpan) int { return cmp.Compare(a.seq, b.seq) })
	f, err := os.Create(j.path)
	if err != nil {
		return fmt.Errorf("creating the join file: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	for _, sp := range j.spans {
		if _, err := io.Copy(w, io.NewSectionReader(j.scratch, sp.off, sp.len)); err != nil {
			f.Close()
			return fmt.Errorf("writing the join file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing the join file: %w", err)
	}
	return f.Close()
}

func (j *joinWriter) close() {
	j.scratch.Close()
	os.Remove(j.scratch.Name())
}
