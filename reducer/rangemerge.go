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
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/internal/runfile"
	"github.com/jetmr/jetmr/schema"
)

// A fold partition's final merge is split by key into ranges merged at
// once, each by its own goroutine, when the partition has more than one
// core to itself: a merge of sorted runs is one heap on one core, and the
// map side is done by then. The runs are scanned once first, in parallel:
// the scan checks them (their encoding, their count, their key order) and
// marks every markEvery-th key and its offset; the marks and the table's
// keys give the ranges' bounds, so that each range's merge starts reading
// each run near its first key. Range 0 writes the part file, the others
// a file each in the work folder, appended to the part file in order.
// Every range merges the sources in the order of the one merge (spilled
// runs, kept runs, the table), and a key is in one range only, so the
// output is the same bytes.

// Splitting the final merge by key range.
const (
	// markEvery is how many pairs apart the scan marks a run's keys.
	markEvery = 512
	// rangeMinBytes is the least a partition's run files must hold for
	// its merge to be split.
	rangeMinBytes = 4 << 20
	// rangesPerWorker is how many ranges each goroutine merges, on
	// average, so that ranges of uneven cost even out.
	rangesPerWorker = 2
)

// runFormat is how a run file is encoded.
type runFormat int

const (
	formatResult  runFormat = iota // a result's run (schema.EncodeRun)
	formatRunfile                  // a run of package runfile
)

// runMark is a key of a run and the offset of its pair: a run's mark i
// is its pair i*markEvery.
type runMark struct {
	key []byte
	off int64
}

// runIndex is what the scan of a run file found.
type runIndex struct {
	path   string
	format runFormat
	pairs  int       // the run's pairs
	marks  []runMark // every markEvery-th pair's, from the first
}

// runReader reads a run file of either format, through the format's own
// reader, with its checks; it calls that reader directly, this being the
// final merge's hot path.
type runReader struct {
	path string
	rf   *runfile.Reader    // formatRunfile
	rs   *schema.RunScanner // formatResult
}

// openRunFile opens the run file at path, in format f sorted by cmp, at its
// pair i, which starts at byte offset off (0, 0: the run's start, whose
// header it checks), reading size bytes at a time; pairs is the run's
// count, needed to read a result's run from a pair.
func openRunFile(path string, f runFormat, cmp func(a, b []byte) int, off int64, i, pairs, size int) (*runReader, *os.File, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	if off > 0 {
		if _, err := file.Seek(off, io.SeekStart); err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("opening a run to merge: %w", err)
		}
	}
	br := bufio.NewReaderSize(file, size)
	r := &runReader{path: path}
	switch {
	case f == formatResult && off == 0:
		r.rs = schema.NewRunScannerBy(br, cmp)
	case f == formatResult:
		r.rs = schema.NewRunScannerAt(br, off, pairs-i, cmp)
	case off == 0:
		r.rf, err = runfile.NewReader(path, br)
	default:
		r.rf = runfile.NewReaderAt(path, br, off, uint64(i))
	}
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	return r, file, nil
}

// next returns the run's next pair, valid until the next call, or io.EOF
// after the last.
func (r *runReader) next() (key, value []byte, err error) {
	if r.rf != nil {
		return r.rf.Next()
	}
	return r.rs.Next()
}

// offset is where the pair next returned starts or, after io.EOF, the
// run's end.
func (r *runReader) offset() int64 {
	if r.rf != nil {
		return r.rf.Offset()
	}
	return r.rs.Offset()
}

// skipValues makes next skip values and return nil ones.
func (r *runReader) skipValues() {
	if r.rf != nil {
		r.rf.SkipValues()
	} else {
		r.rs.SkipValues()
	}
}

// fail wraps an error of reading the run, or a cause of the scan's own
// (wrapped in the format's sentinel).
func (r *runReader) fail(err error) error {
	if r.rf != nil {
		return fmt.Errorf("reading a run to merge: %w", err) // which names it
	}
	return fmt.Errorf("reading run %s to merge, at byte %d: %w", r.path, r.offset(), err)
}

