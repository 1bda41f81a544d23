package mapper

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/jetmr/jetmr/schema"
)

// sortCounter counts the words of a chunk of mostly distinct words (ids,
// not prose) for a combiner that sums, by sorting rather than hashing: it
// appends each word to an arena and a record to a list, and at the end
// sorts the records by radix sort on their first 8 bytes and adds up the
// counts of equal neighbours. A table of a hundred thousand keys or more
// misses the cache on nearly every lookup and again when it is read back
// in key order; sorting reads and writes the records in sequence.
//
// It holds at most limit bytes (0: no limit): past that it hands a sorted
// batch to the combiner, which spills it as a run, and starts afresh.
type sortCounter struct {
	c     *Combiner
	limit int64
	b     *countBatch
	err   error
}

// countBatch is the words a [sortCounter] collected, with their counts:
// once sorted, in key order (bytewise), each word once.
type countBatch struct {
	arena []byte
	recs  []countRec
}

// countRec is one word of a [countBatch].
type countRec struct {
	pre   uint64 // the word's first 8 bytes, big-endian, zero-padded
	off   uint32 // the word is arena[off : off+n]
	n     uint32
	count int64
}

// countRecBytes is what a record costs, the radix sort's scratch copy
// included.
const countRecBytes = 2 * int64(unsafe.Sizeof(countRec{}))

// maxBatchArena bounds a batch's arena, whose offsets are 32-bit.
const maxBatchArena = 1 << 31

// newSortCounter returns a sortCounter for c that holds at most limit
// bytes, its first batch sized for about words words of arena bytes.
func newSortCounter(c *Combiner, limit int64, words, arena int) *sortCounter {
	s := &sortCounter{c: c, limit: limit}
	s.reset(words, arena)
	return s
}

// reset starts a new batch, sized for about words words of arena bytes
// within the limit.
func (s *sortCounter) reset(words, arena int) {
	n, a := int64(max(words, 256)), int64(min(arena, maxBatchArena/2)+64)
	if s.limit > 0 {
		a = min(a, s.limit/4)
		n = min(n, (s.limit-a)/countRecBytes)
	}
	s.b = &countBatch{recs: make([]countRec, 0, n), arena: make([]byte, 0, a)}
}

// key is record r's word.
func (b *countBatch) key(r *countRec) []byte {
	return b.arena[r.off : r.off+r.n : r.off+r.n]
}

// appendKey appends record r's word to dst: a word of up to 8 bytes from
// the record itself, so that writing the sorted batch reads the arena
// (in the records' order, all over it) only for longer words.
func (b *countBatch) appendKey(dst []byte, r *countRec) []byte {
	if r.n > 8 {
		return append(dst, b.key(r)...)
	}
	return binary.BigEndian.AppendUint64(dst, r.pre)[:len(dst)+int(r.n)]
}

// size is the bytes the batch holds, the sort's scratch included.
func (b *countBatch) size() int64 {
	return int64(cap(b.arena)) + int64(cap(b.recs))*countRecBytes
}

func (s *sortCounter) add(w []byte, w0 uint64) { s.addN(w, w0, 1) }

// addN counts n occurrences of w, whose head (little-endian) is w0.
func (s *sortCounter) addN(w []byte, w0 uint64, n int64) {
	if s.err != nil {
		return
	}
	b := s.b
	if s.full(len(w)) {
		if s.err = s.flush(); s.err != nil {
			return
		}
		b = s.b
	}
	b.recs = append(b.recs, countRec{pre: bits.ReverseBytes64(w0), off: uint32(len(b.arena)), n: uint32(len(w)), count: n})
	b.arena = append(b.arena, w...)
}

