package fold

import (
	"cmp"
	"fmt"
	"math"
	"strconv"

	"github.com/jetmr/jetmr/schema"
)

// kind tells which built-in a [Table] or [Merger] folds without boxing its
// state; kindGeneric keeps an [Accumulator] per key instead.
type kind uint8

const (
	kindGeneric kind = iota
	kindSum
	kindCount
	kindMin
	kindMax
)

// kindOf is the kind of f: a numeric built-in, or generic.
func kindOf(f Fold) kind {
	switch f := f.(type) {
	case sumFold:
		return kindSum
	case countFold:
		return kindCount
	case extremeFold:
		if f.max {
			return kindMax
		}
		return kindMin
	}
	return kindGeneric
}

// Tags of a cell.
const (
	tagNone  = 0 // no value yet (min and max before their first value)
	tagInt   = 1
	tagFloat = 2
)

// cell is the state of a numeric built-in for one key, in 9 bytes of
// information: an int64 or the bits of a float64, and which of them (or
// none).
type cell struct {
	bits uint64
	tag  uint8
}

func (c cell) number() number {
	if c.tag == tagFloat {
		return number{float: true, f: math.Float64frombits(c.bits)}
	}
	return number{i: int64(c.bits)}
}

func cellOf(n number) cell {
	if n.float {
		return cell{bits: math.Float64bits(n.f), tag: tagFloat}
	}
	return cell{bits: uint64(n.i), tag: tagInt}
}

// start is the cell of a key with no value folded in yet.
func (k kind) start() cell {
	if k == kindSum || k == kindCount {
		return cell{tag: tagInt}
	}
	return cell{}
}

func (k kind) name() string {
	return [...]string{"", "sum", "count", "min", "max"}[k]
}

// add folds in a parsed value (or partial) x.
func (k kind) add(c *cell, x number) {
	switch k {
	case kindSum:
		a := sumAcc{n: c.number()}
		a.add(x)
		*c = cellOf(a.n)
	case kindMin, kindMax:
		a := extremeAcc{max: k == kindMax, has: c.tag != tagNone, n: c.number()}
		if a.has {
			cmpN := compareNumbers(x, a.n)
			if cmpN == 0 {
				cmpN = cmp.Compare(x.rank(), a.n.rank())
			}
			if (a.max && cmpN <= 0) || (!a.max && cmpN >= 0) {
				return
			}
		}
		*c = cellOf(x)
	}
}

// addRaw folds in a value as a map function emitted it.
func (k kind) addRaw(c *cell, value []byte) error {
	if k == kindCount {
		return k.addCount(c, 1)
	}
	x, err := parseValue(k.name(), value)
	if err != nil {
		return err
	}
	k.add(c, x)
	return nil
}

// addInt folds in the raw value v, as addRaw does its decimal text.
func (k kind) addInt(c *cell, v int64) error {
	if k == kindCount {
		return k.addCount(c, 1)
	}
	k.add(c, number{i: v})
	return nil
}

func (k kind) addCount(c *cell, n int64) error {
	have := int64(c.bits)
	if have > math.MaxInt64-n {
		return fmt.Errorf("count: %w: count overflows int64", schema.ErrMalformed)
	}
	c.bits = uint64(have + n)
	return nil
}

// merge folds in a partial, read as the built-in's Merge reads it.
func (k kind) merge(c *cell, partial []byte) error {
	switch k {
	case kindCount:
		x, ok := parsePartial(partial, false)
		if !ok || x.float || x.i < 0 {
			return badPartial("count", partial)
		}
		return k.addCount(c, x.i)
	case kindSum:
		x, ok := parsePartial(partial, true)
		if !ok {
			return badPartial("sum", partial)
		}
		k.add(c, x)
		return nil
	}
	if len(partial) == 0 {
		return nil
	}
	x, ok := parsePartial(partial, false)
	if !ok {
		return badPartial(k.name(), partial)
	}
	k.add(c, x)
	return nil
}

func (k kind) appendPartial(dst []byte, c cell) []byte {
	switch {
	case c.tag == tagNone:
		return dst
	case k == kindCount:
		return strconv.AppendInt(dst, int64(c.bits), 10)
	}
	return c.number().appendPartial(dst)
}

func (k kind) appendFinal(dst []byte, c cell) []byte {
	switch {
	case c.tag == tagNone:
		return dst
	case k == kindCount:
		return strconv.AppendInt(dst, int64(c.bits), 10)
	}
	return c.number().appendFinal(dst)
}

// Merger folds the partials of one key at a time, as the merge of sorted
// runs meets them: Reset, Merge each partial, then AppendPartial or
// AppendFinal. The built-ins fold without allocating. A Merger is not safe
// for concurrent use.
type Merger struct {
	f   Fold
	k   kind
	c   cell
	acc Accumulator
}

// NewMerger returns a Merger for f.
func NewMerger(f Fold) *Merger {
	m := &Merger{f: f, k: kindOf(f)}
	m.Reset()
	return m
}

// Reset empties the merger for the next key.
func (m *Merger) Reset() {
	if m.k == kindGeneric {
		m.acc = m.f.New()
		return
	}
	m.c = m.k.start()
}

// Merge folds in a partial.
func (m *Merger) Merge(partial []byte) error {
	if m.k == kindGeneric {
		return m.acc.Merge(partial)
	}
	return m.k.merge(&m.c, partial)
}

// AppendPartial appends the folded state in the form Merge reads.
func (m *Merger) AppendPartial(dst []byte) []byte {
	if m.k == kindGeneric {
		return m.acc.AppendPartial(dst)
	}
	return m.k.appendPartial(dst, m.c)
}

// AppendFinal appends the value written to the job's output.
func (m *Merger) AppendFinal(dst []byte) []byte {
	if m.k == kindGeneric {
		return m.acc.AppendFinal(dst)
	}
	return m.k.appendFinal(dst, m.c)
}
