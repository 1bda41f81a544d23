package reducer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/schema"
)

// KeyedConfig configures a [KeyedSink].
type KeyedConfig struct {
	// Dir is the output directory; it must not exist yet. Required.
	Dir string
	// Job names the job; it makes the temporary directory's name,
	// ".<base>.jetmr-<job>.tmp" next to Dir.
	Job string
	// Partitions is the number of reduce partitions (part files). Default 1.
	Partitions int
	// Fold is the built-in reduce; nil when ReduceCommand is set.
	Fold Fold
	// ReduceCommand is a reducer command in Hadoop Streaming style: it reads
	// its partition's key<TAB>value lines sorted by key on stdin, and its
	// stdout becomes the part file.
	ReduceCommand []string
	// ReduceFunc is a Go reduce over all values of one key; nil when Fold
	// or ReduceCommand is set.
	ReduceFunc ReduceFunc
	// WorkDir holds the sorted runs a reducer command or ReduceFunc will
	// read. Required with them.
	WorkDir string
	// Parallel bounds how many partitions are written at once. Default:
	// the number of CPUs. Results are merged into their partitions
	// concurrently whatever Parallel is: one goroutine per partition.
	Parallel int
	// Sync fsyncs the part files and directories before the output is
	// renamed into place, so that it survives a power loss.
	Sync bool
	// Replace lets the output replace a directory or file that exists at
	// Dir when it is published (--force); without it that is an error.
	Replace bool
}

// KeyedSink merges the keyed outputs of a map-reduce job. With a built-in
// fold, each task's partial values are folded in as they arrive. With a
// reducer command, each task's sorted run is kept on disk and, at Commit,
// the runs of a partition are merged by key into the command's stdin.
//
// Output goes to a temporary directory next to Dir holding part-00000 ...
// part-NNNNN, renamed to Dir only when every part is complete.
//
// Each partition has its own goroutine (a lane) that reads, decodes and
// folds the partition's results, so that the reduce of a job with R
// partitions uses up to R cores; Merge only hands a result to its lane.
// The lanes start with the first Merge and end in Commit, Suspend or
// Abort, which wait for them. A lane's error is returned by the next Merge
// or by Commit.
type KeyedSink struct {
	cfg   KeyedConfig
	tmp   string
	accs  []map[string]Accumulator // per partition, owned by its lane
	runs  [][]indexedRun           // per partition, owned by its lane
	parts map[uint64]int

	lanes   []chan *schema.Result // nil until the first Merge
	laneErr atomic.Pointer[error]
	laneWG  sync.WaitGroup
}

// laneDepth is how many results wait for each partition's lane.
const laneDepth = 64

type indexedRun struct {
	index uint64
	path  string
}

// NewKeyedSink creates the temporary output directory.
func NewKeyedSink(cfg KeyedConfig) (*KeyedSink, error) {
	if cfg.Partitions < 1 {
		cfg.Partitions = 1
	}
	if cfg.Parallel < 1 {
		cfg.Parallel = runtime.NumCPU()
	}
	if n := count(cfg.Fold != nil, len(cfg.ReduceCommand) > 0, cfg.ReduceFunc != nil); n != 1 {
		return nil, errors.New("reducer.NewKeyedSink: exactly one of Fold, ReduceCommand and ReduceFunc is required")
	}
	if cfg.Fold == nil {
		if cfg.WorkDir == "" {
			return nil, errors.New("reducer.NewKeyedSink: WorkDir is required with ReduceCommand")
		}
		if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating reduce work directory: %w", err)
		}
	}
	// The temporary directory of an interrupted run is stale: a resumed
	// sink rebuilds everything from the results stream.
	tmp := TempPath(cfg.Dir, cfg.Job)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("removing stale output %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory next to %s: %w", cfg.Dir, err)
	}
	s := &KeyedSink{cfg: cfg, tmp: tmp, parts: make(map[uint64]int)}
	s.accs = make([]map[string]Accumulator, cfg.Partitions)
	for i := range s.accs {
		s.accs[i] = make(map[string]Accumulator)
	}
	s.runs = make([][]indexedRun, cfg.Partitions)
	return s, nil
}

// Merge implements [Sink]: it hands r to its partition's lane.
func (s *KeyedSink) Merge(ctx context.Context, r *schema.Result) (Span, error) {
	if err := s.laneError(); err != nil {
		return Span{}, err
	}
	if s.lanes == nil {
		s.startLanes()
	}
	select {
	case s.lanes[r.Partition] <- r:
	case <-ctx.Done():
		return Span{}, ctx.Err()
	}
	s.parts[r.Index]++
	if s.parts[r.Index] < s.cfg.Partitions {
		return Span{}, nil
	}
	delete(s.parts, r.Index)
	return one(r.Index), nil
}