// scanRun checks the run file at path and marks its keys.
func scanRun(path string, f runFormat, cmp func(a, b []byte) int) (*runIndex, error) {
	r, file, err := openRunFile(path, f, cmp, 0, 0, 0, 256<<10)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	base := schema.ErrMalformed
	if f == formatRunfile {
		base = runfile.ErrCorrupt
	}
	r.skipValues() // the scan needs keys and offsets only
	idx := &runIndex{path: path, format: f}
	var prev []byte
	for ; ; idx.pairs++ {
		k, _, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, r.fail(err)
		}
		// A result's run checks its order itself.
		if f == formatRunfile && idx.pairs > 0 && schema.CompareBy(cmp, prev, k) > 0 {
			return nil, r.fail(fmt.Errorf("%w: key %q after %q is out of order", base, clip(k), clip(prev)))
		}
		if idx.pairs%markEvery == 0 {
			idx.marks = append(idx.marks, runMark{key: bytes.Clone(k), off: r.offset()})
		}
		if f == formatRunfile {
			prev = append(prev[:0], k...)
		}
	}
	if end := r.offset(); end != fi.Size() {
		return nil, r.fail(fmt.Errorf("%w: %d bytes after the run's end", base, fi.Size()-end))
	}
	return idx, nil
}

// rangeSource reads the pairs of a scanned run whose keys are in
// [lo, hi) (a nil bound: no bound).
type rangeSource struct {
	r      *runReader
	lo, hi []byte
	cmp    func(a, b []byte) int
	done   bool
}

// openRange opens run idx's pairs in [lo, hi).
func openRange(idx *runIndex, lo, hi []byte, cmp func(a, b []byte) int) (*rangeSource, *os.File, error) {
	var off int64
	var i int
	if lo != nil {
		// The last mark before lo: no key of the range comes before it.
		m := sort.Search(len(idx.marks), func(j int) bool { return schema.CompareBy(cmp, idx.marks[j].key, lo) >= 0 })
		if m > 0 {
			off, i = idx.marks[m-1].off, (m-1)*markEvery
		}
	}
	r, file, err := openRunFile(idx.path, idx.format, cmp, off, i, idx.pairs, 64<<10)
	if err != nil {
		return nil, nil, err
	}
	return &rangeSource{r: r, lo: lo, hi: hi, cmp: cmp}, file, nil
}

// Next implements runfile.Source.
func (s *rangeSource) Next() (key, value []byte, err error) {
	for !s.done {
		// runReader.next, inline: this is the hot path.
		if s.r.rf != nil {
			key, value, err = s.r.rf.Next()
		} else {
			key, value, err = s.r.rs.Next()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, s.r.fail(err)
		}
		if s.lo != nil {
			if schema.CompareBy(s.cmp, key, s.lo) < 0 {
				continue
			}
			s.lo = nil // past it
		}
		if s.hi != nil && schema.CompareBy(s.cmp, key, s.hi) >= 0 {
			break
		}
		return key, value, nil
	}
	s.done = true
	return nil, nil, io.EOF
}

// rangeFile is a run file of a partition's final merge.
type rangeFile struct {
	path   string
	format runFormat
}

