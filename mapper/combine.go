package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/internal/runfile"
	"github.com/jetmr/jetmr/schema"
)

// Combiner is the [Emitter] of a map task: it collects the task's pairs and
// hands them out as sorted runs, one per reduce partition. With a fold it
// combines map-side in a compact [fold.Table] (keys in an arena, no
// allocation per key for the built-ins); without one it keeps every pair
// as emitted. A Combiner is not safe for concurrent use.
//
// A bounded combiner (see [NewBoundedCombiner]) holds at most its Limit
// in its table or pairs: past it, it writes them as sorted run files, one
// per partition, and starts afresh; its runs are then merged, equal keys
// folded, into each partition's run (see [Combiner.WriteRun]).
type Combiner struct {
	fold  fold.Fold
	table *fold.Table // with a fold
	keys  schema.Keys // how keys partition and sort

	// Without a fold: every pair, copied, and the bytes they hold.
	raw      []schema.Pair
	rawBytes int64

	cfg    CombineConfig
	spills [][]string // per partition, the run files spilled, in order
	nspill int
	peak   int64 // the most bytes the table or pairs held at a check
	// reserve is bytes its caller holds for a while, which the table
	// leaves room for.
	reserve int64
	// batch is words counted by sorting (see sortCounter), sorted and
	// folded, that EncodeRuns encodes as they are: set only while the
	// table is empty and nothing was spilled.
	batch *countBatch
}

// CombineConfig bounds a [Combiner]'s memory.
type CombineConfig struct {
	// Partitions is the number of reduce partitions the runs go to.
	// Default 1.
	Partitions int
	// Limit is the bytes the combiner's table (or pairs, without a fold)
	// may hold, growth and sorting included; past it they are spilled to
	// run files in Dir. 0: no limit.
	Limit int64
	// Dir holds the spilled runs. Required with Limit.
	Dir string
	// Name starts the names of the spilled runs; it must differ between
	// the combiners that share Dir.
	Name string
	// Keys says how keys partition and sort (--partition-fields,
	// --key-order). The zero value: the whole key, bytewise.
	Keys schema.Keys
}

// CombineShare is the bytes each map task's combiner may hold on a worker
// of slots slots, for a job of memory budget budget (0: the default of
// 128 MiB): the map tasks' tables together take at most half of the
// budget. A table of short distinct keys takes some ten times the bytes
// of its chunk, counting the room to grow and sort, so that a chunk of
// the default size (see job's mapChunkCap) never spills. Never below
// 1 MiB.
func CombineShare(budget int64, slots int) int64 {
	if budget <= 0 {
		budget = defaultJobMemory
	}
	return max(budget/(2*int64(max(slots, 1))), minCombineShare)
}

const (
	// defaultJobMemory is the budget of a job whose record has none.
	defaultJobMemory = 128 << 20
	// minCombineShare is the least a combiner may hold.
	minCombineShare = 1 << 20
)

// pairBytes is what a kept pair costs beyond its key and value: its
// [schema.Pair] and its share of the sort.
const pairBytes = 64

var (
	_ Emitter    = (*Combiner)(nil)
	_ IntEmitter = (*Combiner)(nil)
)

// IntEmitter is an [Emitter] that also takes integer values without their
// decimal text: EmitInt(key, v) is Emit(key, the decimal text of v).
type IntEmitter interface {
	Emitter
	EmitInt(key []byte, v int64) error
}

// NewCombiner returns an empty combiner for fold, or one that only collects
// pairs if fold is nil. It holds whatever it is given.
func NewCombiner(f fold.Fold) *Combiner {
	return NewCombinerFor(f, schema.Keys{})
}

// NewCombinerFor is [NewCombiner] for a job whose keys partition and sort
// as k says (--partition-fields, --key-order).
func NewCombinerFor(f fold.Fold, k schema.Keys) *Combiner {
	c, _ := NewBoundedCombiner(f, CombineConfig{Keys: k})
	return c
}

// NewBoundedCombiner returns an empty combiner for fold (or nil) that
// holds at most cfg.Limit bytes.
func NewBoundedCombiner(f fold.Fold, cfg CombineConfig) (*Combiner, error) {
	if cfg.Partitions < 1 {
		cfg.Partitions = 1
	}
	if cfg.Limit > 0 && cfg.Dir == "" {
		return nil, errors.New("mapper.NewBoundedCombiner: Dir is required with Limit")
	}
	c := &Combiner{fold: f, cfg: cfg, keys: cfg.Keys}
	if f != nil {
		c.table = fold.NewTable(f)
	}
	return c, nil
}

