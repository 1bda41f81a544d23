package mapper

import (
	"context"
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"github.com/jetmr/jetmr/fold"
)

// Byte classes of the word scanner.
const (
	clsSep   = iota // an ASCII byte that is not part of a word
	clsLower        // an ASCII lower-case letter or digit: part of a word as is
	clsUpper        // an ASCII upper-case letter: part of a word once lower-cased
	clsHigh         // a byte >= 0x80: decode the rune to know
)

// byteClass and asciiLower drive the ASCII fast path of [Wordcount].
var byteClass, asciiLower [256]byte

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 0x80:
			byteClass[c] = clsHigh
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			byteClass[c], asciiLower[c] = clsLower, byte(c)
		case 'A' <= c && c <= 'Z':
			byteClass[c], asciiLower[c] = clsUpper, byte(c+'a'-'A')
		}
	}
}

// notLowerWord returns a mask of v, 8 bytes of input, with the high bit set
// in each byte that is not an ASCII lower-case letter or digit and all other
// bits clear. The sums work on the low 7 bits of each byte and never carry
// into the next byte.
func notLowerWord(v uint64) uint64 {
	const (
		lsb = 0x0101010101010101
		msb = 0x8080808080808080
	)
	x := v &^ msb
	lower := (x + (0x80-'a')*lsb) &^ (x + (0x7f-'z')*lsb)
	digit := (x + (0x80-'0')*lsb) &^ (x + (0x7f-'9')*lsb)
	return ^((lower | digit) &^ v) & msb
}

// ctxCheckBytes is how often, in bytes of input, Wordcount checks ctx.
const ctxCheckBytes = 4 << 20

