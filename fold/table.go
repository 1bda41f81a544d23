package fold

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"unsafe"

	"github.com/jetmr/jetmr/schema"
)

// MaxKey is the longest key a [Table] holds.
const MaxKey = 1 << 29

// ErrKeyTooLong is returned for a key longer than [MaxKey].
var ErrKeyTooLong = errors.New("key too long")

// Table folds values by key in a compact layout: keys back to back in one
// arena, the state of a built-in in a fixed 24-byte entry (no allocation
// per key, nothing for the garbage collector to trace), and an
// open-addressing index of 8-byte slots. Other folds keep an [Accumulator]
// per key. [Table.Size] tells the bytes it holds, so that its owner can
// spill it as a sorted run and [Table.Reset] it once it passes a budget.
type Table struct {
	f       Fold
	k       kind
	seed    uint64   // random per table, so that no input can be crafted to collide
	slots   []uint64 // hash's high 32 bits << 32 | entry index + 1; 0: empty
	mask    uint64
	shift   uint // 64 - log2(len(slots)): a hash's top bits index the slots
	entries []entry
	arena   []byte
	accs    []Accumulator // kindGeneric: per entry
	generic int64         // kindGeneric: estimated bytes the accumulators hold
}

// entry is one key: its first 8 bytes, where it lives in the arena, and
// its state.
type entry struct {
	head uint64 // the key's first 8 bytes, little-endian, zero-padded
	c    cell   // the built-in's state
	off  uint32
	klen uint32
}

// entryBytes is the size of an entry.
const entryBytes = int64(unsafe.Sizeof(entry{}))

// minSlotBits is log2 of the size of a new table's index.
const minSlotBits = 10

// minSlots is the size of a new table's index.
const minSlots = 1 << minSlotBits

// NewTable returns an empty table for f.
func NewTable(f Fold) *Table {
	t := &Table{f: f, k: kindOf(f), seed: rand.Uint64()}
	t.setSlots(minSlotBits)
	return t
}

// Fold is the table's fold.
func (t *Table) Fold() Fold { return t.f }

// Len is the number of keys.
func (t *Table) Len() int { return len(t.entries) }

// Size is the bytes the table holds: its index, entries and arena at their
// capacity, and an estimate of what other folds' accumulators hold.
func (t *Table) Size() int64 {
	return int64(cap(t.slots))*8 + int64(cap(t.entries))*entryBytes + int64(cap(t.arena)) +
		int64(cap(t.accs))*16 + t.generic
}

// Full reports whether the table, were its largest array to grow now
// (the old array is copied to the new one) or were it sorted now (see
// [Table.Sorted]), would hold limit bytes or more; or whether its arena
// nears the 4 GiB its entries can address. A table spilled when Full never
// holds more than limit bytes, growth and sorting included.
func (t *Table) Full(limit int64) bool {
	grow := max(int64(cap(t.slots))*16, int64(cap(t.entries))*entryBytes, int64(cap(t.arena)))
	return t.Size()+max(grow, sortBytes*int64(len(t.entries))) >= limit || len(t.arena) >= 3<<30
}

// sortBytes is what Sorted allocates per entry: two sortItems (the items
// and the radix sort's scratch) and the index it returns.
const sortBytes = 2*int64(unsafe.Sizeof(sortItem{})) + 4

// Reset empties the table. It keeps its memory for reuse if the table
// holds at most keep bytes, and lets it go otherwise, so that a table
// reset once it passed a budget starts again well below it.
func (t *Table) Reset(keep int64) {
	if t.Size() > keep {
		t.setSlots(minSlotBits)
		t.entries, t.arena = nil, nil
	} else {
		clear(t.slots)
		t.entries, t.arena = t.entries[:0], t.arena[:0]
	}
	t.accs, t.generic = nil, 0
}

// Mixing constants of the hash (wyhash's).
const (
	mix1 = 0xa0761d6478bd642f
	mix2 = 0xe7037ed1a0b428db
)

// mum is a 64x64->128-bit multiply folded to 64 bits, wyhash's mixer.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash hashes key, whose head is head, with the table's seed: a key of
// up to 8 bytes in one multiply.
func (t *Table) hash(key []byte, head uint64) uint64 {
	n := len(key)
	if n <= 8 {
		return mum(head^t.seed, mix1)
	}
	h := t.seed ^ uint64(n)
	for i := 0; i < n-8; i += 8 {
		h = mum(h^binary.LittleEndian.Uint64(key[i:]), mix1)
	}
	return mum(h^binary.LittleEndian.Uint64(key[n-8:]), mix2)
}