// Emit folds value into the state of key, or records the pair when the
// combiner has no fold. It copies what it keeps.
func (c *Combiner) Emit(key, value []byte) error {
	if c.batch != nil {
		if err := c.absorbBatch(); err != nil {
			return err
		}
	}
	if c.fold == nil {
		if c.cfg.Limit > 0 {
			size := int64(len(key)+len(value)) + pairBytes
			if c.rawBytes+size > c.cfg.Limit && len(c.raw) > 0 {
				if err := c.spill(); err != nil {
					return err
				}
			}
			c.rawBytes += size
		}
		buf := make([]byte, len(key)+len(value))
		n := copy(buf, key)
		copy(buf[n:], value)
		c.raw = append(c.raw, schema.Pair{Key: buf[:n:n], Value: buf[n:]})
		return nil
	}
	if err := c.table.Add(key, value); err != nil {
		return fmt.Errorf("%s of key %q: %w", c.fold.Name(), clip(key), err)
	}
	return c.check()
}

// check spills the table once it is full.
func (c *Combiner) check() error {
	if c.cfg.Limit > 0 && c.table.Full(c.cfg.Limit-c.reserve) {
		return c.spill()
	}
	return nil
}

// spill writes the table (or the pairs) as sorted runs, one per partition
// that has pairs, and empties it.
func (c *Combiner) spill() error {
	if c.spills == nil {
		c.spills = make([][]string, c.cfg.Partitions)
	}
	c.peak = max(c.peak, c.held()+c.reserve)
	k := c.nspill
	c.nspill++
	name := func(part int) string {
		return filepath.Join(c.cfg.Dir, fmt.Sprintf("%s.c%d.p%d.run", c.cfg.Name, k, part))
	}
	if c.fold == nil {
		for part, run := range c.rawRuns(c.cfg.Partitions) {
			if len(run) == 0 {
				continue
			}
			w, err := runfile.Create(name(part), false)
			if err != nil {
				return spillError(c.cfg.Dir, err)
			}
			for _, p := range run {
				if err := w.Write(p.Key, p.Value); err != nil {
					w.Abort()
					return spillError(c.cfg.Dir, err)
				}
			}
			if err := w.Close(); err != nil {
				return spillError(c.cfg.Dir, err)
			}
			c.spills[part] = append(c.spills[part], name(part))
		}
		c.raw, c.rawBytes = nil, 0
		return nil
	}
	for part, idx := range c.sorted(c.cfg.Partitions) {
		if len(idx) == 0 {
			continue
		}
		if err := runfile.WriteTable(name(part), false, c.table, idx); err != nil {
			return spillError(c.cfg.Dir, err)
		}
		c.spills[part] = append(c.spills[part], name(part))
	}
	c.table.Reset(c.cfg.Limit / 2)
	return nil
}

func spillError(dir string, err error) error {
	return fmt.Errorf("spilling the map-side combine to %s (free space there, or raise --memory): %w", dir, err)
}

// held is the bytes the table or the pairs hold now.
func (c *Combiner) held() int64 {
	if c.fold == nil {
		return c.rawBytes
	}
	if c.batch != nil {
		return c.table.Size() + c.batch.size()
	}
	return c.table.Size()
}

// takeBatch takes words counted by sorting, sorted and folded: the last
// batch of a chunk it keeps for EncodeRuns if that is all it holds;
// others it spills as a run (or, unbounded, folds into its table).
func (c *Combiner) takeBatch(b *countBatch, last bool) error {
	c.peak = max(c.peak, c.held()+b.size()+c.reserve)
	if last && c.batch == nil && !c.Spilled() && c.table.Len() == 0 {
		c.batch = b
		return nil
	}
	if c.cfg.Limit <= 0 {
		if c.batch != nil {
			if err := c.absorbBatch(); err != nil {
				return err
			}
		}
		c.batch = b
		return c.absorbBatch()
	}
	if c.batch != nil {
		kept := c.batch
		c.batch = nil
		if err := c.spillBatch(kept); err != nil {
			return err
		}
	}
	return c.spillBatch(b)
}

// absorbBatch folds the kept batch into the table.
func (c *Combiner) absorbBatch() error {
	b := c.batch
	c.batch = nil
	c.reserve += b.size()
	defer func() { c.reserve -= b.size() }()
	for i := range b.recs {
		r := &b.recs[i]
		if err := c.EmitInt(b.key(r), r.count); err != nil {
			return err
		}
	}
	return nil
}

