package runfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/schema"
)

// Source is a sorted run being read: Next returns its next pair, valid
// until the following call, or io.EOF after the last.
type Source interface {
	Next() (key, value []byte, err error)
}

// checkEvery is how often, in pairs, a merge checks its context.
const checkEvery = 4096

// cursor is the current pair of one source in a merge.
type cursor struct {
	src        Source
	n          int // the source's position, which orders equal keys
	key, value []byte
	cmp        func(a, b []byte) int // the key order; nil: bytewise
	// pre is key's first 8 bytes, big-endian, zero-padded: with the
	// bytewise order, keys whose pre differ compare as their pre do.
	pre uint64
}

// Compare is the default order of keys in runs and merges: bytewise. A
// job with a key order (schema.Keys) passes its comparison to [MergeBy]
// and [MergeFilesBy] instead; every order compares keys equal only when
// they are the same bytes.
func Compare(a, b []byte) int { return bytes.Compare(a, b) }

// compare compares keys in the cursor's order.
func (c *cursor) compare(a, b []byte) int { return schema.CompareBy(c.cmp, a, b) }

// Merge merges sorted sources of partials of f, folding the partials of
// equal keys, and calls emit once per key in key order with the folded
// state: its final value if final, else its partial. With a nil f it
// folds nothing: it emits every pair, those of equal keys in the order of
// their sources (and within a source in its order). emit's arguments are
// valid until it returns. It stops at the first error.
func Merge(ctx context.Context, srcs []Source, f fold.Fold, final bool, emit func(key, value []byte) error) error {
	return MergeBy(ctx, srcs, f, final, nil, emit)
}

// MergeBy is [Merge] for sources sorted by cmp, a job's key order
// (schema.Keys.Comparer; nil is bytewise).
func MergeBy(ctx context.Context, srcs []Source, f fold.Fold, final bool, cmp func(a, b []byte) int, emit func(key, value []byte) error) error {
	h := make([]*cursor, 0, len(srcs))
	for n, s := range srcs {
		c := &cursor{src: s, n: n, cmp: cmp}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, c)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
	if f == nil {
		return mergeAll(ctx, h, emit)
	}
	m := fold.NewMerger(f)
	var key, out []byte
	for n := 0; len(h) > 0; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key = append(key[:0], h[0].key...)
		m.Reset()
		for len(h) > 0 && bytes.Equal(h[0].key, key) {
			c := h[0]
			if err := m.Merge(c.value); err != nil {
				return fmt.Errorf("key %q: %w", clip(key), err)
			}
			ok, err := c.next()
			if err != nil {
				return err
			}
			if !ok {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			}
			if len(h) > 0 {
				down(h, 0)
			}
		}
		if final {
			out = m.AppendFinal(out[:0])
		} else {
			out = m.AppendPartial(out[:0])
		}
		if err := emit(key, out); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// mergeAll emits every pair of the heap h in order.
func mergeAll(ctx context.Context, h []*cursor, emit func(key, value []byte) error) error {
	for n := 0; len(h) > 0; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c := h[0]
		if err := emit(c.key, c.value); err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		if len(h) > 0 {
			down(h, 0)
		}
	}
	return ctx.Err()
}

func (c *cursor) next() (bool, error) {
	k, v, err := c.src.Next()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.key, c.value = k, v
	if c.cmp == nil {
		c.pre = prefix(k)
	}
	return true, nil
}