// full reports whether the batch must be flushed before it takes a word
// of n bytes: when growing it for the word would pass the limit.
func (s *sortCounter) full(n int) bool {
	b := s.b
	if len(b.recs) == 0 {
		return false
	}
	if len(b.arena)+n > maxBatchArena {
		return true
	}
	if s.limit <= 0 {
		return false
	}
	growRecs, growArena := len(b.recs) == cap(b.recs), len(b.arena)+n > cap(b.arena)
	if !growRecs && !growArena {
		return false
	}
	next := b.size()
	if growRecs {
		next += int64(cap(b.recs)) * countRecBytes
	}
	if growArena {
		next += int64(cap(b.arena) + n)
	}
	return next > s.limit
}

// takeWords counts the words of a word table, which it empties.
func (s *sortCounter) takeWords(t *wordTable) {
	for _, sl := range t.slots {
		if sl.count != 0 {
			w := t.arena[sl.off : sl.off+sl.n]
			s.addN(w, head(w), sl.count)
		}
	}
	t.slots, t.arena, t.used, t.adds = nil, nil, 0, 0
}

// flush hands the batch, sorted, to the combiner and starts another.
func (s *sortCounter) flush() error {
	b := s.b
	b.sortFold()
	s.reset(cap(b.recs), cap(b.arena))
	return s.c.takeBatch(b, false)
}

func (s *sortCounter) emit(Emitter) error {
	if s.err != nil {
		return s.err
	}
	b := s.b
	s.b = nil
	if len(b.recs) == 0 {
		return nil
	}
	b.sortFold()
	return s.c.takeBatch(b, true)
}

// sortFold sorts the records by key and adds up the counts of equal keys,
// leaving each key once.
func (b *countBatch) sortFold() {
	recs := b.recs
	radixSortRecs(recs)
	// Records of equal first 8 bytes whose keys are longer are ordered by
	// their whole keys.
	for i := 0; i < len(recs); {
		j := i + 1
		long := recs[i].n > 8
		for j < len(recs) && recs[j].pre == recs[i].pre {
			long = long || recs[j].n > 8
			j++
		}
		if j-i > 1 && long {
			slices.SortFunc(recs[i:j], func(x, y countRec) int { return bytes.Compare(b.key(&x), b.key(&y)) })
		}
		i = j
	}
	out := recs[:0]
	for i := range recs {
		r := recs[i]
		if k := len(out) - 1; k >= 0 && out[k].pre == r.pre && out[k].n == r.n && (r.n <= 8 || bytes.Equal(b.key(&out[k]), b.key(&r))) {
			out[k].count += r.count
			continue
		}
		out = append(out, r)
	}
	b.recs = out
}

// radixSortRecs sorts recs by pre, least significant byte first, skipping
// the bytes all records share.
func radixSortRecs(recs []countRec) {
	if len(recs) < 256 {
		slices.SortFunc(recs, func(a, b countRec) int { return cmp.Compare(a.pre, b.pre) })
		return
	}
	tmp := make([]countRec, len(recs))
	src, dst := recs, tmp
	var counts [8][256]int
	for _, r := range src {
		for d := range 8 {
			counts[d][byte(r.pre>>(8*d))]++
		}
	}
	for d := range 8 {
		count := &counts[d]
		shift := uint(8 * d)
		if count[byte(src[0].pre>>shift)] == len(src) {
			continue // every record has this byte
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, r := range src {
			k := byte(r.pre >> shift)
			dst[count[k]] = r
			count[k]++
		}
		src, dst = dst, src
	}
	if &src[0] != &recs[0] {
		copy(recs, src)
	}
}

// partitions returns the indexes of the batch's records in each of
// partitions partitions (by [schema.Partition] of the key), in key order.
func (b *countBatch) partitions(partitions int) [][]int {
	out := make([][]int, partitions)
	if partitions == 1 {
		idx := make([]int, len(b.recs))
		for i := range idx {
			idx[i] = i
		}
		out[0] = idx
		return out
	}
	for i := range b.recs {
		p := schema.Partition(b.key(&b.recs[i]), partitions)
		out[p] = append(out[p], i)
	}
	return out
}