// headOf is the first 8 bytes of key, little-endian, zero-padded.
func headOf(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.LittleEndian.Uint64(key)
	}
	var v uint64
	for i := len(key) - 1; i >= 0; i-- {
		v = v<<8 | uint64(key[i])
	}
	return v
}

// find returns the entry index of key, adding an empty entry if it is new.
func (t *Table) find(key []byte) (int, error) {
	head := headOf(key)
	h := t.hash(key, head)
	tag := h &^ (1<<32 - 1)
	n := uint32(len(key))
	for i := h >> t.shift; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			if len(key) > MaxKey {
				return 0, fmt.Errorf("%w: %d bytes, more than %d", ErrKeyTooLong, len(key), MaxKey)
			}
			idx := len(t.entries)
			t.entries = append(t.entries, entry{head: head, c: t.k.start(), off: uint32(len(t.arena)), klen: n})
			t.arena = append(t.arena, key...)
			t.slots[i] = tag | uint64(idx+1)
			if t.k == kindGeneric {
				t.accs = append(t.accs, t.f.New())
				t.generic += 64
			}
			if uint64(len(t.entries))*4 > uint64(len(t.slots))*3 {
				t.grow()
			}
			return idx, nil
		}
		if s&^(1<<32-1) != tag {
			continue
		}
		idx := int(s&(1<<32-1)) - 1
		e := &t.entries[idx]
		if e.head == head && e.klen == n && (n <= 8 || bytes.Equal(t.arena[e.off+8:e.off+n], key[8:])) {
			return idx, nil
		}
	}
}

// setSlots makes an empty index of 1<<bits slots.
func (t *Table) setSlots(bits uint) {
	t.slots = make([]uint64, 1<<bits)
	t.mask = 1<<bits - 1
	t.shift = 64 - bits
}

// grow doubles the index. A slot keeps the top 32 bits of its key's hash,
// which index the slots: keys move without being hashed again.
func (t *Table) grow() {
	old := t.slots
	if t.shift <= 32 {
		panic("fold.Table: index of more than 2^32 slots")
	}
	t.setSlots(64 - t.shift + 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := s >> t.shift
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = s
	}
}

// Add folds in a raw value of key, as a map function emitted it.
func (t *Table) Add(key, value []byte) error {
	i, err := t.find(key)
	if err != nil {
		return err
	}
	if t.k == kindGeneric {
		t.generic += int64(len(value)) + 8
		return t.accs[i].Add(value)
	}
	return t.k.addRaw(&t.entries[i].c, value)
}

// AddInt folds in the raw value v of key: the same as Add with v as
// decimal text, without formatting and parsing it.
func (t *Table) AddInt(key []byte, v int64) error {
	if t.k == kindGeneric {
		var buf [20]byte
		return t.Add(key, appendInt(buf[:0], v))
	}
	i, err := t.find(key)
	if err != nil {
		return err
	}
	return t.k.addInt(&t.entries[i].c, v)
}

// Merge folds in a partial of key, as the fold's Accumulator.Merge reads it.
func (t *Table) Merge(key, partial []byte) error {
	i, err := t.find(key)
	if err != nil {
		return err
	}
	if t.k == kindGeneric {
		t.generic += int64(len(partial)) + 8
		return t.accs[i].Merge(partial)
	}
	return t.k.merge(&t.entries[i].c, partial)
}

// Key is the key of entry i; it is valid until the table is Reset.
func (t *Table) Key(i int) []byte {
	e := &t.entries[i]
	return t.arena[e.off : e.off+e.klen : e.off+e.klen]
}

// AppendPartial appends entry i's state in the form Merge reads.
func (t *Table) AppendPartial(dst []byte, i int) []byte {
	if t.k == kindGeneric {
		return t.accs[i].AppendPartial(dst)
	}
	return t.k.appendPartial(dst, t.entries[i].c)
}

// AppendFinal appends entry i's value for the job's output.
func (t *Table) AppendFinal(dst []byte, i int) []byte {
	if t.k == kindGeneric {
		return t.accs[i].AppendFinal(dst)
	}
	return t.k.appendFinal(dst, t.entries[i].c)
}

// sortItem orders an entry by its key's first 8 bytes, big-endian, before
// comparing the rest.
type sortItem struct {
	pre uint64
	idx uint32
}

