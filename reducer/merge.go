package reducer

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/jetmr/jetmr/schema"
	"github.com/vmihailenco/msgpack/v5"
)

// mergeCheckPairs is how often, in pairs, a merge checks its context.
const mergeCheckPairs = 1024

// cursor is the next pair of one run in a merge.
type cursor struct {
	run  int // the run's position, which breaks ties between equal keys
	r    *schema.RunReader
	pair schema.Pair
	cmp  func(a, b []byte) int // the job's key order (schema.Keys.Comparer); nil: bytewise
}

// next advances c to the run's next pair; it returns io.EOF at the end.
func (c *cursor) next() (err error) {
	defer func() {
		// A last line of defence: no run, whatever its bytes, crashes a merge.
		if p := recover(); p != nil {
			err = fmt.Errorf("reading run: %w: %v", schema.ErrMalformed, p)
		}
	}()
	c.pair, err = c.r.Next()
	return err
}

// cursorHeap orders cursors by key, then by run.
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := schema.CompareBy(h[i].cmp, h[i].pair.Key, h[j].pair.Key); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// MergeRuns merges sorted runs, one per reader (see [schema.NewRunReader]),
// calling emit with every pair in key order (bytewise); pairs of equal keys
// come in the order of their runs, and within a run in its order. It stops
// at the first error: a malformed run (wrapping [schema.ErrMalformed]), an
// error of emit (returned as is) or the end of ctx.
func MergeRuns(ctx context.Context, runs []io.Reader, emit func(schema.Pair) error) error {
	return mergeRuns(ctx, runs, nil, func(i int) string { return fmt.Sprintf("run %d", i) }, emit)
}

// mergeRuns is MergeRuns in the key order cmp (nil: bytewise), naming run
// i name(i) in errors.
func mergeRuns(ctx context.Context, runs []io.Reader, cmp func(a, b []byte) int, name func(int) string, emit func(schema.Pair) error) error {
	h := make(cursorHeap, 0, len(runs))
	for i, r := range runs {
		c := &cursor{run: i, r: schema.NewRunReaderBy(r, cmp), cmp: cmp}
		switch err := c.next(); {
		case errors.Is(err, io.EOF):
		case err != nil:
			return fmt.Errorf("%s: %w", name(i), err)
		default:
			h = append(h, c)
		}
	}
	heap.Init(&h)
	for n := 0; len(h) > 0; n++ {
		if n%mergeCheckPairs == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c := h[0]
		if err := emit(c.pair); err != nil {
			return err
		}
		switch err := c.next(); {
		case errors.Is(err, io.EOF):
			heap.Pop(&h)
		case err != nil:
			return fmt.Errorf("%s: %w", name(c.run), err)
		default:
			heap.Fix(&h, 0)
		}
	}
	return ctx.Err()
}

// MergeRunFiles merges the runs in the files at paths, as [MergeRuns] does,
// reading at most fanIn (at least 2) files at once. With more files it first
// merges consecutive groups of at most fanIn of them into intermediate run
// files in tmpDir (the default temporary directory if empty), so that one
// group merge has fanIn files open for reading and one for writing; it
// merges as few as needed, repeats until at most fanIn files remain, and
// removes the intermediate files before returning. Merging consecutive
// groups keeps ties in the order of paths. The files at paths are only read.
func MergeRunFiles(ctx context.Context, paths []string, tmpDir string, fanIn int, emit func(schema.Pair) error) (err error) {
	return MergeRunFilesBy(ctx, paths, tmpDir, fanIn, nil, emit)
}