// spillBatch writes a sorted batch as runs, one per partition, as spill
// writes the table.
func (c *Combiner) spillBatch(b *countBatch) error {
	if c.spills == nil {
		c.spills = make([][]string, c.cfg.Partitions)
	}
	k := c.nspill
	c.nspill++
	var key, val []byte
	for part, idx := range b.partitions(c.cfg.Partitions) {
		if len(idx) == 0 {
			continue
		}
		name := filepath.Join(c.cfg.Dir, fmt.Sprintf("%s.c%d.p%d.run", c.cfg.Name, k, part))
		w, err := runfile.Create(name, false)
		if err != nil {
			return spillError(c.cfg.Dir, err)
		}
		for _, i := range idx {
			r := &b.recs[i]
			key = b.appendKey(key[:0], r)
			val = fold.AppendIntPartial(c.fold, val[:0], r.count)
			if err := w.Write(key, val); err != nil {
				w.Abort()
				return spillError(c.cfg.Dir, err)
			}
		}
		if err := w.Close(); err != nil {
			return spillError(c.cfg.Dir, err)
		}
		c.spills[part] = append(c.spills[part], name)
	}
	return nil
}

// Peak is the most bytes the combiner's table (or pairs) held: at its
// spills and now.
func (c *Combiner) Peak() int64 { return max(c.peak, c.held()+c.reserve) }

// Spilled reports whether the combiner wrote runs to files: its
// partitions' runs must then be read with [Combiner.WriteRun].
func (c *Combiner) Spilled() bool { return c.nspill > 0 }

// Close removes the runs the combiner spilled.
func (c *Combiner) Close() {
	for _, paths := range c.spills {
		for _, p := range paths {
			os.Remove(p)
		}
	}
	c.spills = nil
}

// WriteRun writes partition part's run to w, encoded as results carry it
// (see [schema.EncodeRun]) with a header of [schema.RunHeaderLen] bytes
// that holds zero pairs; it returns the number of pairs, for the caller to
// fill the header in with [schema.PutRunHeader]. The spilled runs of the
// partition and what the combiner holds are merged, equal keys folded
// with a fold (without one, pairs of equal keys keep their emission
// order); the spilled runs are consumed: WriteRun is called at most once
// per partition.
func (c *Combiner) WriteRun(ctx context.Context, part int, w io.Writer) (int, error) {
	if part < 0 || part >= c.cfg.Partitions {
		return 0, fmt.Errorf("combiner: partition %d of %d", part, c.cfg.Partitions)
	}
	if c.batch != nil {
		if err := c.absorbBatch(); err != nil {
			return 0, err
		}
	}
	var hdr [schema.RunHeaderLen]byte
	schema.PutRunHeader(hdr[:], 0)
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, err
	}
	var extra runfile.Source
	if c.fold == nil {
		var run []schema.Pair
		for _, p := range c.raw {
			if c.keys.Partition(p.Key, c.cfg.Partitions) == part {
				run = append(run, p)
			}
		}
		slices.SortStableFunc(run, func(a, b schema.Pair) int { return c.keys.Compare(a.Key, b.Key) })
		extra = &pairSource{pairs: run}
	} else {
		extra = runfile.NewTableSource(c.table, fold.SortedPartitionBy(c.table, c.keys, c.cfg.Partitions, part))
	}
	var paths []string
	if c.spills != nil {
		paths, c.spills[part] = c.spills[part], nil
	}
	defer func() {
		for _, p := range paths {
			os.Remove(p) // gone already if a merge pass took it
		}
	}()
	n := 0
	var item []byte
	err := runfile.MergeFilesBy(ctx, paths, []runfile.Source{extra}, c.cfg.Dir, runfile.DefaultFanIn, false, c.fold, false, c.keys.Comparer(), func(k, v []byte) error {
		item = schema.AppendRunItem(schema.AppendRunItem(item[:0], k), v)
		n++
		_, err := w.Write(item)
		return err
	})
	if err == nil && n > math.MaxUint32/2 {
		err = fmt.Errorf("combiner: %d pairs in one run, more than a run holds", n)
	}
	return n, err
}

// pairSource reads sorted pairs as a [runfile.Source].
type pairSource struct{ pairs []schema.Pair }

func (s *pairSource) Next() (key, value []byte, err error) {
	if len(s.pairs) == 0 {
		return nil, nil, io.EOF
	}
	p := s.pairs[0]
	s.pairs = s.pairs[1:]
	return p.Key, p.Value, nil
}

// EmitInt implements [IntEmitter].
func (c *Combiner) EmitInt(key []byte, v int64) error {
	if c.batch != nil {
		if err := c.absorbBatch(); err != nil {
			return err
		}
	}
	if c.fold == nil {
		return c.Emit(key, strconv.AppendInt(nil, v, 10))
	}
	if err := c.table.AddInt(key, v); err != nil {
		return fmt.Errorf("%s of key %q: %w", c.fold.Name(), clip(key), err)
	}
	return c.check()
}

// Len is the number of distinct keys with a fold, or of pairs without one.
func (c *Combiner) Len() int {
	if c.batch != nil {
		return c.table.Len() + len(c.batch.recs)
	}
	if c.fold == nil {
		return len(c.raw)
	}
	return c.table.Len()
}

