package mapper

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"slices"
	"strings"

	"github.com/jetmr/jetmr/schema"
)

// Combiner is the [Emitter] of a map task: it collects the task's pairs and
// hands them out as sorted runs, one per reduce partition. With a fold it
// combines map-side, keeping one accumulator per key; without one it keeps
// every pair as emitted. A Combiner is not safe for concurrent use.
type Combiner struct {
	fold fold.Fold

	// With a fold: the accumulator of each key, by index.
	index map[string]int
	keys  []string
	accs  []fold.Accumulator

	// Without a fold: every pair, copied.
	raw []schema.Pair
}

var _ Emitter = (*Combiner)(nil)

// NewCombiner returns an empty combiner for fold, or one that only collects
// pairs if fold is nil.
func NewCombiner(f fold.Fold) *Combiner {
	c := &Combiner{fold: f}
	if f != nil {
		c.index = make(map[string]int)
	}
	return c
}

// Emit folds value into the accumulator of key, or records the pair when
// the combiner has no fold. It copies what it keeps.
func (c *Combiner) Emit(key, value []byte) error {
	if c.fold == nil {
		buf := make([]byte, len(key)+len(value))
		n := copy(buf, key)
		copy(buf[n:], value)
		c.raw = append(c.raw, schema.Pair{Key: buf[:n:n], Value: buf[n:]})
		return nil
	}
	i, ok := c.index[string(key)]
	if !ok {
		k := string(key)
		i = len(c.accs)
		c.index[k] = i
		c.keys = append(c.keys, k)
		c.accs = append(c.accs, c.fold.New())
	}
	if err := c.accs[i].Add(value); err != nil {
		return fmt.Errorf("%s of key %q: %w", c.fold.Name(), clip(key), err)
	}
	return nil
}

// Len is the number of distinct keys with a fold, or of pairs without one.
func (c *Combiner) Len() int {
	if c.fold == nil {
		return len(c.raw)
	}
	return len(c.keys)
}

// Runs returns the collected pairs split by [schema.Partition] into
// partitions runs, each sorted by key (bytewise). With a fold each key
// appears once, its value the accumulator's partial (AppendPartial); without
// one, pairs of equal keys keep their emission order.
func (c *Combiner) Runs(partitions int) ([][]schema.Pair, error) {
	if partitions < 1 {
		return nil, errors.New("combiner: partitions must be at least 1")
	}
	runs := make([][]schema.Pair, partitions)
	if c.fold == nil {
		for _, p := range c.raw {
			part := schema.Partition(p.Key, partitions)
			runs[part] = append(runs[part], p)
		}
		for _, run := range runs {
			slices.SortStableFunc(run, func(a, b schema.Pair) int { return bytes.Compare(a.Key, b.Key) })
		}
		return runs, nil
	}
	order := make([][]int, partitions)
	for i, k := range c.keys {
		part := schema.Partition([]byte(k), partitions)
		order[part] = append(order[part], i)
	}
	for part, idx := range order {
		slices.SortFunc(idx, func(a, b int) int { return strings.Compare(c.keys[a], c.keys[b]) })
		run := make([]schema.Pair, len(idx))
		for j, i := range idx {
			run[j] = schema.Pair{Key: []byte(c.keys[i]), Value: c.accs[i].AppendPartial(nil)}
		}
		runs[part] = run
	}
	return runs, nil
}

// clip shortens a key or value quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
}