// MergeRunFilesBy is [MergeRunFiles] for runs sorted by cmp, a job's key
// order ([schema.Keys.Comparer]; nil is bytewise).
func MergeRunFilesBy(ctx context.Context, paths []string, tmpDir string, fanIn int, cmp func(a, b []byte) int, emit func(schema.Pair) error) (err error) {
	if fanIn < 2 {
		return fmt.Errorf("merging runs: fan-in %d, need at least 2", fanIn)
	}
	temps := make(map[string]bool) // intermediate files not yet removed
	defer func() {
		for p := range temps {
			if rmErr := os.Remove(p); rmErr != nil && err == nil {
				err = fmt.Errorf("merging runs: %w", rmErr)
			}
		}
	}()
	for len(paths) > fanIn {
		var next []string
		for i := 0; i < len(paths); {
			remaining := len(paths) - i
			excess := len(next) + remaining - fanIn
			if k := min(fanIn, remaining, excess+1); k >= 2 {
				out, err := mergeToFile(ctx, paths[i:i+k], tmpDir, cmp)
				if err != nil {
					return err
				}
				temps[out] = true
				for _, p := range paths[i : i+k] {
					if temps[p] {
						delete(temps, p)
						if err := os.Remove(p); err != nil {
							return fmt.Errorf("merging runs: %w", err)
						}
					}
				}
				next = append(next, out)
				i += k
			} else {
				next = append(next, paths[i])
				i++
			}
		}
		paths = next
	}
	return mergeFiles(ctx, paths, cmp, emit)
}

// mergeFiles opens the files at paths and merges their runs.
func mergeFiles(ctx context.Context, paths []string, cmp func(a, b []byte) int, emit func(schema.Pair) error) error {
	readers := make([]io.Reader, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("merging runs: %w", err)
		}
		defer f.Close()
		readers[i] = f
	}
	return mergeRuns(ctx, readers, cmp, func(i int) string { return "run file " + paths[i] }, emit)
}

// mergeToFile merges the runs in the files at paths into a new run file in
// tmpDir and returns its path.
func mergeToFile(ctx context.Context, paths []string, tmpDir string, cmp func(a, b []byte) int) (path string, err error) {
	f, err := os.CreateTemp(tmpDir, "jetmr-merge-*.run")
	if err != nil {
		return "", fmt.Errorf("merging runs: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("merging runs: %w", cerr)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	w := newRunWriter(f)
	if err := w.start(); err != nil {
		return "", fmt.Errorf("merging runs: writing %s: %w", f.Name(), err)
	}
	if err := mergeFiles(ctx, paths, cmp, w.write); err != nil {
		return "", err
	}
	if err := w.finish(); err != nil {
		return "", fmt.Errorf("merging runs: writing %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// runWriter streams a run of unknown length to a file: it writes the array
// header as a fixed-size array32 with a zero count, then the pairs, then
// seeks back to write the count. Decoders, schema.RunReader among them,
// accept an array32 header whatever its count.
type runWriter struct {
	f     *os.File
	bw    *bufio.Writer
	enc   *msgpack.Encoder
	pairs int64
}

func newRunWriter(f *os.File) *runWriter {
	bw := bufio.NewWriterSize(f, 64<<10)
	return &runWriter{f: f, bw: bw, enc: msgpack.NewEncoder(bw)}
}

// array32 is msgpack's code for an array with a 32-bit length.
const array32 = 0xdd

func (w *runWriter) start() error {
	_, err := w.bw.Write([]byte{array32, 0, 0, 0, 0})
	return err
}

func (w *runWriter) write(p schema.Pair) error {
	if 2*(w.pairs+1) > math.MaxUint32 {
		return errors.New("merging runs: too many pairs for one run")
	}
	if err := w.enc.EncodeBytes(p.Key); err != nil {
		return fmt.Errorf("merging runs: writing %s: %w", w.f.Name(), err)
	}
	if err := w.enc.EncodeBytes(p.Value); err != nil {
		return fmt.Errorf("merging runs: writing %s: %w", w.f.Name(), err)
	}
	w.pairs++
	return nil
}

func (w *runWriter) finish() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	var hdr [5]byte
	hdr[0] = array32
	binary.BigEndian.PutUint32(hdr[1:], uint32(2*w.pairs))
	_, err := w.f.WriteAt(hdr[:], 0)
	return err
}
