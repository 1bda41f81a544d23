package splitter_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/jetmr/jetmr/splitter"
)

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// splitAll runs src and returns its chunks.
func splitAll(t testing.TB, src splitter.Source, chunk int64) ([]splitter.Chunk, error) {
	t.Helper()
	var got []splitter.Chunk
	err := src.Split(context.Background(), chunk, func(c splitter.Chunk) error {
		got = append(got, c)
		return nil
	})
	return got, err
}

// TestInputsSource splits standard input, a gzip file, a zstd file and a
// plain file in one source: the chunks come in input order and rebuild
// each input's (decompressed) bytes; streamed chunks carry their data,
// file ranges their path and checksum; a second split cuts the same
// chunks.
func TestInputsSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := []byte(strings.Repeat("some words on a line\nand a second line\n", 3000))
	stdin := []byte("from standard input\nsecond line\nno newline at the end")
	paths := []string{
		writeFile(t, dir, "a.txt.gz", gzipBytes(t, text)),
		splitter.Stdin,
		writeFile(t, dir, "b.txt", text),
		writeFile(t, dir, "c.ZST", zstdBytes(t, text)),
	}
	inputs, err := splitter.ResolveInputs(paths)
	if err != nil {
		t.Fatal(err)
	}
	wantKinds := []string{splitter.Gzip, "", "", splitter.Zstd}
	for i, in := range inputs {
		if in.Compression != wantKinds[i] || in.Streamed() != (i != 2) {
			t.Fatalf("input %d %s: compression %q, streamed %v", i, in.Path, in.Compression, in.Streamed())
		}
	}
	split := func() []splitter.Chunk {
		chunks, err := splitAll(t, splitter.Inputs{Inputs: inputs, Stdin: bytes.NewReader(stdin), Max: 8 << 10}, 4<<10)
		if err != nil {
			t.Fatal(err)
		}
		return chunks
	}
	chunks := split()
	var rebuilt []byte
	table := crc32.MakeTable(crc32.Castagnoli)
	for i, c := range chunks {
		switch {
		case c.Path == "":
			if len(c.Data) > 8<<10 {
				t.Fatalf("chunk %d holds %d bytes, above the 8 KiB bound", i, len(c.Data))
			}
			rebuilt = append(rebuilt, c.Data...)
		default:
			data := text[c.Offset : c.Offset+c.Length]
			if want := crc32.Checksum(data, table); !bytes.Equal(c.Sum, []byte{byte(want >> 24), byte(want >> 16), byte(want >> 8), byte(want)}) {
				t.Fatalf("chunk %d of %s: sum %x, want %08x", i, c.Path, c.Sum, want)
			}
			rebuilt = append(rebuilt, data...)
		}
	}
	want := bytes.Join([][]byte{text, stdin, text, text}, nil)
	if !bytes.Equal(rebuilt, want) {
		t.Fatalf("chunks rebuild %d bytes, want %d", len(rebuilt), len(want))
	}
	// Standard input is spent; a compressed file splits the same way again.
	again, err := splitAll(t, splitter.Inputs{Inputs: []splitter.Input{inputs[0]}}, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !bytes.Equal(again[i].Data, chunks[i].Data) {
			t.Fatalf("a second split of %s differs at chunk %d", inputs[0].Path, i)
		}
	}
}

// TestInputsSourceCorrupt checks the errors of compressed inputs that do
// not decompress: at the start, from ResolveInputs with ErrBadInput; past
// it, from Split with ErrCorrupt but not ErrBadInput (tasks have started).
func TestInputsSourceCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := bytes.Repeat([]byte("0123456789 abcdefghij\n"), 100000)
	gz := gzipBytes(t, text)
	tests := []struct {
		name      string
		file      string
		data      []byte
		atResolve bool
	}{
		{"gzip that is text", "t.gz", text[:1000], true},
		{"zstd that is text", "t.zst", text[:1000], true},
		{"empty gzip", "e.gz", nil, true},
		{"truncated gzip", "tr.gz", gz[:len(gz)/2], false},
		{"gzip with a damaged trailer", "crc.gz", append(bytes.Clone(gz[:len(gz)-8]), 1, 2, 3, 4, 5, 6, 7, 8), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, dir, tt.file, tt.data)
			inputs, err := splitter.ResolveInputs([]string{p})
			if tt.atResolve {
				if !errors.Is(err, splitter.ErrBadInput) || !errors.Is(err, splitter.ErrCorrupt) || !strings.Contains(err.Error(), p) {
					t.Fatalf("ResolveInputs = %v, want ErrBadInput and ErrCorrupt naming %s", err, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = splitAll(t, splitter.Inputs{Inputs: inputs}, 64<<10)
			if !errors.Is(err, splitter.ErrCorrupt) || errors.Is(err, splitter.ErrBadInput) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Split = %v, want ErrCorrupt (not ErrBadInput) naming %s", err, p)
			}
		})
	}
}

// FuzzStreamSplit splits arbitrary bytes given as standard input and as
// a gzip file: the chunks rebuild the bytes, end on a line unless last,
// and stay within the bound unless one line is longer (an error).
func FuzzStreamSplit(f *testing.F) {
	f.Add([]byte("a\nb\n"), int64(1))
	f.Add([]byte("no newline"), int64(3))
	f.Add([]byte("\n\n\nxx\r\n\xff"), int64(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk int64) {
		chunk = max(chunk%512, 1)
		const limit = 64
		p := writeFile(t, t.TempDir(), "in.gz", gzipBytes(t, data))
		gz, err := splitter.ResolveInputs([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		stdin := []splitter.Input{{Path: splitter.Stdin}}
		for _, src := range []splitter.Inputs{{Inputs: stdin, Stdin: bytes.NewReader(data), Max: limit}, {Inputs: gz, Max: limit}} {
			chunks, err := splitAll(t, src, chunk)
			if errors.Is(err, splitter.ErrLineTooLong) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var rebuilt []byte
			for i, c := range chunks {
				if len(c.Data) == 0 || len(c.Data) > limit {
					t.Fatalf("chunk %d holds %d bytes", i, len(c.Data))
				}
				if i < len(chunks)-1 && c.Data[len(c.Data)-1] != '\n' {
					t.Fatalf("chunk %d does not end a line", i)
				}
				rebuilt = append(rebuilt, c.Data...)
			}
			if !bytes.Equal(rebuilt, data) {
				t.Fatalf("chunks rebuild %q, want %q", rebuilt, data)
			}
		}
	})
}

// FuzzCompressedInput feeds arbitrary bytes as a .gz and a .zst file:
// resolving and splitting them may fail, with ErrCorrupt, but never
// panics or hangs.
func FuzzCompressedInput(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0})
	f.Add([]byte("plain text\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		for _, name := range []string{"f.gz", "f.zst"} {
			p := writeFile(t, dir, name, data)
			inputs, err := splitter.ResolveInputs([]string{p})
			if err != nil {
				if !errors.Is(err, splitter.ErrCorrupt) {
					t.Fatalf("ResolveInputs: %v, want ErrCorrupt", err)
				}
				continue
			}
			if _, err := splitAll(t, splitter.Inputs{Inputs: inputs}, 1024); err != nil &&
				!errors.Is(err, splitter.ErrCorrupt) && !errors.Is(err, splitter.ErrLineTooLong) {
				t.Fatalf("Split: %v, want ErrCorrupt", err)
			}
		}
	})
}