// writeRanges writes partition p, the merge of its spilled runs, kept runs
// and table (its entries idx, sorted), split by key ranges over workers
// goroutines: to w, which it flushes, then to f. It returns false, having
// written nothing, when the partition is not worth splitting.
func (s *KeyedSink) writeRanges(ctx context.Context, f *os.File, w *bufio.Writer, p int, idx []uint32, workers int) (bool, error) {
	t := s.tables[p]
	var files []rangeFile
	for _, path := range s.spills[p] {
		files = append(files, rangeFile{path, formatRunfile})
	}
	for _, k := range s.kept[p] {
		files = append(files, rangeFile{k.path, formatResult})
	}
	if len(files)+1 > s.cfg.FanIn {
		return false, nil // merged in passes
	}
	var total int64
	for _, rf := range files {
		if fi, err := os.Stat(rf.path); err == nil {
			total += fi.Size()
		}
	}
	if total < s.rangeMin {
		return false, nil
	}
	cmp := s.cfg.Keys.Comparer()
	idxs := make([]*runIndex, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, rf := range files {
		g.Go(func() error {
			var err error
			idxs[i], err = scanRun(rf.path, rf.format, cmp)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return true, err
	}
	bounds := rangeBounds(idxs, t, idx, workers*rangesPerWorker, cmp)
	outs := make([]string, len(bounds)+1)
	defer func() {
		for _, o := range outs {
			if o != "" {
				os.Remove(o)
			}
		}
	}()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for r := range outs {
		var lo, hi []byte
		if r > 0 {
			lo = bounds[r-1]
			outs[r] = filepath.Join(s.cfg.WorkDir, fmt.Sprintf("fold-p%d-range%d.run.out", p, r))
		}
		if r < len(bounds) {
			hi = bounds[r]
		}
		g.Go(func() error { return s.mergeRange(gctx, w, outs[r], idxs, t, idx, lo, hi) })
	}
	if err := g.Wait(); err != nil {
		return true, err
	}
	if err := w.Flush(); err != nil {
		return true, err
	}
	for _, o := range outs[1:] {
		if err := appendFile(f, o); err != nil {
			return true, err
		}
	}
	return true, nil
}

// rangeBounds picks up to n-1 keys that split the runs' marks and the
// table's keys into n ranges of about as many keys, in increasing order.
func rangeBounds(idxs []*runIndex, t *fold.Table, idx []uint32, n int, cmp func(a, b []byte) int) [][]byte {
	var keys [][]byte
	for _, x := range idxs {
		for _, m := range x.marks {
			keys = append(keys, m.key)
		}
	}
	for i := 0; i < len(idx); i += markEvery {
		keys = append(keys, t.Key(int(idx[i])))
	}
	slices.SortFunc(keys, func(a, b []byte) int { return schema.CompareBy(cmp, a, b) })
	var bounds [][]byte
	for r := 1; r < n && len(keys) > 0; r++ {
		k := keys[r*len(keys)/n]
		if len(bounds) == 0 || schema.CompareBy(cmp, bounds[len(bounds)-1], k) < 0 {
			bounds = append(bounds, k)
		}
	}
	if len(bounds) > 0 && schema.CompareBy(cmp, bounds[0], keys[0]) <= 0 {
		bounds = bounds[1:] // the first range would be empty
	}
	return bounds
}

// mergeRange merges the pairs of keys in [lo, hi) of the runs idxs and
// the table's entries idx into the file out, or into w if out is "".
func (s *KeyedSink) mergeRange(ctx context.Context, w *bufio.Writer, out string, idxs []*runIndex, t *fold.Table, idx []uint32, lo, hi []byte) (err error) {
	cmp := s.cfg.Keys.Comparer()
	if out != "" {
		of, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("merging in the work folder %s (under --store; free space there, or give --store another disk): %w", s.cfg.WorkDir, err)
		}
		defer func() {
			if cerr := of.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("merging in the work folder %s (under --store; free space there, or give --store another disk): %w", s.cfg.WorkDir, cerr)
			}
		}()
		w = bufio.NewWriterSize(of, 256<<10)
	}
	srcs := make([]runfile.Source, 0, len(idxs)+1)
	for _, x := range idxs {
		src, file, err := openRange(x, lo, hi, cmp)
		if err != nil {
			return err
		}
		defer file.Close()
		srcs = append(srcs, src)
	}
	search := func(k []byte) int {
		if k == nil {
			return len(idx)
		}
		return sort.Search(len(idx), func(i int) bool { return schema.CompareBy(cmp, t.Key(int(idx[i])), k) >= 0 })
	}
	a, b := 0, search(hi)
	if lo != nil {
		a = search(lo)
	}
	srcs = append(srcs, runfile.NewTableSource(t, idx[a:b]))
	var line []byte
	err = runfile.MergeBy(ctx, srcs, s.cfg.Fold, true, cmp, func(k, v []byte) error {
		line = append(append(append(append(line[:0], k...), '\t'), v...), '\n')
		_, err := w.Write(line)
		return err
	})
	if err != nil || out == "" {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("merging in the work folder %s (under --store; free space there, or give --store another disk): %w", s.cfg.WorkDir, err)
	}
	return nil
}

// appendFile appends the file at path to f.
func appendFile(f *os.File, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(f, in); err != nil {
		return fmt.Errorf("appending a merged range: %w", err)
	}
	return nil
}
