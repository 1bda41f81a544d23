package reducer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
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

// runMark is a key of a run and the offset of its pair.
type runMark struct {
	key []byte
	off int64
}

// runIndex is what the scan of a run file found.
type runIndex struct {
	path   string
	format runFormat
	start  int64     // the offset of the first pair
	end    int64     // the offset after the last pair
	marks  []runMark // every markEvery-th pair's, from the first
}

// errBadRun is the cause of a run file that the scan rejects, beside
// schema.ErrMalformed (a result's run) or runfile.ErrCorrupt.
var errBadRun = errors.New("bad encoding")

// offsetReader is a bufio.Reader that counts the bytes read.
type offsetReader struct {
	br  *bufio.Reader
	off int64
}

func (r *offsetReader) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err == nil {
		r.off++
	}
	return c, err
}

func (r *offsetReader) uint(size int) (uint64, error) {
	b, err := r.br.Peek(size)
	if err != nil {
		return 0, err
	}
	r.br.Discard(size)
	r.off += int64(size)
	if size == 2 {
		return uint64(binary.BigEndian.Uint16(b)), nil
	}
	return uint64(binary.BigEndian.Uint32(b)), nil
}

func (r *offsetReader) uvarint() (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: bad varint", errBadRun)
}

// itemLen reads the length of a key or value in format f.
func (r *offsetReader) itemLen(f runFormat) (int, error) {
	if f == formatRunfile {
		n, err := r.uvarint()
		if err != nil {
			return 0, err
		}
		if n > runfile.MaxItem {
			return 0, fmt.Errorf("%w: item of %d bytes", errBadRun, n)
		}
		return int(n), nil
	}
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c == 0xc0:
		return 0, nil
	case c&0xe0 == 0xa0:
		return int(c & 0x1f), nil
	case c == 0xc4 || c == 0xd9:
		b, err := r.byte()
		return int(b), err
	case c == 0xc5 || c == 0xda:
		n, err = r.uint(2)
	case c == 0xc6 || c == 0xdb:
		n, err = r.uint(4)
	default:
		return 0, fmt.Errorf("%w: code %#x where a key or value starts", errBadRun, c)
	}
	if err == nil && n > schema.MaxRunItem {
		return 0, fmt.Errorf("%w: item of %d bytes", errBadRun, n)
	}
	return int(n), err
}

// read reads n bytes into buf.
func (r *offsetReader) read(buf []byte, n int) ([]byte, error) {
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return nil, err
	}
	r.off += int64(n)
	return buf, nil
}

func (r *offsetReader) skip(n int) error {
	d, err := r.br.Discard(n)
	r.off += int64(d)
	return err
}

// key reads a pair's key in format f into buf. ok is false at the end of
// a runfile run (its 0 mark).
func (r *offsetReader) key(f runFormat, buf []byte) (k []byte, ok bool, err error) {
	kn, err := r.itemLen(f)
	if err != nil {
		return nil, false, err
	}
	if f == formatRunfile {
		if kn == 0 {
			return nil, false, nil
		}
		kn--
	}
	k, err = r.read(buf, kn)
	return k, err == nil, err
}