// isWordRune reports whether r belongs to a word. utf8.RuneError is not a
// letter, so invalid bytes and a real U+FFFD both separate words.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Wordcount is the built-in "wordcount" map function. A word is a maximal
// run of Unicode letters and digits, lower-cased rune by rune; anything else,
// including invalid UTF-8, separates words. It counts the words of the chunk
// itself (combining map-side) and emits each distinct word once, in no
// particular order, with its count as decimal text.
func Wordcount(ctx context.Context, chunk []byte, emit Emitter) error {
	// Capping chunk's capacity keeps wordTable's 8-byte loads inside it.
	chunk = chunk[:len(chunk):len(chunk)]
	table := newWordTable(len(chunk))
	var wc wordCounter = table
	// A combiner that sums may take the words straight (into its table,
	// or, with the default key order, sorted: see sortCounter) once the
	// chunk turns out to hold mostly distinct words (ids, not prose),
	// rather than count them twice.
	sum, _ := emit.(*Combiner)
	if sum != nil && sum.fold != fold.Sum {
		sum = nil
	}
	switchAt := -1
	if sum != nil && len(chunk) > 2*directProbe {
		switchAt = directProbe
	}
	if sum != nil {
		// Within the combiner's bounds: a word table that would pass them
		// hands its counts over and the words go straight to the
		// combiner, which spills as it fills.
		table.limit = sum.cfg.Limit / 2
		if slots := len(table.slots); table.limit > 0 && 3*table.size() > table.limit {
			for slots > 1<<minWordTableBits && 3*int64(slots)*wordSlotBytes > table.limit {
				slots /= 2
			}
			table.slots, table.shift = make([]wordSlot, slots), 64-uint(bits.Len(uint(slots))-1)
		}
	}
	i := 0 // the scan's position in chunk
	// overflow moves the counts of a full table to the combiner, which
	// keeps room for the table meanwhile.
	overflow := func() error {
		sum.reserve = table.size()
		err := table.emit(emit)
		sum.reserve = 0
		if err != nil {
			return err
		}
		table.full, table.slots, table.arena = false, nil, nil
		wc = &sumCounter{c: sum}
		switchAt = -1
		return nil
	}
	if sum != nil && sum.keys.Default() {
		// Mostly distinct words are counted by sorting (see sortCounter),
		// which takes the word table's counts first.
		overflow = func() error {
			// Sized for the words of the rest of the chunk, at the rate
			// met so far.
			rest := len(chunk) - i
			words := table.used + int(float64(table.adds)*float64(rest)/float64(max(i, 1))*1.05)
			sc := newSortCounter(sum, sum.cfg.Limit/2, words, len(table.arena)+rest)
			sc.takeWords(table)
			table.full = false
			wc = sc
			switchAt = -1
			return sc.err
		}
	}
	scratch := make([]byte, 0, 64)
	n := len(chunk)
	nextCheck := 0
	for i < n {
		c := chunk[i]
		cls := byteClass[c]
		if cls == clsSep {
			i++
			continue
		}
		if i >= nextCheck {
			if err := ctx.Err(); err != nil {
				return err
			}
			nextCheck = i + ctxCheckBytes
			if switchAt >= 0 && i >= switchAt {
				switchAt = -1
				if 2*table.used > table.adds { // mostly distinct words
					if err := overflow(); err != nil {
						return err
					}
				}
			} else if switchAt >= 0 {
				nextCheck = min(nextCheck, switchAt)
			}
		}
		start := i
		if cls == clsHigh {
			r, size := utf8.DecodeRune(chunk[i:])
			if !isWordRune(r) {
				i += size
				continue
			}
		} else {
			// Fast path: a word of lower-case ASCII letters and digits is
			// counted straight from the chunk, without copying.
			// Eight bytes at a time while they last; w0 keeps the first
			// eight, the word's head if it is a lower-case ASCII word.
			var w0 uint64
			if i+8 <= n {
				w0 = binary.LittleEndian.Uint64(chunk[i:])
				v := w0
				for {
					if m := notLowerWord(v); m != 0 {
						i += bits.TrailingZeros64(m) >> 3
						break
					}
					i += 8
					if i+8 > n {
						break
					}
					v = binary.LittleEndian.Uint64(chunk[i:])
				}
			}
			for i < n && byteClass[chunk[i]] == clsLower {
				i++
			}
			if i == n || byteClass[chunk[i]] == clsSep {
				if w := chunk[start:i]; start+8 <= n {
					wc.add(w, maskHead(w0, len(w)))
				} else {
					wc.add(w, head(w))
				}
				if table.full {
					if err := overflow(); err != nil {
						return err
					}
				}
				continue
			}
		}
		// Slow path: the word has upper-case or non-ASCII letters; lower-case
		// it into scratch.
		scratch = append(scratch[:0], chunk[start:i]...)
		for i < n {
			c := chunk[i]
			if c < utf8.RuneSelf {
				l := asciiLower[c]
				if l == 0 {
					break
				}
				scratch = append(scratch, l)
				i++
				continue
			}
			r, size := utf8.DecodeRune(chunk[i:])
			if !isWordRune(r) {
				break
			}
			scratch = utf8.AppendRune(scratch, unicode.ToLower(r))
			i += size
		}
		wc.add(scratch, head(scratch))
		if table.full {
			if err := overflow(); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return wc.emit(emit)
}

// directProbe is how many bytes of a chunk Wordcount reads before it
// decides whether to count straight into a summing combiner.
const directProbe = 64 << 10

// wordCounter counts the words of [Wordcount].
type wordCounter interface {
	// add counts one occurrence of w, which is not empty and has head w0.
	add(w []byte, w0 uint64)
	// emit hands the counts to e.
	emit(e Emitter) error
}

// sumCounter counts words in the table of a combiner that sums: adding 1
// per occurrence is what summing the counts of a word table would give.
type sumCounter struct {
	c   *Combiner
	err error
}

func (s *sumCounter) add(w []byte, _ uint64) {
	if s.err != nil {
		return
	}
	s.err = s.c.EmitInt(w, 1)
}

func (s *sumCounter) emit(Emitter) error { return s.err }
