package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
)

// genSeed seeds every generated input, so that two runs of the bench (and
// two files of the same size) hold the same text.
const genSeed = 20240601

// vocabSize is the number of words the generated text draws from.
const vocabSize = 5000

// zipfBits sizes the table words are drawn through: 1<<zipfBits entries.
const zipfBits = 16

// commonWords are real English words at the top of the frequency ranking,
// so that the text starts to look like English.
var commonWords = []string{
	"the", "of", "and", "to", "a", "in", "is", "it", "you", "that",
	"he", "was", "for", "on", "are", "with", "as", "i", "his", "they",
	"be", "at", "one", "have", "this", "from", "or", "had", "by", "not",
	"word", "but", "what", "some", "we", "can", "out", "other", "were", "all",
}

// Syllable parts of the generated words.
var (
	onsets = []string{"", "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "y", "z",
		"br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "str", "th", "tr", "wh"}
	nuclei = []string{"a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "ie", "oo", "ou"}
	codas  = []string{"", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "st", "ck", "rt", "ll", "ss", "th"}
)

// vocabulary returns vocabSize distinct lower-case words, the most frequent
// first: real common words, then generated ones, shorter before longer.
func vocabulary(r *rand.Rand) []string {
	seen := make(map[string]bool, vocabSize)
	words := make([]string, 0, vocabSize)
	for _, w := range commonWords {
		seen[w] = true
		words = append(words, w)
	}
	var gen []string
	for len(words)+len(gen) < vocabSize {
		syllables := 1 + r.IntN(2) + r.IntN(2) + r.IntN(2)*r.IntN(2)
		var w []byte
		for range syllables {
			w = append(w, onsets[r.IntN(len(onsets))]...)
			w = append(w, nuclei[r.IntN(len(nuclei))]...)
			w = append(w, codas[r.IntN(len(codas))]...)
		}
		if s := string(w); !seen[s] {
			seen[s] = true
			gen = append(gen, s)
		}
	}
	slices.SortStableFunc(gen, func(a, b string) int { return len(a) - len(b) })
	return append(words, gen...)
}

// zipfTable maps a uniform 16-bit number to a word rank with probability
// proportional to 1/(rank+1) (Zipf's law with s = 1). Every word gets at
// least one entry, so every word of the vocabulary can appear.
func zipfTable(n int) []uint16 {
	const size = 1 << zipfBits
	var h float64
	for k := range n {
		h += 1 / float64(k+1)
	}
	counts := make([]int, n)
	spare := size - n // entries left once every word has one
	total := 0
	for k := range n {
		counts[k] = 1 + int(float64(spare)/(float64(k+1)*h))
		total += counts[k]
	}
	for k := 0; total < size; k = (k + 1) % n {
		counts[k]++
		total++
	}
	table := make([]uint16, 0, size)
	for k, c := range counts {
		for range c {
			table = append(table, uint16(k))
		}
	}
	return table
}

// generateText writes English-like text of at least size bytes (it stops at
// the first line end past size) to path, streaming: lines of 5-20 words
// drawn from [vocabulary] through [zipfTable], the first word capitalised,
// an occasional comma, a full stop at the end. The same size gives the same
// bytes. It returns the number of bytes written.
func generateText(path string, size int64) (int64, error) {
	r := rand.New(rand.NewPCG(genSeed, genSeed^0x9e3779b97f4a7c15))
	words := vocabulary(r)
	table := zipfTable(len(words))

	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("generate %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	line := make([]byte, 0, 512)
	var bits uint64
	var left int // 16-bit draws left in bits
	draw := func() int {
		if left == 0 {
			bits, left = r.Uint64(), 4
		}
		v := int(bits & 0xffff)
		bits >>= 16
		left--
		return v
	}
	for written < size {
		line = line[:0]
		n := 5 + r.IntN(16)
		for i := range n {
			word := words[table[draw()]]
			start := len(line)
			line = append(line, word...)
			if i == 0 && 'a' <= line[start] && line[start] <= 'z' {
				line[start] -= 'a' - 'A'
			}
			switch {
			case i == n-1:
				line = append(line, '.', '\n')
			case draw() < 1<<16/12:
				line = append(line, ',', ' ')
			default:
				line = append(line, ' ')
			}
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return written, fmt.Errorf("generate %s: %w", path, err)
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return written, fmt.Errorf("generate %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return written, fmt.Errorf("generate %s: %w", path, err)
	}
	return written, nil
}
