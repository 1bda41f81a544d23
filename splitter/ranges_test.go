package splitter_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// generators make the contents of the files of the property test.
var generators = []struct {
	name string
	gen  func(r *rand.Rand) []byte
}{
	{"empty", func(*rand.Rand) []byte { return nil }},
	{"one newline", func(*rand.Rand) []byte { return []byte("\n") }},
	{"one byte", func(*rand.Rand) []byte { return []byte("x") }},
	{"only newlines", func(*rand.Rand) []byte { return bytes.Repeat([]byte("\n"), 70_000) }},
	{"one huge line", func(r *rand.Rand) []byte { return randomLine(r, 300_000) }},
	{"one huge line and newline", func(r *rand.Rand) []byte { return append(randomLine(r, 200_000), '\n') }},
	{"short lines", func(r *rand.Rand) []byte { return randomLines(r, 3000, 20, "\n", true) }},
	{"short lines no final newline", func(r *rand.Rand) []byte { return randomLines(r, 3000, 20, "\n", false) }},
	{"CRLF lines", func(r *rand.Rand) []byte { return randomLines(r, 2000, 50, "\r\n", true) }},
	{"mixed with long lines", func(r *rand.Rand) []byte { return mixedLines(r, 400) }},
	{"invalid UTF-8", func(r *rand.Rand) []byte { return randomBytes(r, 150_000) }},
}

// chunkSizes are the chunk sizes of the property test; -1 and -2 stand
// for one byte more and twice more than the file.
var chunkSizes = []int64{1, 2, 7, 100, 4096, 65536, 100_000, -1, -2}

func TestRangesReassemble(t *testing.T) {
	t.Parallel()
	for gi, g := range generators {
		for seed := range uint64(3) {
			data := g.gen(rand.New(rand.NewPCG(uint64(gi), seed)))
			for _, chunk := range chunkSizes {
				if chunk < 0 {
					chunk = int64(len(data)) * -chunk
					chunk = max(chunk, 1)
				}
				t.Run(fmt.Sprintf("%s/seed%d/chunk%d", g.name, seed, chunk), func(t *testing.T) {
					t.Parallel()
					if err := checkRanges(data, splitOne(t, data, chunk), chunk); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
}

func TestRangesExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		data  string
		chunk int64
		want  [][2]int64 // offset, length
	}{
		{"", 1, nil},
		{"a\nbb\nccc\n", 1, [][2]int64{{0, 2}, {2, 3}, {5, 4}}},
		{"a\nbb\nccc\n", 3, [][2]int64{{0, 5}, {5, 4}}},
		{"a\nbb\nccc\n", 5, [][2]int64{{0, 5}, {5, 4}}},
		{"a\nbb\nccc\n", 6, [][2]int64{{0, 9}}},
		{"a\nbb\nccc", 2, [][2]int64{{0, 2}, {2, 3}, {5, 3}}},
		{"\n\n\n", 1, [][2]int64{{0, 1}, {1, 1}, {2, 1}}},
		{"\n\n\n", 2, [][2]int64{{0, 2}, {2, 1}}},
		{"long line\nx\n", 2, [][2]int64{{0, 10}, {10, 2}}},
		{"a\r\nb\r\n", 1, [][2]int64{{0, 3}, {3, 3}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.data, tt.chunk), func(t *testing.T) {
			t.Parallel()
			var got [][2]int64
			for _, r := range splitOne(t, []byte(tt.data), tt.chunk) {
				got = append(got, [2]int64{r.Offset, r.Length})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ranges = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRangesManyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	contents := []string{"a\nb\n", "", "no newline", "x\ny\nz\n"}
	var paths []string
	for i, c := range contents {
		paths = append(paths, writeFile(t, dir, fmt.Sprintf("f%d", i), []byte(c)))
	}
	inputs, err := splitter.ResolveInputs(paths)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]splitter.Range{}
	var order []string
	for _, r := range collect(t, inputs, 2) {
		if len(order) == 0 || order[len(order)-1] != r.Path {
			order = append(order, r.Path)
		}
		byPath[r.Path] = append(byPath[r.Path], r)
	}
	if want := []string{inputs[0].Path, inputs[2].Path, inputs[3].Path}; !reflect.DeepEqual(order, want) {
		t.Errorf("files yielded in order %q, want %q (each once, empty skipped)", order, want)
	}
	for i, in := range inputs {
		if err := checkRanges([]byte(contents[i]), byPath[in.Path], 2); err != nil {
			t.Errorf("file %d: %v", i, err)
		}
	}
}

func TestRangesIgnoresAppendedBytes(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "grows", []byte("a\nb\n"))
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("a\nb\nappended\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkRanges([]byte("a\nb\n"), collect(t, inputs, 1), 1); err != nil {
		t.Error(err)
	}
}

func TestRangesInputChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(p string) error
		contains string
	}{
		{"shrank", func(p string) error { return os.Truncate(p, 10) }, "changed while being split"},
		{"removed", os.Remove, "cannot be opened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, t.TempDir(), "input", bytes.Repeat([]byte("line\n"), 100))
			inputs, err := splitter.ResolveInputs([]string{p})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.change(p); err != nil {
				t.Fatal(err)
			}
			err = splitter.Ranges(context.Background(), inputs, 7, func(splitter.Range) error { return nil })
			if !errors.Is(err, splitter.ErrBadInput) || !strings.Contains(err.Error(), tt.contains) ||
				!strings.Contains(err.Error(), p) {
				t.Errorf("Ranges error = %v, want an ErrBadInput naming %q and saying %q", err, p, tt.contains)
			}
		})
	}
}

func TestRangesCancellation(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "input", bytes.Repeat([]byte("line\n"), 100))
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cancelAt  int // cancel while yielding this range; 0 cancels before
		wantCalls int
	}{
		{"before", 0, 0},
		{"during", 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelAt == 0 {
				cancel()
			}
			calls := 0
			err := splitter.Ranges(ctx, inputs, 5, func(splitter.Range) error {
				calls++
				if calls == tt.cancelAt {
					cancel()
				}
				return nil
			})
			if err != context.Canceled || calls != tt.wantCalls {
				t.Errorf("Ranges = %v after %d calls, want %v after %d", err, calls, context.Canceled, tt.wantCalls)
			}
		})
	}
}

