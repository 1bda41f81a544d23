package reducer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/internal/runfile"
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
	Fold fold.Fold
	// ReduceCommand is a reducer command in Hadoop Streaming style: it reads
	// its partition's key<TAB>value lines sorted by key on stdin, and its
	// stdout becomes the part file.
	ReduceCommand []string
	// CommandDir is the directory ReduceCommand runs in (the job's
	// schema.JobRecord.WorkDir where this machine has it). Default: the
	// process's own.
	CommandDir string
	// OkExit are the exit statuses of ReduceCommand other than 0 that
	// count as success (--ok-exit).
	OkExit []int
	// ReduceFunc is a Go reduce over all values of one key; nil when Fold
	// or ReduceCommand is set.
	ReduceFunc ReduceFunc
	// WorkDir holds the sorted runs a reducer command or ReduceFunc will
	// read, and those a fold spills. Required with ReduceCommand and
	// ReduceFunc; default for a fold: a directory next to Dir, removed
	// with the output's temporary directory.
	WorkDir string
	// Memory is the bytes the fold state of all partitions may hold
	// together, each partition an equal share; a partition's state beyond
	// its share is spilled to a sorted run in WorkDir, and the runs are
	// merged at Commit. Default [DefaultFoldMemory].
	Memory int64
	// FanIn is how many run files one merge reads at once; more runs are
	// merged in several passes. Default [runfile.DefaultFanIn].
	FanIn int
	// Parallel bounds how many partitions are written at once. Default:
	// the number of CPUs. Results are merged into their partitions
	// concurrently whatever Parallel is: one goroutine per partition.
	Parallel int
	// Sync fsyncs the part files and directories before the output is
	// renamed into place, so that it survives a power loss.
	Sync bool
	// Keys is how the job's keys sort (--key-order): the order of each
	// part file and of a reducer command's input. Default: bytewise.
	Keys schema.Keys
	// Counters receives what the reducer command reports on its stderr
	// (reporter:counter, reporter:status) and what ReduceFunc adds with
	// counter.Add. Optional.
	Counters *counter.Set
	// MapOnly writes, with ReduceFunc [Identity], each pair as its key
	// followed by its value with no TAB between them (--reduce none): in a
	// map-only job a map task keeps in each value the rest of the map's
	// line after the key, the separating TAB included ("" when the line
	// was all key), so the part file holds the map's own lines.
	MapOnly bool
	// Replace lets the output replace a directory or file that exists at
	// Dir when it is published (--force); without it that is an error.
	Replace bool
	// Fingerprint identifies the job and its instance (its ID and when
	// it was created). With it, a fold's spilled runs are recorded for a
	// resume: each gets a manifest (see the package documentation).
	Fingerprint string
	// Resume reuses the recorded runs an interrupted run of the job left
	// in WorkDir (with the same Fingerprint, fold, key order and
	// partitions) instead of removing them: the results they hold are not
	// merged again. See [KeyedSink.Reused].
	Resume bool
	// keepInputs keeps the results' spill files at Commit, and the sink's
	// own runs in WorkDir for its owner to remove (see [RunPartition]).
	keepInputs bool
}

// DefaultFoldMemory is the fold state a [KeyedSink] keeps in memory when
// its config gives no Memory.
const DefaultFoldMemory = 64 << 20

// KeyedSink merges the keyed outputs of a map-reduce job. With a built-in
// fold, each task's partial values are folded in as they arrive into a
// compact table per partition; a table that passes its share of Memory is
// spilled to a sorted run file, and at Commit the runs and the table are
// merged k-way, folding equal keys, into the part file. A partition whose
// results bring mostly new keys keeps their sorted runs instead and
// merges them too (see the package documentation). With a
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
	cfg    KeyedConfig
	tmp    string
	tables []*fold.Table  // per partition, owned by its lane
	spills [][]string     // per partition: its fold's spilled runs, owned by its lane
	share  int64          // the bytes each partition's table may hold
	runs   [][]indexedRun // per partition, owned by its lane
	parts  map[uint64]int

	// A fold's lane that meets mostly new keys keeps the results' sorted
	// runs rather than hashing their pairs into its table: merging sorted
	// runs costs less than hashing keys that are each met once or twice.
	// Per partition, owned by its lane.
	folded  []int64     // pairs folded into the table
	keys    []int64     // keys in the table when it was spilled, added up
	keeping []bool      // the lane keeps runs
	kept    [][]keptRun // runs kept, not yet merged into a spilled run
	used    [][]string  // result spill files merged into spilled runs
	// keepAfter and keepMax: see the constants of the same names.
	keepAfter int64
	keepMax   int
	// rangeMin is the least bytes of runs a partition's final merge is
	// split by key ranges for (see writeRanges); rangeMinBytes but in
	// tests.
	rangeMin int64

	// Resuming (see resume.go): what each partition's table holds since
	// its last spill, owned by its lane, and the runs taken over from the
	// run before (nil unless KeyedConfig.Resume).
	ledgers []runLedger
	reused  *reusedRuns

	lanes   []chan *schema.Result // nil until the first Merge
	laneErr atomic.Pointer[error] // the first lane error, for Merge to fail early
	laneG   *errgroup.Group       // the lanes; Wait returns the first lane error
}