// scanRun checks the run file at path and marks its keys.
func scanRun(path string, f runFormat, cmp func(a, b []byte) int) (*runIndex, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	r := &offsetReader{br: bufio.NewReaderSize(file, 256<<10)}
	idx := &runIndex{path: path, format: f}
	bad := func(err error) (*runIndex, error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: cut short", errBadRun)
		}
		base := schema.ErrMalformed
		if f == formatRunfile {
			base = runfile.ErrCorrupt
		}
		return nil, fmt.Errorf("reading run %s at byte %d: %w: %w", path, r.off, base, err)
	}
	want := int64(-1) // pairs, from a result run's header
	switch f {
	case formatRunfile:
		hdr, err := r.read(nil, len(runfile.Magic))
		if err != nil || string(hdr) != runfile.Magic {
			return bad(fmt.Errorf("%w: no run header", errBadRun))
		}
	default:
		c, err := r.byte()
		if err != nil {
			return bad(err)
		}
		var n uint64
		switch {
		case c&0xf0 == 0x90:
			n = uint64(c & 0x0f)
		case c == 0xdc:
			n, err = r.uint(2)
		case c == 0xdd:
			n, err = r.uint(4)
		default:
			err = fmt.Errorf("%w: code %#x where the run starts", errBadRun, c)
		}
		if err != nil {
			return bad(err)
		}
		if n%2 != 0 {
			return bad(fmt.Errorf("%w: array of %d items", errBadRun, n))
		}
		want = int64(n / 2)
	}
	idx.start = r.off
	var key, prev []byte
	var pairs int64
	for want < 0 || pairs < want {
		at := r.off
		k, ok, err := r.key(f, key)
		if err != nil {
			return bad(err)
		}
		if !ok {
			break // a runfile run's end
		}
		vn, err := r.itemLen(f)
		if err == nil {
			err = r.skip(vn)
		}
		if err != nil {
			return bad(err)
		}
		if pairs > 0 && schema.CompareBy(cmp, prev, k) > 0 {
			return bad(fmt.Errorf("%w: key %q after %q is out of order", errBadRun, clip(k), clip(prev)))
		}
		if pairs%markEvery == 0 {
			idx.marks = append(idx.marks, runMark{key: bytes.Clone(k), off: at})
		}
		pairs++
		key, prev = prev, k
	}
	idx.end = r.off
	if f == formatRunfile {
		if n, err := r.uvarint(); err != nil || int64(n) != pairs {
			return bad(fmt.Errorf("%w: bad end", errBadRun))
		}
	}
	if r.off != fi.Size() {
		return bad(fmt.Errorf("%w: %d bytes after the last pair", errBadRun, fi.Size()-r.off))
	}
	return idx, nil
}

// rangeSource reads the pairs of a scanned run whose keys are in
// [lo, hi) (a nil bound: no bound).
type rangeSource struct {
	r          offsetReader
	f          runFormat
	lo, hi     []byte
	cmp        func(a, b []byte) int
	key, value []byte
	in         bool // past lo
	done       bool
}

// openRange opens run idx's pairs in [lo, hi).
func openRange(idx *runIndex, lo, hi []byte, cmp func(a, b []byte) int) (*rangeSource, *os.File, error) {
	start := idx.start
	if lo != nil {
		// The last mark before lo: no key of the range comes before it.
		i := sort.Search(len(idx.marks), func(i int) bool { return schema.CompareBy(cmp, idx.marks[i].key, lo) >= 0 })
		if i > 0 {
			start = idx.marks[i-1].off
		}
	}
	file, err := os.Open(idx.path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a run to merge: %w", err)
	}
	sec := io.NewSectionReader(file, start, idx.end-start)
	s := &rangeSource{r: offsetReader{br: bufio.NewReaderSize(sec, 64<<10), off: start}, f: idx.format, lo: lo, hi: hi, cmp: cmp, in: lo == nil}
	return s, file, nil
}

// Next implements runfile.Source.
func (s *rangeSource) Next() (key, value []byte, err error) {
	for !s.done {
		if _, err := s.r.br.Peek(1); errors.Is(err, io.EOF) {
			break
		}
		k, ok, err := s.r.key(s.f, s.key)
		if err != nil {
			return nil, nil, fmt.Errorf("reading a run to merge: %w", err)
		}
		if !ok {
			break
		}
		s.key = k
		skip := !s.in && schema.CompareBy(s.cmp, k, s.lo) < 0
		if !skip {
			s.in = true
			if s.hi != nil && schema.CompareBy(s.cmp, k, s.hi) >= 0 {
				break
			}
		}
		vn, err := s.r.itemLen(s.f)
		if err == nil && skip {
			err = s.r.skip(vn)
		} else if err == nil {
			s.value, err = s.r.read(s.value, vn)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading a run to merge: %w", err)
		}
		if !skip {
			return k, s.value, nil
		}
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