func TestRangesYieldError(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "input", []byte("a\nb\nc\n"))
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = splitter.Ranges(context.Background(), inputs, 1, func(splitter.Range) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("Ranges = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func TestRangesBadChunkSizePanics(t *testing.T) {
	t.Parallel()
	for _, chunk := range []int64{0, -1, -1 << 62} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("Ranges with chunk size %d did not panic", chunk)
				}
			}()
			_ = splitter.Ranges(context.Background(), nil, chunk, func(splitter.Range) error { return nil })
		})
	}
}

func FuzzRanges(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), int64(1))
	f.Add([]byte("a\r\nb\r\n\xff\xfe"), int64(3))
	f.Add([]byte("\n\n\n\n"), int64(2))
	f.Add([]byte(""), int64(5))
	f.Add(bytes.Repeat([]byte("x"), 70_000), int64(100))
	f.Add(bytes.Repeat([]byte("0123456789\n"), 7000), int64(65536))
	f.Fuzz(func(t *testing.T, data []byte, chunk int64) {
		chunk = 1 + abs(chunk)%(int64(len(data))+2)
		if err := checkRanges(data, splitOne(t, data, chunk), chunk); err != nil {
			t.Errorf("chunk %d: %v", chunk, err)
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -(n + 1) // no overflow for math.MinInt64
	}
	return n
}

func BenchmarkRanges(b *testing.B) {
	const size = 64 << 20
	p := writeFile(b, b.TempDir(), "input", nil)
	writeLines(b, p, size)
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		b.Fatal(err)
	}
	for _, chunk := range []int64{4 << 10, splitter.MinDefaultChunk, splitter.MaxDefaultChunk} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				err := splitter.Ranges(context.Background(), inputs, chunk, func(splitter.Range) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// writeLines writes about size bytes of random text lines to p.
func writeLines(b *testing.B, p string, size int) {
	b.Helper()
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(1, 2))
	for written := 0; written < size; {
		line := append(randomLine(r, r.IntN(200)), '\n')
		n, _ := w.Write(line[:min(len(line), size-written)])
		written += n
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// randomLine returns n random printable bytes without a newline.
func randomLine(r *rand.Rand, n int) []byte {
	line := make([]byte, n)
	for i := range line {
		line[i] = byte(' ' + r.IntN('~'-' '+1))
	}
	return line
}

// randomLines returns n lines of random lengths below maxLen, ending in
// eol, with or without the final eol.
func randomLines(r *rand.Rand, n, maxLen int, eol string, final bool) []byte {
	var buf bytes.Buffer
	for i := range n {
		buf.Write(randomLine(r, r.IntN(maxLen)))
		if final || i < n-1 {
			buf.WriteString(eol)
		}
	}
	return buf.Bytes()
}

// mixedLines returns n lines, mostly short, some empty, some far longer
// than the chunk sizes and the read buffer.
func mixedLines(r *rand.Rand, n int) []byte {
	var buf bytes.Buffer
	for range n {
		switch r.IntN(10) {
		case 0:
		case 1:
			buf.Write(randomLine(r, 65536+r.IntN(70_000)))
		default:
			buf.Write(randomLine(r, r.IntN(120)))
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// randomBytes returns n random bytes, invalid UTF-8 included, with a
// newline about every 50 bytes.
func randomBytes(r *rand.Rand, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.UintN(256))
		if r.IntN(50) == 0 {
			data[i] = '\n'
		}
	}
	return data
}

// TestRangesChecksum checks each range's CRC against the CRC-32C of its
// bytes, with ranges smaller and larger than the read window.
func TestRangesChecksum(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("a line of text\nand another, longer line of text\n"), 10000)
	table := crc32.MakeTable(crc32.Castagnoli)
	for _, chunk := range []int64{1, 100, 64 << 10, 200 << 10, 1 << 20} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			t.Parallel()
			ranges := splitOne(t, data, chunk)
			for i, r := range ranges {
				if want := crc32.Checksum(data[r.Offset:r.Offset+r.Length], table); r.CRC != want {
					t.Fatalf("range %d %+v: CRC %08x, want %08x", i, r, r.CRC, want)
				}
			}
		})
	}
}