// laneDepth is how many results wait for each partition's lane.
const laneDepth = 64

type indexedRun struct {
	index uint64
	path  string
}

// keptRun is a result's sorted run a fold's lane keeps: the result's spill
// file, or a file of the sink's own in the work folder.
type keptRun struct {
	path  string
	own   bool
	index uint64 // the result's task
}

// Keeping runs (see KeyedSink.keeping).
const (
	// keepAfter is how many pairs a lane folds into its table before it
	// may switch to keeping runs.
	keepAfter = 64 << 10
	// keepMax is how many kept runs a lane merges into one spilled run
	// once it has them, so that the final merge reads few files.
	keepMax = 32
)

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
	if cfg.Memory <= 0 {
		cfg.Memory = DefaultFoldMemory
	}
	if cfg.FanIn < 2 {
		cfg.FanIn = runfile.DefaultFanIn
	}
	if cfg.Counters == nil {
		cfg.Counters = &counter.Set{}
	}
	tmp := TempPath(cfg.Dir, cfg.Job)
	if cfg.Fold != nil && cfg.WorkDir == "" {
		cfg.WorkDir = tmp + "-runs"
	}
	{
		if cfg.WorkDir == "" {
			return nil, errors.New("reducer.NewKeyedSink: WorkDir is required with ReduceCommand")
		}
		if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating reduce work directory: %w", err)
		}
	}
	// The temporary directory of an interrupted run is stale, and so are
	// the fold's runs unless a resume reuses them (see the package
	// documentation).
	var reused *reusedRuns
	if cfg.Resume && cfg.Fold != nil && cfg.Fingerprint != "" && !cfg.keepInputs {
		var err error
		if reused, err = loadRuns(cfg); err != nil {
			return nil, err
		}
	} else if err := removeFoldRuns(cfg.WorkDir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("removing stale output %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory next to %s: %w", cfg.Dir, err)
	}
	s := &KeyedSink{cfg: cfg, tmp: tmp, parts: make(map[uint64]int), keepAfter: keepAfter, keepMax: keepMax, rangeMin: rangeMinBytes}
	if cfg.Fold != nil {
		s.tables = make([]*fold.Table, cfg.Partitions)
		for i := range s.tables {
			s.tables[i] = fold.NewTable(cfg.Fold)
		}
		s.spills = make([][]string, cfg.Partitions)
		s.share = max(cfg.Memory/int64(cfg.Partitions), 1)
		s.folded = make([]int64, cfg.Partitions)
		s.keys = make([]int64, cfg.Partitions)
		s.keeping = make([]bool, cfg.Partitions)
		s.kept = make([][]keptRun, cfg.Partitions)
		s.used = make([][]string, cfg.Partitions)
		s.ledgers = make([]runLedger, cfg.Partitions)
		for p := range s.ledgers {
			s.ledgers[p].off = !s.resumable()
		}
		if reused != nil {
			s.adopt(reused)
		}
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
	if s.heldWhole(r) {
		s.passOver(r) // a reused run holds it: not merged again
	} else {
		select {
		case s.lanes[r.Partition] <- r:
		case <-ctx.Done():
			return Span{}, ctx.Err()
		}
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
	s.laneG = new(errgroup.Group)
	for p := range s.lanes {
		lane := make(chan *schema.Result, laneDepth)
		s.lanes[p] = lane
		s.laneG.Go(func() error {
			var first error
			for r := range lane { // drained to the end, so that Merge never blocks on a failed lane
				if first != nil || s.laneError() != nil {
					continue
				}
				var err error
				if s.cfg.Fold != nil {
					err = s.fold(r)
				} else {
					err = s.keepRun(r)
				}
				if err != nil {
					first = fmt.Errorf("merging result of task %d, partition %d: %w", r.Index, r.Partition, err)
					s.laneErr.CompareAndSwap(nil, &first)
				}
			}
			return first
		})
	}
}

// stopLanes closes the lanes and waits until they have merged everything
// handed to them. It returns the first lane error.
func (s *KeyedSink) stopLanes() error {
	if s.laneG == nil {
		return nil // no result was ever merged: no lane started
	}
	for _, lane := range s.lanes {
		close(lane)
	}
	err := s.laneG.Wait()
	s.lanes = nil
	if first := s.laneError(); first != nil {
		return first // the first in time, where Wait returns the first to end
	}
	return err
}

func (s *KeyedSink) laneError() error {
	if p := s.laneErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *KeyedSink) fold(r *schema.Result) error {
	p := int(r.Partition)
	held := s.heldPairs(r) // pairs a reused run holds already
	if s.keeping[p] && held == 0 {
		return s.keep(r)
	}
	in, closeIn, err := openRun(r)
	if err != nil {
		return err
	}
	defer closeIn()
	t := s.tables[p]
	rs := schema.NewRunScannerBy(in, s.cfg.Keys.Comparer())
	s.ledgers[p].start(r.Index)
	for {
		k, v, err := rs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if held > 0 {
			held--
			continue
		}
		s.ledgers[p].pair()
		if err := t.Merge(k, v); err != nil {
			return fmt.Errorf("key %q: %w", clip(k), err)
		}
		s.folded[p]++
		if t.Full(s.share) {
			if err := s.spill(p); err != nil {
				return err
			}
		}
	}
	s.ledgers[p].end()
	// Mostly new keys: from now on the results' runs are merged, not
	// hashed (see keep).
	if s.folded[p] >= s.keepAfter && 2*(s.keys[p]+int64(t.Len())) > s.folded[p] {
		s.keeping[p] = true
	}
	return nil
}

// keep keeps the sorted run of result r, for the final merge; every
// keepMax runs kept are merged into one spilled run.
func (s *KeyedSink) keep(r *schema.Result) error {
	p := int(r.Partition)
	run := keptRun{path: r.Spill, index: r.Index}
	if run.path == "" {
		run = keptRun{path: filepath.Join(s.cfg.WorkDir, fmt.Sprintf("fold-p%d-task%d.run", p, r.Index)), own: true, index: r.Index}
		if err := os.WriteFile(run.path, r.Payload, 0o600); err != nil {
			return fmt.Errorf("keeping the output of task %d in the work folder %s (free space there, or give --store another disk): %w", r.Index, s.cfg.WorkDir, err)
		}
	}
	s.kept[p] = append(s.kept[p], run)
	if len(s.kept[p]) < s.keepMax {
		return nil
	}
	return s.mergeKept(p)
}

// mergeKept merges partition p's kept runs into one spilled run.
func (s *KeyedSink) mergeKept(p int) error {
	path := filepath.Join(s.cfg.WorkDir, fmt.Sprintf("fold-p%d-%d.run", p, len(s.spills[p])))
	err := s.withKept(p, func(srcs []runfile.Source) error {
		w, err := runfile.Create(path, s.cfg.Sync)
		if err != nil {
			return err
		}
		if err := runfile.MergeBy(context.Background(), srcs, s.cfg.Fold, false, s.cfg.Keys.Comparer(), w.Write); err != nil {
			w.Abort()
			return err
		}
		return w.Close()
	})
	if err != nil {
		return fmt.Errorf("merging kept runs of partition %d into the work folder %s (under --store; free space there, give --store another disk, or raise --memory): %w", p, s.cfg.WorkDir, err)
	}
	s.spills[p] = append(s.spills[p], path)
	if err := s.recordRun(p, path, keptTasks(s.kept[p])); err != nil {
		return err
	}
	s.dropKept(p)
	return nil
}

// withKept opens partition p's kept runs and calls f with them as
// sources, in the order they were kept.
func (s *KeyedSink) withKept(p int, f func([]runfile.Source) error) error {
	var srcs []runfile.Source
	for _, k := range s.kept[p] {
		in, err := os.Open(k.path)
		if err != nil {
			return fmt.Errorf("opening a kept run: %w", err)
		}
		defer in.Close()
		srcs = append(srcs, schema.NewRunScannerBy(bufio.NewReaderSize(in, 64<<10), s.cfg.Keys.Comparer()))
	}
	return f(srcs)
}

// dropKept forgets partition p's kept runs, once merged: it removes the
// sink's own files; the results' spill files go when the output is
// complete (a resume reads them again).
func (s *KeyedSink) dropKept(p int) {
	for _, k := range s.kept[p] {
		if k.own {
			os.Remove(k.path)
		} else {
			s.used[p] = append(s.used[p], k.path)
		}
	}
	s.kept[p] = nil
}

// spill writes partition p's fold state as a sorted run and empties it.
func (s *KeyedSink) spill(p int) error {
	t := s.tables[p]
	path := filepath.Join(s.cfg.WorkDir, fmt.Sprintf("fold-p%d-%d.run", p, len(s.spills[p])))
	if err := runfile.WriteTable(path, s.cfg.Sync, t, fold.SortedBy(t, s.cfg.Keys, 1)[0]); err != nil {
		return fmt.Errorf("spilling the fold state of partition %d to the work folder %s (under --store; free space there, give --store another disk, or raise --memory): %w", p, s.cfg.WorkDir, err)
	}
	s.spills[p] = append(s.spills[p], path)
	if err := s.recordRun(p, path, s.ledgers[p].take()); err != nil {
		return err
	}
	s.keys[p] += int64(t.Len())
	t.Reset(s.share / 2)
	return nil
}

// removeFoldRuns removes the runs a fold spilled in dir.
func removeFoldRuns(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, "fold-p*.run*"))
	if err != nil {
		return err
	}
	merged, _ := filepath.Glob(filepath.Join(dir, "merge-*.run*"))
	for _, p := range append(old, merged...) {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing stale run: %w", err)
		}
	}
	return nil
}

