package mapper

import (
	"context"
	"errors"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// pairList is an Emitter that records every pair.
type pairList struct{ pairs [][2]string }

func (l *pairList) Emit(key, value []byte) error {
	l.pairs = append(l.pairs, [2]string{string(key), string(value)})
	return nil
}

// wordcountMap runs Wordcount on input and returns its counts, failing the
// test if a word is emitted twice or a count is not a positive integer.
func wordcountMap(t testing.TB, input []byte) map[string]int64 {
	t.Helper()
	var l pairList
	if err := Wordcount(context.Background(), input, &l); err != nil {
		t.Fatalf("Wordcount(%q): %v", input, err)
	}
	got := make(map[string]int64)
	for _, p := range l.pairs {
		if _, dup := got[p[0]]; dup {
			t.Fatalf("Wordcount(%q) emitted %q twice", input, p[0])
		}
		n, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil || n < 1 {
			t.Fatalf("Wordcount(%q) emitted %q with count %q", input, p[0], p[1])
		}
		got[p[0]] = n
	}
	return got
}

// referenceWordcount is the obvious implementation: invalid bytes become
// spaces, strings.FieldsFunc splits, and strings.Map lower-cases.
func referenceWordcount(input []byte) map[string]int64 {
	var sb strings.Builder
	for b := input; len(b) > 0; {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			r = ' '
		}
		sb.WriteRune(r)
		b = b[size:]
	}
	counts := make(map[string]int64)
	notWord := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	for _, w := range strings.FieldsFunc(sb.String(), notWord) {
		counts[strings.Map(unicode.ToLower, w)]++
	}
	return counts
}

func TestWordcount(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]int64
	}{
		{"", map[string]int64{}},
		{"\n\n  \t", map[string]int64{}},
		{"The cat, the CAT and tHe dog.\n", map[string]int64{"the": 3, "cat": 2, "and": 1, "dog": 1}},
		{"abc123 X9 x9 2024-01-02", map[string]int64{"abc123": 1, "x9": 2, "2024": 1, "01": 1, "02": 1}},
		{"don't stop_me-now! (ok?) [yes]", map[string]int64{"don": 1, "t": 1, "stop": 1, "me": 1, "now": 1, "ok": 1, "yes": 1}},
		{"Élan élan ÉLAN straße STRASSE", map[string]int64{"élan": 3, "straße": 1, "strasse": 1}},
		{"naïve café—crème", map[string]int64{"naïve": 1, "café": 1, "crème": 1}},
		{"日本語 テキスト 日本語", map[string]int64{"日本語": 2, "テキスト": 1}},
		{"ab\xffcd", map[string]int64{"ab": 1, "cd": 1}},
		{"\xc3\xa9\xc3", map[string]int64{"é": 1}},
		{"ab\uFFFDcd \uFFFD", map[string]int64{"ab": 1, "cd": 1}},
		{"one two\r\nTwo three\r\nthree THREE\r\n", map[string]int64{"one": 1, "two": 2, "three": 3}},
		{"no final newline", map[string]int64{"no": 1, "final": 1, "newline": 1}},
		{"ΑΒΓ αβγ Σίσυφος", map[string]int64{"αβγ": 2, "σίσυφος": 1}},
		{"٣٤ ١٢٣", map[string]int64{"٣٤": 1, "١٢٣": 1}}, // Arabic-Indic digits
		{"ABCdef GHI", map[string]int64{"abcdef": 1, "ghi": 1}},
		{"abcDEF\xe2\x80\x94x", map[string]int64{"abcdef": 1, "x": 1}},
	}
	for _, tt := range tests {
		got := wordcountMap(t, []byte(tt.in))
		if !maps.Equal(got, tt.want) {
			t.Errorf("Wordcount(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if ref := referenceWordcount([]byte(tt.in)); !maps.Equal(ref, tt.want) {
			t.Errorf("reference(%q) = %v, want %v (bad test case?)", tt.in, ref, tt.want)
		}
	}
}

func TestWordcountRandomMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		in := randomText(rng, rng.IntN(200))
		if got, want := wordcountMap(t, in), referenceWordcount(in); !maps.Equal(got, want) {
			t.Fatalf("Wordcount(%q) = %v, want %v", in, got, want)
		}
	}
}

// randomText mixes ASCII, accented, CJK, odd Unicode and invalid bytes.
func randomText(rng *rand.Rand, n int) []byte {
	pieces := []string{"a", "Z", "q", "7", " ", "\n", "\r\n", ",", "-", "'", "é", "É", "ß", "ẞ", "İ", "ı",
		"Σ", "ς", "日", "本", "\uFFFD", "\xff", "\xc3", "\xe2\x80", "\u0301", "٣", "Ⅻ", "ǅ", "\x00", "🙂"}
	var b []byte
	for range n {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return b
}

func TestWordcountContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Wordcount(ctx, []byte("some words"), &pairList{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

type failEmitter struct{ err error }

func (f failEmitter) Emit(key, value []byte) error { return f.err }

func TestWordcountEmitError(t *testing.T) {
	boom := errors.New("boom")
	if err := Wordcount(context.Background(), []byte("x"), failEmitter{boom}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

func FuzzWordcount(f *testing.F) {
	for _, s := range []string{"", "Hello, World", "Élan élan", "ab\xffcd", "日本語", "a\uFFFDb", "İSTANBUL ǅ", "x\r\ny"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := wordcountMap(t, in), referenceWordcount(in); !maps.Equal(got, want) {
			t.Fatalf("Wordcount(%q) = %v, want %v", in, got, want)
		}
	})
}

// englishText generates about n bytes of English-like text: Zipf-distributed
// words, some capitalized, with punctuation and lines of ~70 bytes.
func englishText(n int) []byte {
	rng := rand.New(rand.NewPCG(42, 42))
	common := strings.Fields(`the of and to a in is you that it he was for on are as with his they I at be
		this have from or one had by word but not what all were we when your can said there use an each
		which she do how their if will up other about out many then them these so some her would make like
		him into time has look two more write go see number no way could people my than first water been
		call who oil its now find long down day did get come made may part over new sound take only little
		work know place year live me back give most very after thing our just name good sentence man think
		say great where help through much before line right too mean old any same tell boy follow came want
		show also around form three small set put end does another well large must big even such because`)
	// A long tail of rarer made-up words.
	letters := "etaoinshrdlucmfwypvbgkjqxz"
	rare := make([]string, 20000)
	for i := range rare {
		w := make([]byte, 3+rng.IntN(8))
		for j := range w {
			w[j] = letters[min(rng.IntN(len(letters)), rng.IntN(len(letters)))]
		}
		rare[i] = string(w)
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(rare)-1))
	b := make([]byte, 0, n+100)
	line := 0
	for len(b) < n {
		var w string
		if rng.IntN(3) > 0 {
			w = common[rng.IntN(len(common))]
		} else {
			w = rare[zipf.Uint64()]
		}
		if rng.IntN(12) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b = append(b, w...)
		line += len(w) + 1
		switch {
		case line > 70:
			b = append(b, ".\n"...)
			line = 0
		case rng.IntN(15) == 0:
			b = append(b, ", "...)
		default:
			b = append(b, ' ')
		}
	}
	return b
}

type discard struct{}

func (discard) Emit(key, value []byte) error { return nil }

func BenchmarkWordcount(b *testing.B) {
	text := englishText(16 << 20)
	ctx := context.Background()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Wordcount(ctx, text, discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWordcountLengthsAndAlignments covers the 8-byte scanning and hashing
// with words of every length up to 40 at every alignment, ending at the
// chunk's end or not.
func TestWordcountLengthsAndAlignments(t *testing.T) {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for l := 1; l <= 40; l++ {
		w := []byte(strings.Repeat(letters, 2)[l%len(letters):][:l])
		for off := range 10 {
			for _, tail := range []string{"", " ", ".\n", "É", "\xff"} {
				in := []byte(strings.Repeat(" ", off) + string(w) + " " + strings.ToLower(string(w)) + "," + string(w) + tail)
				if got, want := wordcountMap(t, in), referenceWordcount(in); !maps.Equal(got, want) {
					t.Fatalf("Wordcount(%q) = %v, want %v", in, got, want)
				}
			}
		}
	}
}

// TestWordcountManyWords makes the table grow.
func TestWordcountManyWords(t *testing.T) {
	var b []byte
	for i := range 60000 {
		b = fmt.Appendf(b, "w%d x%dyz%d ", i%20000, i%7, i)
	}
	got, want := wordcountMap(t, b), referenceWordcount(b)
	if !maps.Equal(got, want) {
		t.Fatalf("got %d words, want %d", len(got), len(want))
	}
}

// TestWordcountIntoCombiners checks the counts Wordcount leaves in a
// combiner, summing (counted straight into its table) or counting (one
// pair per distinct word), against the reference.
func TestWordcountIntoCombiners(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		in := randomText(rng, rng.IntN(400))
		want := referenceWordcount(in)
		for _, f := range []fold.Fold{fold.Sum, fold.Count} {
			c := NewCombiner(f)
			if err := Wordcount(context.Background(), in, c); err != nil {
				t.Fatal(err)
			}
			runs, err := c.Runs(2)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, run := range runs {
				for _, p := range run {
					n, err := strconv.ParseInt(string(p.Value), 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					got[string(p.Key)] = n
				}
			}
			wantF := maps.Clone(want)
			if f == fold.Count {
				for w := range wantF {
					wantF[w] = 1 // a chunk emits each distinct word once
				}
			}
			if !maps.Equal(got, wantF) {
				t.Fatalf("%s: Wordcount(%q) left %v, want %v", f.Name(), in, got, wantF)
			}
		}
	}
}

// BenchmarkWordcountCombiner measures Wordcount into the combiner of a
// job, as a map task runs it: English-like text (few distinct words) and
// log-like ids (a new key every few words).
func BenchmarkWordcountCombiner(b *testing.B) {
	var ids []byte
	for i := range 400000 {
		ids = fmt.Appendf(ids, "u%07d\n", (i*7919)%200000)
	}
	for _, in := range []struct {
		name string
		text []byte
	}{{"english", englishText(4 << 20)}, {"ids", ids}} {
		for _, f := range []fold.Fold{fold.Sum, fold.Count} {
			b.Run(in.name+"/"+f.Name(), func(b *testing.B) {
				b.SetBytes(int64(len(in.text)))
				for b.Loop() {
					c := NewCombiner(f)
					if err := Wordcount(context.Background(), in.text, c); err != nil {
						b.Fatal(err)
					}
					if _, err := c.EncodeRuns(1); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestWordcountSwitchesToCombiner checks chunks large enough for Wordcount
// to decide whether to count straight into a summing combiner: ids
// (mostly distinct, it switches) and prose (it does not), with a few
// upper-case and non-ASCII words, against the reference.
func TestWordcountSwitchesToCombiner(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var ids []byte
	for i := range 60000 {
		ids = fmt.Appendf(ids, "u%07d ", rng.IntN(50000))
		if i%1000 == 0 {
			ids = append(ids, "Ünïcode ID "...)
		}
	}
	for _, in := range [][]byte{ids, englishText(1 << 20), append(englishText(200<<10), ids...)} {
		want := referenceWordcount(in)
		c := NewCombiner(fold.Sum)
		if err := Wordcount(context.Background(), in, c); err != nil {
			t.Fatal(err)
		}
		runs, err := c.Runs(1)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, p := range runs[0] {
			n, err := strconv.ParseInt(string(p.Value), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			got[string(p.Key)] = n
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%d bytes: %d words, want %d", len(in), len(got), len(want))
		}
	}
}
