package splitter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// remoteCases are the record kinds that Remote cuts.
var remoteCases = []struct {
	name string
	rec  splitter.Records
}{
	{"lines", splitter.Records{}},
	{"nul", splitter.Records{End: "\x00"}},
	{"recend", splitter.Records{End: "--\n"}},
	{"recend recstart", splitter.Records{End: "\n", Start: ">"}},
	{"header", splitter.Records{Header: 2}},
	{"header recend", splitter.Records{Header: 1, End: "||"}},
}

// checkRemoteTiles cuts data as Remote does, with chunk size chunk, moves
// each range's ends with Boundary as a worker does and checks that the
// ranges so moved hold the input after its header exactly once, in order,
// and that each ends where the file splitter may end a range.
func checkRemoteTiles(t *testing.T, rec splitter.Records, data []byte, chunk int64) {
	t.Helper()
	ctx := context.Background()
	p := writeFile(t, t.TempDir(), "input", data)
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	in := inputs[0]
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Every record boundary, as the file splitter finds them.
	ends := map[int64]bool{in.Size: true}
	err = splitter.RangesOf(ctx, inputs, rec, 1, func(r splitter.Range) error {
		ends[r.Offset], ends[r.Offset+r.Length] = true, true
		return nil
	})
	src := splitter.Remote{Inputs: inputs, Records: rec, Open: func(context.Context, splitter.Input) io.ReaderAt { return f }}
	if errors.Is(err, splitter.ErrBadInput) {
		// A header too long: refused alike.
		if err := src.Split(ctx, chunk, func(splitter.Chunk) error { return nil }); !errors.Is(err, splitter.ErrMalformed) {
			t.Errorf("Remote.Split = %v, want ErrMalformed like RangesOf", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	header, _, err := splitter.ReadHeader(ctx, f, in, rec)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	next := int64(-1)
	err = src.Split(ctx, chunk, func(c splitter.Chunk) error {
		if !bytes.Equal(c.Header, header) {
			t.Errorf("chunk at %d has header %q, want %q", c.Offset, c.Header, header)
		}
		if next >= 0 && c.Offset != next {
			t.Errorf("chunk at %d follows one that ends at %d", c.Offset, next)
		}
		next = c.Offset + c.Length
		start, err := splitter.Boundary(ctx, f, in, rec, c.Offset)
		if err != nil {
			return err
		}
		end, err := splitter.Boundary(ctx, f, in, rec, c.Offset+c.Length)
		if err != nil {
			return err
		}
		if !ends[start] || !ends[end] {
			t.Errorf("chunk %d+%d moves to %d-%d, not record boundaries", c.Offset, c.Length, start, end)
		}
		if end > start {
			got.Write(data[start:end])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := data[len(header):]; !bytes.Equal(got.Bytes(), want) {
		t.Errorf("the ranges hold %q, want %q", got.Bytes(), want)
	}
}

func TestRemoteTiles(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), 200<<10) // longer than a read window
	inputs := [][]byte{
		[]byte("a\nbb\nccc\n"),
		[]byte("no final newline\nlast"),
		[]byte("\n\n\n"),
		[]byte("h1\nh2\n>r1\nmore\n--\n>r2\x00x||y||--\n"),
	}
	for _, tc := range remoteCases {
		for _, data := range inputs {
			for _, chunk := range []int64{1, 2, 3, 5, 64, 1 << 20} {
				checkRemoteTiles(t, tc.rec, data, chunk)
			}
		}
		// Each range inside a long record reads to its end: few of them.
		data := append(append([]byte("short\n"), long...), "\nafter\n"...)
		for _, chunk := range []int64{60 << 10, 100 << 10, 1 << 20} {
			checkRemoteTiles(t, tc.rec, data, chunk)
		}
	}
}

func TestRemoteRefusesCSV(t *testing.T) {
	t.Parallel()
	src := splitter.Remote{Inputs: []splitter.Input{{Path: "s3://b/k", Size: 10}}, Records: splitter.Records{Format: splitter.FormatCSV}}
	err := src.Split(context.Background(), 4, func(splitter.Chunk) error { return nil })
	if !errors.Is(err, splitter.ErrBadInput) {
		t.Fatalf("Split of CSV = %v, want ErrBadInput", err)
	}
}

func TestRemoteResumesAfter(t *testing.T) {
	t.Parallel()
	in := splitter.Input{Path: "s3://b/k", Size: 10}
	src := splitter.Remote{Inputs: []splitter.Input{in, {Path: "s3://b/l", Size: 3}}}
	var got []splitter.Chunk
	err := src.SplitSized(context.Background(), &splitter.Chunk{Path: "s3://b/k", Offset: 0, Length: 4}, func() int64 { return 4 },
		func(c splitter.Chunk) error { got = append(got, c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []splitter.Chunk{{Path: "s3://b/k", Offset: 4, Length: 4}, {Path: "s3://b/k", Offset: 8, Length: 2}, {Path: "s3://b/l", Offset: 0, Length: 3}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Offset != want[i].Offset || got[i].Length != want[i].Length {
			t.Errorf("chunk %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	err = src.SplitSized(context.Background(), &splitter.Chunk{Path: "s3://b/other", Length: 1}, func() int64 { return 4 },
		func(splitter.Chunk) error { return nil })
	if !errors.Is(err, splitter.ErrBadInput) {
		t.Errorf("a checkpoint of another input = %v, want ErrBadInput", err)
	}
}

func FuzzRemoteTiles(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), uint16(2), uint8(0))
	f.Add([]byte("h\n>x--\n>y--\nz"), uint16(3), uint8(3))
	f.Add([]byte("a||b||c"), uint16(1), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, kind uint8) {
		if len(data) == 0 || len(data) > 4<<10 {
			return
		}
		tc := remoteCases[int(kind)%len(remoteCases)]
		checkRemoteTiles(t, tc.rec, data, int64(chunk%512)+1)
	})
}