// clip shortens a key quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
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
		s.dropTemp()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for p := range s.cfg.Partitions {
		g.Go(func() error { return s.writePartition(gctx, p) })
	}
	if err := g.Wait(); err != nil {
		s.dropTemp()
		return err
	}
	if s.cfg.Sync {
		if err := syncDir(s.tmp); err != nil {
			s.dropTemp()
			return err
		}
	}
	old := ""
	if _, err := os.Lstat(s.cfg.Dir); err == nil {
		if !s.cfg.Replace {
			s.dropTemp()
			return fmt.Errorf("output directory %s appeared while the job ran: remove it, choose another -o, or add --force to replace it", s.cfg.Dir)
		}
		// Move the old output aside, so that the new one is renamed in
		// whole; the old one goes once the new one is in place.
		old = filepath.Join(filepath.Dir(s.cfg.Dir), "."+filepath.Base(s.cfg.Dir)+".jetmr-"+s.cfg.Job+".old")
		os.RemoveAll(old)
		if err := os.Rename(s.cfg.Dir, old); err != nil {
			s.dropTemp()
			return fmt.Errorf("moving the old output %s aside: %w", s.cfg.Dir, err)
		}
	}
	crashpoint.Hit("commit.written")
	if err := os.Rename(s.tmp, s.cfg.Dir); err != nil {
		s.dropTemp()
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

// Suspend implements [Sink]: the temporary directory goes; a fold's
// recorded runs stay for a resume to reuse, each partition's table
// spilled as one more (see the package documentation), and a resume
// rebuilds the rest from the results stream and spill files.
func (s *KeyedSink) Suspend(context.Context) error {
	lerr := s.stopLanes()
	var kerr error
	if s.resumable() {
		kerr = s.keepForResume(lerr == nil)
	} else {
		s.cleanFoldRuns()
	}
	return errors.Join(lerr, kerr, os.RemoveAll(s.tmp))
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
		err = s.writeFolded(ctx, f, p)
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

func (s *KeyedSink) writeFolded(ctx context.Context, f *os.File, p int) error {
	t := s.tables[p]
	w := bufio.NewWriterSize(f, 256<<10)
	var line []byte
	write := func(k, v []byte) error {
		line = append(append(append(append(line[:0], k...), '\t'), v...), '\n')
		_, err := w.Write(line)
		return err
	}
	idx := fold.SortedBy(t, s.cfg.Keys, 1)[0]
	if len(s.spills[p]) == 0 && len(s.kept[p]) == 0 {
		for n, i := range idx {
			if n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			line = append(append(line[:0], t.Key(int(i))...), '\t')
			line = append(t.AppendFinal(line, int(i)), '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	} else if workers := s.cfg.Parallel / s.cfg.Partitions; workers > 1 {
		done, err := s.writeRanges(ctx, f, w, p, idx, workers)
		if done {
			s.spills[p] = nil // consumed
			s.dropKept(p)
			s.tables[p] = nil
			return err
		}
	}
	if len(s.spills[p]) > 0 || len(s.kept[p]) > 0 {
		err := s.withKept(p, func(kept []runfile.Source) error {
			extra := append(kept, runfile.NewTableSource(t, idx))
			return runfile.MergeFilesBy(ctx, s.spills[p], extra, s.cfg.WorkDir, s.cfg.FanIn, s.cfg.Sync, s.cfg.Fold, true, s.cfg.Keys.Comparer(), write)
		})
		s.spills[p] = nil // consumed
		s.dropKept(p)
		if err != nil {
			return err
		}
	}
	s.tables[p] = nil // the partition is written; let its memory go
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
			if s.cfg.MapOnly {
				line = append(append(append(line[:0], key...), v...), '\n')
			} else {
				line = append(append(append(append(line[:0], key...), '\t'), v...), '\n')
			}
			_, err := w.Write(line)
			return err
		})
	}
	ctx = counter.NewContext(ctx, s.counters())
	err := MergeRunFilesBy(ctx, s.runPaths(p), s.cfg.WorkDir, s.cfg.FanIn, s.cfg.Keys.Comparer(), func(pair schema.Pair) error {
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

// counters is where the reduce's counters go.
func (s *KeyedSink) counters() *counter.Set { return s.cfg.Counters }

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
		err := MergeRunFilesBy(gctx, paths, s.cfg.WorkDir, s.cfg.FanIn, s.cfg.Keys.Comparer(), func(pair schema.Pair) error {
			line = append(append(append(append(line[:0], pair.Key...), '\t'), pair.Value...), '\n')
			_, err := bw.Write(line)
			return err
		})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		if errors.Is(err, errReducerEnded) {
			// What a command leaves unread is its own business, as a map
			// command's is: its exit status alone says whether it failed,
			// however much of the partition it read first.
			return nil
		}
		return err
	})
	g.Go(func() error {
		err := command.Accept(command.RunReporting(gctx, s.cfg.ReduceCommand, s.cfg.CommandDir, pr, f, s.counters()), s.cfg.OkExit)
		pr.CloseWithError(errReducerEnded)
		if err != nil {
			return fmt.Errorf("reducer command: %w", err)
		}
		return nil
	})
	return g.Wait()
}

// errReducerEnded stops the merge that feeds a reducer command once the
// command has ended.
var errReducerEnded = errors.New("the reducer command ended")

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dropTemp removes the unfinished output and the fold's runs.
func (s *KeyedSink) dropTemp() {
	s.cleanFoldRuns()
	os.RemoveAll(s.tmp)
}

// cleanFoldRuns removes the runs a fold spilled, and the work folder if
// that leaves it empty.
func (s *KeyedSink) cleanFoldRuns() {
	if s.cfg.Fold == nil {
		return
	}
	for _, paths := range s.spills {
		for _, p := range paths {
			os.Remove(p)
		}
	}
	for _, runs := range s.kept {
		for _, k := range runs {
			if k.own {
				os.Remove(k.path)
			}
		}
	}
	removeFoldRuns(s.cfg.WorkDir)
	os.Remove(s.cfg.WorkDir) // only if empty: it may hold other runs
}

func (s *KeyedSink) cleanRuns() {
	s.cleanFoldRuns()
	s.removeReusedSpills()
	if s.cfg.keepInputs {
		return
	}
	for p := range s.kept {
		for _, k := range s.kept[p] {
			os.Remove(k.path)
		}
		for _, path := range s.used[p] {
			os.Remove(path)
		}
	}
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
