package mapper

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"slices"
	"strconv"

	"github.com/jetmr/jetmr/schema"
)

// Combiner is the [Emitter] of a map task: it collects the task's pairs and
// hands them out as sorted runs, one per reduce partition. With a fold it
// combines map-side in a compact [fold.Table] (keys in an arena, no
// allocation per key for the built-ins); without one it keeps every pair
// as emitted. A Combiner is not safe for concurrent use.
type Combiner struct {
	fold  fold.Fold
	table *fold.Table // with a fold
	keys  schema.Keys // how keys partition and sort

	// Without a fold: every pair, copied.
	raw []schema.Pair
}

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
// pairs if fold is nil.
func NewCombiner(f fold.Fold) *Combiner {
	return NewCombinerFor(f, schema.Keys{})
}

// NewCombinerFor is [NewCombiner] for a job whose keys partition and sort
// as k says (--partition-fields, --key-order).
func NewCombinerFor(f fold.Fold, k schema.Keys) *Combiner {
	c := &Combiner{fold: f, keys: k}
	if f != nil {
		c.table = fold.NewTable(f)
	}
	return c
}

// Emit folds value into the state of key, or records the pair when the
// combiner has no fold. It copies what it keeps.
func (c *Combiner) Emit(key, value []byte) error {
	if c.fold == nil {
		buf := make([]byte, len(key)+len(value))
		n := copy(buf, key)
		copy(buf[n:], value)
		c.raw = append(c.raw, schema.Pair{Key: buf[:n:n], Value: buf[n:]})
		return nil
	}
	if err := c.table.Add(key, value); err != nil {
		return fmt.Errorf("%s of key %q: %w", c.fold.Name(), clip(key), err)
	}
	return nil
}

// EmitInt implements [IntEmitter].
func (c *Combiner) EmitInt(key []byte, v int64) error {
	if c.fold == nil {
		return c.Emit(key, strconv.AppendInt(nil, v, 10))
	}
	if err := c.table.AddInt(key, v); err != nil {
		return fmt.Errorf("%s of key %q: %w", c.fold.Name(), clip(key), err)
	}
	return nil
}

// Len is the number of distinct keys with a fold, or of pairs without one.
func (c *Combiner) Len() int {
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
	runs := make([][]schema.Pair, partitions)
	if c.fold == nil {
		for _, p := range c.raw {
			part := c.keys.Partition(p.Key, partitions)
			runs[part] = append(runs[part], p)
		}
		for _, run := range runs {
			slices.SortStableFunc(run, func(a, b schema.Pair) int { return c.keys.Compare(a.Key, b.Key) })
		}
		return runs, nil
	}
	for part, idx := range c.sorted(partitions) {
		run := make([]schema.Pair, len(idx))
		for j, i := range idx {
			run[j] = schema.Pair{Key: bytes.Clone(c.table.Key(int(i))), Value: c.table.AppendPartial(nil, int(i))}
		}
		runs[part] = run
	}
	return runs, nil
}

// EncodeRuns returns the runs of [Combiner.Runs], encoded as results carry
// them (see [schema.EncodeRun]), without building the pairs first.
func (c *Combiner) EncodeRuns(partitions int) ([][]byte, error) {
	if c.fold == nil {
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

// sorted is the fold table's entries split by partition, each sorted by
// key, in the job's key order.
func (c *Combiner) sorted(partitions int) [][]uint32 {
	return fold.SortedBy(c.table, c.keys, partitions)
}

// clip shortens a key or value quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
}