// Runs returns the collected pairs split by [schema.Partition] into
// partitions runs, each sorted by key (bytewise). With a fold each key
// appears once, its value the fold's partial (AppendPartial); without
// one, pairs of equal keys keep their emission order.
func (c *Combiner) Runs(partitions int) ([][]schema.Pair, error) {
	if partitions < 1 {
		return nil, errors.New("combiner: partitions must be at least 1")
	}
	if c.batch != nil {
		if err := c.absorbBatch(); err != nil {
			return nil, err
		}
	}
	if c.Spilled() {
		return c.spilledRuns(partitions)
	}
	if c.fold == nil {
		return c.rawRuns(partitions), nil
	}
	runs := make([][]schema.Pair, partitions)
	for part, idx := range c.sorted(partitions) {
		run := make([]schema.Pair, len(idx))
		for j, i := range idx {
			run[j] = schema.Pair{Key: bytes.Clone(c.table.Key(int(i))), Value: c.table.AppendPartial(nil, int(i))}
		}
		runs[part] = run
	}
	return runs, nil
}

// rawRuns splits and sorts the pairs of a combiner without a fold.
func (c *Combiner) rawRuns(partitions int) [][]schema.Pair {
	runs := make([][]schema.Pair, partitions)
	for _, p := range c.raw {
		part := c.keys.Partition(p.Key, partitions)
		runs[part] = append(runs[part], p)
	}
	for _, run := range runs {
		slices.SortStableFunc(run, func(a, b schema.Pair) int { return c.keys.Compare(a.Key, b.Key) })
	}
	return runs
}

// spilledRuns is Runs of a combiner that spilled.
func (c *Combiner) spilledRuns(partitions int) ([][]schema.Pair, error) {
	if partitions != c.cfg.Partitions {
		return nil, fmt.Errorf("combiner: %d partitions asked of a combiner that spilled %d", partitions, c.cfg.Partitions)
	}
	runs := make([][]schema.Pair, partitions)
	for part := range runs {
		var buf bytes.Buffer
		n, err := c.WriteRun(context.Background(), part, &buf)
		if err != nil {
			return nil, err
		}
		schema.PutRunHeader(buf.Bytes(), n)
		if runs[part], err = schema.DecodeRunBy(buf.Bytes(), c.keys.Comparer()); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// EncodeRuns returns the runs of [Combiner.Runs], encoded as results carry
// them (see [schema.EncodeRun]), without building the pairs first.
func (c *Combiner) EncodeRuns(partitions int) ([][]byte, error) {
	if c.batch != nil && partitions >= 1 {
		return c.encodeBatch(partitions), nil
	}
	if c.fold == nil || c.Spilled() {
		runs, err := c.Runs(partitions)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(runs))
		for i, run := range runs {
			var buf bytes.Buffer
			if err := schema.EncodeRun(&buf, run); err != nil {
				return nil, err
			}
			out[i] = buf.Bytes()
		}
		return out, nil
	}
	if partitions < 1 {
		return nil, errors.New("combiner: partitions must be at least 1")
	}
	out := make([][]byte, partitions)
	var val []byte
	for part, idx := range c.sorted(partitions) {
		b := make([]byte, 0, c.table.ArenaLen()/partitions+len(idx)*16+8)
		b = schema.AppendRunHeader(b, len(idx))
		for _, i := range idx {
			val = c.table.AppendPartial(val[:0], int(i))
			b = schema.AppendRunItem(schema.AppendRunItem(b, c.table.Key(int(i))), val)
		}
		out[part] = b
	}
	return out, nil
}

// encodeBatch is EncodeRuns of a combiner that holds only a batch.
func (c *Combiner) encodeBatch(partitions int) [][]byte {
	b := c.batch
	out := make([][]byte, partitions)
	var val []byte
	for part, idx := range b.partitions(partitions) {
		buf := make([]byte, 0, len(b.arena)/partitions+len(idx)*8+8)
		buf = schema.AppendRunHeader(buf, len(idx))
		for _, i := range idx {
			r := &b.recs[i]
			val = fold.AppendIntPartial(c.fold, val[:0], r.count)
			if r.n <= 0xff {
				buf = b.appendKey(append(buf, 0xc4, byte(r.n)), r) // as AppendRunItem
			} else {
				buf = schema.AppendRunItem(buf, b.key(r))
			}
			buf = schema.AppendRunItem(buf, val)
		}
		out[part] = buf
	}
	return out
}

// clip shortens a key or value quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
}

// sorted is the fold table's entries split by partition, each sorted by
// key, in the job's key order.
func (c *Combiner) sorted(partitions int) [][]uint32 {
	return fold.SortedBy(c.table, c.keys, partitions)
}
