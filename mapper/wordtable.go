package mapper

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"unsafe"
)

// wordTable counts words for [Wordcount]. It is an open-addressing hash
// table with linear probing, specialised for short keys: a word's first 8
// bytes, zero-padded, are kept in its slot, so that a word of up to 8 bytes
// (words never contain a zero byte) is found with one 64-bit comparison and
// no pointer chasing. Keys live back to back in an arena, which grows only
// for new words.
type wordTable struct {
	slots []wordSlot
	shift uint // 64 - log2(len(slots)): a hash's top bits index the table
	used  int  // distinct words
	adds  int  // words counted
	arena []byte
	// limit, when not 0, is the bytes the table may hold: once doubling
	// its slots would pass it, the table stops growing and sets full, and
	// its owner must empty it before adding more.
	limit int64
	full  bool
}

type wordSlot struct {
	w0    uint64 // the word's first 8 bytes, little-endian, zero-padded
	count int64  // 0 for an empty slot
	off   int    // the word is arena[off : off+n]
	n     int
}

// wordSeed makes the table's hash differ between processes, so that no
// input can be crafted to collide.
var wordSeed = rand.Uint64()

const (
	minWordTableBits = 8  // 256 slots
	maxWordTableBits = 16 // the largest initial size, a 2 MiB table
	mix1             = 0xa0761d6478bd642f
	mix2             = 0xe7037ed1a0b428db
)

// newWordTable returns a table sized for a chunk of size bytes: a slot per
// 512 bytes, a guess at the number of distinct words, within limits.
func newWordTable(size int) *wordTable {
	b := min(max(bits.Len(uint(size/512)), minWordTableBits), maxWordTableBits)
	return &wordTable{slots: make([]wordSlot, 1<<b), shift: 64 - uint(b)}
}

// mum is a 64x64->128-bit multiply folded to 64 bits, wyhash's mixer.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// head returns the first min(len(w), 8) bytes of w as a little-endian
// integer, zero-padded. len(w) > 0.
func head(w []byte) uint64 {
	if cap(w) >= 8 {
		return maskHead(binary.LittleEndian.Uint64(w[:8]), len(w))
	}
	var v uint64
	for i := min(len(w), 8) - 1; i >= 0; i-- {
		v = v<<8 | uint64(w[i])
	}
	return v
}

// maskHead returns the head of a word of n > 0 bytes from its first 8 bytes
// (or those of what follows it) v.
func maskHead(v uint64, n int) uint64 {
	if n >= 8 {
		return v
	}
	return v & (^uint64(0) >> (64 - 8*uint(n)))
}

// hashWord hashes w, whose head is w0.
func hashWord(w []byte, w0 uint64) uint64 {
	n := len(w)
	if n <= 8 {
		return mum(w0^wordSeed, mix1)
	}
	h := wordSeed ^ uint64(n)
	for i := 0; i < n-8; i += 8 {
		h = mum(h^binary.LittleEndian.Uint64(w[i:]), mix1)
	}
	// The last 8 bytes, which may overlap the previous block.
	return mum(h^binary.LittleEndian.Uint64(w[n-8:]), mix2)
}

// add counts one occurrence of w, which is not empty and has head w0. It
// copies w only if w is new.
func (t *wordTable) add(w []byte, w0 uint64) {
	n := len(w)
	t.adds++
	mask := len(t.slots) - 1
	i := int(hashWord(w, w0) >> t.shift)
	for {
		s := &t.slots[i]
		if s.count == 0 {
			break
		}
		if s.w0 == w0 && s.n == n && (n <= 8 || bytes.Equal(t.arena[s.off:s.off+n], w)) {
			s.count++
			return
		}
		i = (i + 1) & mask
	}
	t.slots[i] = wordSlot{w0: w0, count: 1, off: len(t.arena), n: n}
	t.arena = append(t.arena, w...)
	t.used++
	if 2*t.used > len(t.slots) {
		if t.limit > 0 && int64(len(t.slots))*3*wordSlotBytes+int64(cap(t.arena)) > t.limit {
			t.full = true
			return
		}
		t.grow()
	}
}

// size is the bytes the table holds.
func (t *wordTable) size() int64 {
	return int64(len(t.slots))*wordSlotBytes + int64(cap(t.arena))
}

// wordSlotBytes is the size of a slot.
const wordSlotBytes = int64(unsafe.Sizeof(wordSlot{}))

// grow doubles the table.
func (t *wordTable) grow() {
	old := t.slots
	t.slots = make([]wordSlot, 2*len(old))
	t.shift--
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.count == 0 {
			continue
		}
		i := int(hashWord(t.arena[s.off:s.off+s.n], s.w0) >> t.shift)
		for t.slots[i].count != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// emit emits every word with its count as decimal text (through EmitInt
// when e takes integers).
func (t *wordTable) emit(e Emitter) error {
	if ie, ok := e.(IntEmitter); ok {
		for _, s := range t.slots {
			if s.count == 0 {
				continue
			}
			if err := ie.EmitInt(t.arena[s.off:s.off+s.n], s.count); err != nil {
				return err
			}
		}
		return nil
	}
	var key, val []byte
	for _, s := range t.slots {
		if s.count == 0 {
			continue
		}
		key = append(key[:0], t.arena[s.off:s.off+s.n]...)
		val = strconv.AppendInt(val[:0], s.count, 10)
		if err := e.Emit(key, val); err != nil {
			return err
		}
	}
	return nil
}