// startLanes starts one goroutine per partition, merging the results Merge
// hands it until stopLanes. After an error a lane drops what it receives.
func (s *KeyedSink) startLanes() {
	s.lanes = make([]chan *schema.Result, s.cfg.Partitions)
	for p := range s.lanes {
		lane := make(chan *schema.Result, laneDepth)
		s.lanes[p] = lane
		s.laneWG.Add(1)
		go func() {
			defer s.laneWG.Done()
			for r := range lane {
				if s.laneError() != nil {
					continue
				}
				var err error
				if s.cfg.Fold != nil {
					err = s.fold(r)
				} else {
					err = s.keepRun(r)
				}
				if err != nil {
					err = fmt.Errorf("merging result of task %d, partition %d: %w", r.Index, r.Partition, err)
					s.laneErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
}

// stopLanes closes the lanes and waits until they have merged everything
// handed to them. It returns the first lane error.
func (s *KeyedSink) stopLanes() error {
	for _, lane := range s.lanes {
		close(lane)
	}
	s.laneWG.Wait()
	s.lanes = nil
	return s.laneError()
}

func (s *KeyedSink) laneError() error {
	if p := s.laneErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *KeyedSink) fold(r *schema.Result) error {
	in, closeIn, err := openRun(r)
	if err != nil {
		return err
	}
	defer closeIn()
	accs := s.accs[r.Partition]
	rr := schema.NewRunReader(in)
	for {
		p, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		acc := accs[string(p.Key)]
		if acc == nil {
			acc = s.cfg.Fold.New()
			accs[string(p.Key)] = acc
		}
		if err := acc.Merge(p.Value); err != nil {
			return fmt.Errorf("key %q: %w", p.Key, err)
		}
	}
}

func openRun(r *schema.Result) (io.Reader, func(), error) {
	if r.Spill == "" {
		return bytes.NewReader(r.Payload), func() {}, nil
	}
	f, err := os.Open(r.Spill)
	if err != nil {
		return nil, nil, fmt.Errorf("opening spilled output of task %d: %w", r.Index, err)
	}
	return bufio.NewReaderSize(f, 64<<10), func() { f.Close() }, nil
}

// keepRun keeps the task's run on disk for the reducer command.
func (s *KeyedSink) keepRun(r *schema.Result) error {
	path := r.Spill
	if path == "" {
		path = filepath.Join(s.cfg.WorkDir, fmt.Sprintf("run-%d-p%d", r.Index, r.Partition))
		if err := os.WriteFile(path, r.Payload, 0o600); err != nil {
			return fmt.Errorf("keeping output of task %d: %w", r.Index, err)
		}
	}
	s.runs[r.Partition] = append(s.runs[r.Partition], indexedRun{index: r.Index, path: path})
	return nil
}

// Fail implements [Sink].
func (s *KeyedSink) Fail(_ context.Context, r *schema.Result) (Span, error) { return one(r.Index), nil }

// Commit implements [Sink]: it writes every partition, then renames the
// temporary directory to Dir. With failed tasks it writes nothing: a resume
// rebuilds the state from the results stream.
func (s *KeyedSink) Commit(ctx context.Context, failed bool) error {
	if failed {
		return s.Suspend(ctx)
	}
	if err := s.stopLanes(); err != nil {
		os.RemoveAll(s.tmp)
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for p := range s.cfg.Partitions {
		g.Go(func() error { return s.writePartition(gctx, p) })
	}
	if err := g.Wait(); err != nil {
		os.RemoveAll(s.tmp)
		return err
	}
	if s.cfg.Sync {
		if err := syncDir(s.tmp); err != nil {
			os.RemoveAll(s.tmp)
			return err
		}
	}
	old := ""
	if _, err := os.Lstat(s.cfg.Dir); err == nil {
		if !s.cfg.Replace {
			os.RemoveAll(s.tmp)
			return fmt.Errorf("output directory %s appeared while the job ran: remove it, choose another -o, or add --force to replace it", s.cfg.Dir)
		}
		// Move the old output aside, so that the new one is renamed in
		// whole; the old one goes once the new one is in place.
		old = filepath.Join(filepath.Dir(s.cfg.Dir), "."+filepath.Base(s.cfg.Dir)+".jetmr-"+s.cfg.Job+".old")
		os.RemoveAll(old)
		if err := os.Rename(s.cfg.Dir, old); err != nil {
			os.RemoveAll(s.tmp)
			return fmt.Errorf("moving the old output %s aside: %w", s.cfg.Dir, err)
		}
	}
	crashpoint.Hit("commit.written")
	if err := os.Rename(s.tmp, s.cfg.Dir); err != nil {
		os.RemoveAll(s.tmp)
		if old != "" {
			os.Rename(old, s.cfg.Dir)
		}
		return fmt.Errorf("renaming output into %s: %w", s.cfg.Dir, err)
	}
	crashpoint.Hit("commit.renamed")
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the replaced output: %w", err)
		}
	}
	s.cleanRuns()
	if !s.cfg.Sync {
		return nil
	}
	return syncDir(filepath.Dir(s.cfg.Dir))
}

// Suspend implements [Sink]: the folded state lives in memory and the runs
// in the results stream and spill files, so nothing needs keeping but the
// spill files; the temporary directory goes.
func (s *KeyedSink) Suspend(context.Context) error {
	lerr := s.stopLanes()
	return errors.Join(lerr, os.RemoveAll(s.tmp))
}

// PartName is the file name of partition p in the output directory.
func PartName(p int) string { return fmt.Sprintf("part-%05d", p) }

func (s *KeyedSink) writePartition(ctx context.Context, p int) error {
	path := filepath.Join(s.tmp, PartName(p))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer f.Close()
	switch {
	case s.cfg.Fold != nil:
		err = s.writeFolded(f, p)
	case s.cfg.ReduceFunc != nil:
		err = s.runReduceFunc(ctx, f, p)
	default:
		err = s.runReduceCommand(ctx, f, p)
	}
	if err != nil {
		return fmt.Errorf("writing partition %d: %w", p, err)
	}
	if s.cfg.Sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", path, err)
		}
	}
	return f.Close()
}

func (s *KeyedSink) writeFolded(f *os.File, p int) error {
	accs := s.accs[p]
	keys := make([]string, 0, len(accs))
	for k := range accs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w := bufio.NewWriterSize(f, 256<<10)
	var line []byte
	for _, k := range keys {
		line = append(line[:0], k...)
		line = append(line, '\t')
		line = accs[k].AppendFinal(line)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	s.accs[p] = nil // the partition is written; let its memory go
	return w.Flush()
}

// runPaths are the partition's run files in task order.
func (s *KeyedSink) runPaths(p int) []string {
	runs := slices.Clone(s.runs[p])
	slices.SortFunc(runs, func(a, b indexedRun) int { return cmpUint(a.index, b.index) })
	paths := make([]string, len(runs))
	for i, r := range runs {
		paths[i] = r.path
	}
	return paths
}

// runReduceFunc merges the partition's runs by key and calls the reduce
// function once per key with all its values.
func (s *KeyedSink) runReduceFunc(ctx context.Context, f *os.File, p int) error {
	w := bufio.NewWriterSize(f, 256<<10)
	var (
		key    []byte
		values [][]byte
		line   []byte
	)
	flush := func() error {
		if key == nil {
			return nil
		}
		return s.cfg.ReduceFunc(ctx, key, values, func(v []byte) error {
			line = append(append(append(append(line[:0], key...), '\t'), v...), '\n')
			_, err := w.Write(line)
			return err
		})
	}
	err := MergeRunFiles(ctx, s.runPaths(p), s.cfg.WorkDir, 256, func(pair schema.Pair) error {
		if key != nil && bytes.Equal(pair.Key, key) {
			values = append(values, pair.Value)
			return nil
		}
		if err := flush(); err != nil {
			return fmt.Errorf("reducing key %q: %w", key, err)
		}
		key, values = pair.Key, [][]byte{pair.Value}
		return nil
	})
	if err == nil {
		if err = flush(); err != nil {
			err = fmt.Errorf("reducing key %q: %w", key, err)
		}
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

// runReduceCommand merges the partition's runs by key into the command.
func (s *KeyedSink) runReduceCommand(ctx context.Context, f *os.File, p int) error {
	paths := s.runPaths(p)
	pr, pw := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		bw := bufio.NewWriterSize(pw, 64<<10)
		var line []byte
		err := MergeRunFiles(gctx, paths, s.cfg.WorkDir, 256, func(pair schema.Pair) error {
			line = append(append(append(append(line[:0], pair.Key...), '\t'), pair.Value...), '\n')
			_, err := bw.Write(line)
			return err
		})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		err := command.Run(gctx, s.cfg.ReduceCommand, pr, f)
		pr.CloseWithError(errors.New("reducer command exited"))
		if err != nil {
			return fmt.Errorf("reducer command: %w", err)
		}
		return nil
	})
	return g.Wait()
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *KeyedSink) cleanRuns() {
	for _, runs := range s.runs {
		for _, r := range runs {
			os.Remove(r.path)
		}
	}
}

// Abort discards the partial output and the runs.
func (s *KeyedSink) Abort() {
	s.stopLanes()
	s.cleanRuns()
	os.RemoveAll(s.tmp)
}