// prefix is k's first 8 bytes, big-endian, zero-padded.
func prefix(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// down restores the heap order below i.
func down(h []*cursor, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && less(h[r], h[l]) {
			j = r
		}
		if !less(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// less orders cursors by key, then by source.
func less(a, b *cursor) bool {
	if a.cmp == nil && a.pre != b.pre {
		return a.pre < b.pre
	}
	if c := a.compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.n < b.n
}

// clip shortens a key quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
}

// DefaultFanIn is how many run files a merge reads at once by default.
const DefaultFanIn = 64

// MergeFiles merges the run files at paths and then the sources extra, in
// that order, as [Merge] does, with at most fanIn files open at once:
// while there are more, it merges groups of fanIn consecutive files into
// a new run file in dir and removes the files it merged: the files at
// paths are consumed. Each pass shrinks the number of files by a factor
// fanIn. sync fsyncs the intermediate files.
func MergeFiles(ctx context.Context, paths []string, extra []Source, dir string, fanIn int, sync bool, f fold.Fold, final bool, emit func(key, value []byte) error) error {
	return MergeFilesBy(ctx, paths, extra, dir, fanIn, sync, f, final, nil, emit)
}

// MergeFilesBy is [MergeFiles] for runs sorted by cmp, a job's key order
// (schema.Keys.Comparer; nil is bytewise).
func MergeFilesBy(ctx context.Context, paths []string, extra []Source, dir string, fanIn int, sync bool, f fold.Fold, final bool, cmp func(a, b []byte) int, emit func(key, value []byte) error) error {
	if fanIn < 2 {
		return fmt.Errorf("merging runs: fan-in %d, need at least 2", fanIn)
	}
	paths = slices.Clone(paths)
	made := map[string]bool{} // intermediate files still to remove
	defer func() {
		for p := range made {
			os.Remove(p)
		}
	}()
	for len(paths)+len(extra) > fanIn && len(paths) > 1 {
		// A pass merges consecutive groups of fanIn files, each into one
		// file in its place, so that pairs of equal keys keep the order of
		// their files and every file takes part in as many passes.
		var next []string
		for len(paths) > 0 {
			k := min(fanIn, len(paths))
			if k == 1 {
				next = append(next, paths[0])
				paths = paths[1:]
				continue
			}
			out := filepath.Join(dir, fmt.Sprintf("merge-%d-%d.run", os.Getpid(), mergeSeq.Add(1)))
			if err := mergeToFile(ctx, paths[:k], out, sync, f, cmp); err != nil {
				return err
			}
			made[out] = true
			for _, p := range paths[:k] {
				delete(made, p)
				if err := os.Remove(p); err != nil {
					return fmt.Errorf("merging runs: %w", err)
				}
			}
			next = append(next, out)
			paths = paths[k:]
		}
		paths = next
	}
	readers, err := openAll(paths)
	defer closeAll(readers)
	if err != nil {
		return err
	}
	srcs := make([]Source, 0, len(readers)+len(extra))
	for _, r := range readers {
		srcs = append(srcs, r)
	}
	return MergeBy(ctx, append(srcs, extra...), f, final, cmp, emit)
}

// mergeSeq numbers intermediate files, so that merges running at once in
// one folder never share a name.
var mergeSeq atomic.Uint64

func openAll(paths []string) ([]*Reader, error) {
	var rs []*Reader
	for _, p := range paths {
		r, err := Open(p)
		if err != nil {
			return rs, fmt.Errorf("merging runs: %w", err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func closeAll(rs []*Reader) {
	for _, r := range rs {
		r.Close()
	}
}

// mergeToFile merges the run files at paths into a new run file at out.
func mergeToFile(ctx context.Context, paths []string, out string, sync bool, f fold.Fold, cmp func(a, b []byte) int) error {
	readers, err := openAll(paths)
	defer closeAll(readers)
	if err != nil {
		return err
	}
	w, err := Create(out, sync)
	if err != nil {
		return fmt.Errorf("merging runs: %w", err)
	}
	srcs := make([]Source, len(readers))
	for i, r := range readers {
		srcs[i] = r
	}
	if err := MergeBy(ctx, srcs, f, false, cmp, w.Write); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// TableSource reads a table's entries, in the order idx gives (see
// [fold.Table.Sorted]), as partials.
type TableSource struct {
	t   *fold.Table
	idx []uint32
	buf []byte
}

// NewTableSource reads t's entries idx as a sorted source.
func NewTableSource(t *fold.Table, idx []uint32) *TableSource {
	return &TableSource{t: t, idx: idx}
}

// Next implements [Source].
func (s *TableSource) Next() (key, value []byte, err error) {
	if len(s.idx) == 0 {
		return nil, nil, io.EOF
	}
	i := int(s.idx[0])
	s.idx = s.idx[1:]
	s.buf = s.t.AppendPartial(s.buf[:0], i)
	return s.t.Key(i), s.buf, nil
}

// WriteTable writes t's entries idx, sorted, as a run file at path.
func WriteTable(path string, sync bool, t *fold.Table, idx []uint32) error {
	w, err := Create(path, sync)
	if err != nil {
		return err
	}
	var buf []byte
	for _, i := range idx {
		buf = t.AppendPartial(buf[:0], int(i))
		if err := w.Write(t.Key(int(i)), buf); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}