// Sorted returns the entry indexes of each of partitions partitions (by
// [schema.Partition] of the key), each sorted by key, bytewise.
func (t *Table) Sorted(partitions int) [][]uint32 {
	items := make([][]sortItem, partitions)
	for i := range t.entries {
		e := &t.entries[i]
		p := 0
		if partitions > 1 {
			p = schema.Partition(t.arena[e.off:e.off+e.klen], partitions)
		}
		if items[p] == nil {
			items[p] = make([]sortItem, 0, len(t.entries)/partitions+1)
		}
		items[p] = append(items[p], sortItem{pre: bitsReverse(e.head), idx: uint32(i)})
	}
	out := make([][]uint32, partitions)
	var tmp []sortItem
	for p, its := range items {
		tmp = radixSort(its, tmp)
		out[p] = t.finishSort(its)
	}
	return out
}

// SortedPartition returns the entry indexes of partition part of
// partitions (by [schema.Partition] of the key), sorted by key, bytewise:
// Sorted(partitions)[part].
func (t *Table) SortedPartition(partitions, part int) []uint32 {
	if partitions <= 1 {
		return t.Sorted(1)[0]
	}
	var items []sortItem
	for i := range t.entries {
		e := &t.entries[i]
		if schema.Partition(t.arena[e.off:e.off+e.klen], partitions) == part {
			items = append(items, sortItem{pre: bitsReverse(e.head), idx: uint32(i)})
		}
	}
	radixSort(items, nil)
	return t.finishSort(items)
}

// radixSort sorts items by pre, least significant byte first, skipping the
// bytes all items share; tmp is scratch space, returned for reuse.
func radixSort(items, tmp []sortItem) []sortItem {
	if len(items) < 256 {
		slices.SortFunc(items, func(a, b sortItem) int { return cmp.Compare(a.pre, b.pre) })
		return tmp
	}
	if cap(tmp) < len(items) {
		tmp = make([]sortItem, len(items))
	}
	tmp = tmp[:len(items)]
	src, dst := items, tmp
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, it := range src {
			count[byte(it.pre>>shift)]++
		}
		if count[byte(src[0].pre>>shift)] == len(src) {
			continue // every item has this byte
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for _, it := range src {
			b := byte(it.pre >> shift)
			dst[count[b]] = it
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
	return tmp
}

// finishSort orders the runs of items with equal first 8 bytes by their
// whole keys, and returns the entry indexes.
func (t *Table) finishSort(items []sortItem) []uint32 {
	var tmp []sortItem
	t.sortGroups(items, 8, &tmp)
	idx := make([]uint32, len(items))
	for i, it := range items {
		idx[i] = it.idx
	}
	return idx
}

// sortGroups orders each run of items with equal pre, whose keys share
// their first depth bytes (zero-padded), by the rest of their keys: by
// radix sort on the next 8 bytes while a run is large, so that keys with a
// long common prefix (ids, paths) do not all go to bytewise comparisons.
func (t *Table) sortGroups(items []sortItem, depth uint32, tmp *[]sortItem) {
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].pre == items[i].pre {
			j++
		}
		if j-i > 1 {
			t.sortGroup(items[i:j], depth, tmp)
		}
		i = j
	}
}

func (t *Table) sortGroup(g []sortItem, depth uint32, tmp *[]sortItem) {
	longer := false
	for _, it := range g {
		if t.entries[it.idx].klen > depth {
			longer = true
			break
		}
	}
	if len(g) < 64 || !longer {
		slices.SortFunc(g, func(a, b sortItem) int {
			return bytes.Compare(t.Key(int(a.idx)), t.Key(int(b.idx)))
		})
		return
	}
	for k := range g {
		g[k].pre = t.word(int(g[k].idx), depth)
	}
	*tmp = radixSort(g, *tmp)
	t.sortGroups(g, depth+8, tmp)
}

// word is bytes [at, at+8) of entry i's key, big-endian, zero-padded.
func (t *Table) word(i int, at uint32) uint64 {
	e := &t.entries[i]
	if e.klen <= at {
		return 0
	}
	k := t.arena[e.off+at : e.off+e.klen]
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// ArenaLen is the bytes of all keys, for sizing buffers.
func (t *Table) ArenaLen() int { return len(t.arena) }

// bitsReverse turns a little-endian head into a big-endian one, which
// orders as the bytes do.
func bitsReverse(v uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

func appendInt(dst []byte, v int64) []byte {
	return number{i: v}.appendFinal(dst)
}

// AppendIntPartial appends the partial that a table of f holds for a key
// added once, with [Table.AddInt], with the value v: for sum, the sum of
// a key's counts as if each had been added in turn. f must be a built-in
// (sum, count, min or max).
func AppendIntPartial(f Fold, dst []byte, v int64) []byte {
	k := kindOf(f)
	var c cell
	k.addInt(&c, v)
	return k.appendPartial(dst, c)
}
