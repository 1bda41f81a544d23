package splitter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// boundary reports, byte by byte, whether a record of data ends at p
// under rec: the reference the splitter is checked against.
func boundary(data []byte, rec splitter.Records, p int) bool {
	if p == len(data) {
		return true
	}
	if rec.Format == splitter.FormatCSV {
		return p > 0 && data[p-1] == '\n' && csvOpenQuote(data[:p]) < 0
	}
	end := rec.End
	if end == "" {
		end = "\n"
	}
	return p >= len(end) && string(data[p-len(end):p]) == end && bytes.HasPrefix(data[p:], []byte(rec.Start))
}

// nextBoundary returns the first boundary at or after p.
func nextBoundary(data []byte, rec splitter.Records, p int) int {
	for !boundary(data, rec, p) {
		p++
	}
	return p
}

// headerEnd returns where the first rec.Header records of data end.
func headerEnd(data []byte, rec splitter.Records) int {
	end := 0
	for range rec.Header {
		if end < len(data) {
			end = nextBoundary(data, rec, end+1)
		}
	}
	return end
}

// openQuote returns the offset and line of the quote left open at the end
// of data, or -1.
func openQuote(data []byte) (int, int) {
	open := csvOpenQuote(data)
	if open < 0 {
		return -1, 0
	}
	return open, 1 + bytes.Count(data[:open], []byte{'\n'})
}

// csvOpenQuote is the reference reading of CSV, one byte at a time as
// Python's csv module reads with any of the separators , ; tab and |: it
// returns the offset of the quote that opens a quoted field left open at
// the end of data, or -1. A quote opens a quoted field only at the start
// of a field; in one, "" is a quote and a single quote closes it.
func csvOpenQuote(data []byte) int {
	open := -1
	fieldStart := true
	for i := 0; i < len(data); i++ {
		c := data[i]
		if open >= 0 {
			switch {
			case c != '"':
			case i+1 < len(data) && data[i+1] == '"':
				i++
			default:
				open = -1
			}
			continue
		}
		switch c {
		case '\n', ',', ';', '\t', '|':
			fieldStart = true
		case '"':
			if fieldStart {
				open = i
			}
			fieldStart = false
		default:
			fieldStart = false
		}
	}
	return open
}

// checkRecordRanges checks the ranges of one file against the reference:
// each carries the header, they follow it contiguously to the end, and
// each ends at the first record boundary at least chunk bytes on.
func checkRecordRanges(data []byte, rec splitter.Records, ranges []splitter.Range, chunk int64) error {
	hend := headerEnd(data, rec)
	next := int64(hend)
	for i, r := range ranges {
		if !bytes.Equal(r.Header, data[:hend]) {
			return fmt.Errorf("range %d has header %q, want %q", i, r.Header, data[:hend])
		}
		if r.Offset != next {
			return fmt.Errorf("range %d starts at %d, want %d", i, r.Offset, next)
		}
		want := int64(len(data))
		if next+chunk < want {
			want = int64(nextBoundary(data, rec, int(next+chunk)))
		}
		if r.Offset+r.Length != want {
			return fmt.Errorf("range %d %+v ends at %d, want the first boundary at or after %d: %d", i, r, r.Offset+r.Length, next+chunk, want)
		}
		next = want
	}
	if next != int64(len(data)) {
		return fmt.Errorf("ranges end at %d, want %d", next, len(data))
	}
	return nil
}

// checkRecordChunks checks the chunks of a stream: they carry the header,
// rebuild the rest of the stream and each ends at a record boundary.
func checkRecordChunks(data []byte, rec splitter.Records, chunks []splitter.Chunk) error {
	hend := headerEnd(data, rec)
	at := hend
	for i, c := range chunks {
		if !bytes.Equal(c.Header, data[:hend]) {
			return fmt.Errorf("chunk %d has header %q, want %q", i, c.Header, data[:hend])
		}
		if !bytes.HasPrefix(data[at:], c.Data) {
			return fmt.Errorf("chunk %d is not the stream's next bytes", i)
		}
		at += len(c.Data)
		if !boundary(data, rec, at) {
			return fmt.Errorf("chunk %d ends at %d, not at a record boundary", i, at)
		}
	}
	if at != len(data) {
		return fmt.Errorf("chunks end at %d, want %d", at, len(data))
	}
	return nil
}

// splitRecords splits data as a file and as a stream with rec.
func splitRecords(t testing.TB, data []byte, rec splitter.Records, chunk int64) ([]splitter.Range, []splitter.Chunk, error, error) {
	t.Helper()
	p := writeFile(t, t.TempDir(), "input", data)
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	var ranges []splitter.Range
	rerr := splitter.RangesOf(context.Background(), inputs, rec, chunk, func(r splitter.Range) error {
		ranges = append(ranges, r)
		return nil
	})
	stdin, err := splitter.ResolveInputs([]string{splitter.Stdin})
	if err != nil {
		t.Fatal(err)
	}
	chunks, serr := splitAll(t, splitter.Inputs{Inputs: stdin, Stdin: bytes.NewReader(data), Records: rec}, chunk)
	return ranges, chunks, rerr, serr
}

var recordKinds = []splitter.Records{
	{},
	{Header: 1},
	{Header: 2, End: "\x00"},
	{End: "</r>\n", Start: "<r>"},
	{End: "ab"},
	{Format: splitter.FormatCSV},
	{Format: splitter.FormatCSV, Header: 1},
}

func TestRangesOfRecords(t *testing.T) {
	t.Parallel()
	csv := "id,text\n1,\"two\nlines\"\n2,\"quote \"\" and, comma\"\n3,plain\n4,\"\n\n\"\n"
	cases := []struct {
		name string
		data string
		rec  splitter.Records
	}{
		{"header", "h1,h2\na,1\nb,2\nc,3\n", splitter.Records{Header: 1}},
		{"header only", "h1,h2\n", splitter.Records{Header: 1}},
		{"header longer than file", "h1\nh2", splitter.Records{Header: 5}},
		{"nul", "a\nb\x00c\x00\x00d\ne\x00", splitter.Records{End: "\x00"}},
		{"nul no final end", "a\x00b", splitter.Records{End: "\x00", Header: 1}},
		{"recend recstart", "<r>1</r>\n<r>2\n</r>\nx</r>\n<r>3</r>\n", splitter.Records{End: "</r>\n", Start: "<r>"}},
		{"recstart only", ">a\nxx\n>b\nyy\n>c\n", splitter.Records{Start: ">"}},
		{"csv", csv, splitter.Records{Format: splitter.FormatCSV}},
		{"csv header", csv, splitter.Records{Format: splitter.FormatCSV, Header: 1}},
		{"csv quoted header", "\"a\nb\",c\n1,2\n3,4\n", splitter.Records{Format: splitter.FormatCSV, Header: 1}},
		{"csv crlf", "a,\"b\r\nc\"\r\n1,2\r\n", splitter.Records{Format: splitter.FormatCSV}},
		{"csv stray quotes", "id,text\n1,5\" tall\n2,\"two\nlines\"\n3,6\" wide\n4,\"x\ny\"\n", splitter.Records{Format: splitter.FormatCSV, Header: 1}},
		{"csv text after a closing quote", "\"a\"b\nc,\"d\"\"\ne\"\n", splitter.Records{Format: splitter.FormatCSV}},
		{"csv semicolons", "a;\"b\nc\";d\n1;2;\"3\n\"\n", splitter.Records{Format: splitter.FormatCSV}},
		{"csv tabs and bars", "a\t\"b\nc\"\n1|\"2\n\"|3\n", splitter.Records{Format: splitter.FormatCSV}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tc.data)
			for chunk := int64(1); chunk <= int64(len(data))+1; chunk++ {
				ranges, chunks, rerr, serr := splitRecords(t, data, tc.rec, chunk)
				if rerr != nil || serr != nil {
					t.Fatalf("chunk %d: file %v, stream %v", chunk, rerr, serr)
				}
				if err := checkRecordRanges(data, tc.rec, ranges, chunk); err != nil {
					t.Fatalf("chunk %d: %v", chunk, err)
				}
				if err := checkRecordChunks(data, tc.rec, chunks); err != nil {
					t.Fatalf("chunk %d, stream: %v", chunk, err)
				}
			}
		})
	}
}

// TestRangesOfRecordsLarge checks cuts across the splitter's read windows.
func TestRangesOfRecordsLarge(t *testing.T) {
	t.Parallel()
	data := randomCSV(rand.New(rand.NewPCG(3, 4)), 400<<10)
	for _, rec := range recordKinds {
		for _, chunk := range []int64{1000, 64<<10 - 3, 100 << 10} {
			ranges, chunks, rerr, serr := splitRecords(t, data, rec, chunk)
			if rerr != nil || serr != nil {
				t.Fatalf("%v chunk %d: file %v, stream %v", rec, chunk, rerr, serr)
			}
			if err := checkRecordRanges(data, rec, ranges, chunk); err != nil {
				t.Fatalf("%v chunk %d: %v", rec, chunk, err)
			}
			if err := checkRecordChunks(data, rec, chunks); err != nil {
				t.Fatalf("%v chunk %d, stream: %v", rec, chunk, err)
			}
		}
	}
}

func TestRangesOfUnterminatedQuote(t *testing.T) {
	t.Parallel()
	cases := []struct {
		data       string
		at, line   int
		rec        splitter.Records
		chunkSizes []int64
	}{
		{data: "a,b\n1,\"x\n2,y\n3,z\n", at: 6, line: 2},
		{data: "a,\"b\"\n1,\"\"\"x\n", at: 8, line: 2},
		{data: "\"a\nb", at: 0, line: 1, rec: splitter.Records{Header: 1}},
		{data: strings.Repeat("1,\"2\"\n", 20000) + "x,\"y\nz\n", at: 120002, line: 20001},
	}
	for _, tc := range cases {
		rec := tc.rec
		rec.Format = splitter.FormatCSV
		for _, chunk := range []int64{1, 5, 1 << 20} {
			_, _, rerr, serr := splitRecords(t, []byte(tc.data), rec, chunk)
			for _, err := range []error{rerr, serr} {
				want := fmt.Sprintf("opens at byte %d (line %d) is never closed", tc.at, tc.line)
				if !errors.Is(err, splitter.ErrBadInput) || !errors.Is(err, splitter.ErrMalformed) || !strings.Contains(fmt.Sprint(err), want) {
					t.Errorf("%.20q chunk %d: error %v, want ErrBadInput and ErrMalformed with %q", tc.data, chunk, err, want)
				}
			}
		}
	}
}

func TestRangesOfHeaderTooLong(t *testing.T) {
	t.Parallel()
	data := []byte(strings.Repeat("x", splitter.MaxHeader) + "\nrecord\n")
	_, _, rerr, serr := splitRecords(t, data, splitter.Records{Header: 1}, 10)
	for _, err := range []error{rerr, serr} {
		if !errors.Is(err, splitter.ErrBadInput) || !strings.Contains(fmt.Sprint(err), "check --header") {
			t.Errorf("error %v, want ErrBadInput naming --header", err)
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	same := []string{writeFile(t, dir, "a.csv", []byte("x,y\n1,2\n")), writeFile(t, dir, "b.csv", []byte("x,y\n3,4\n")), writeFile(t, dir, "c.csv", nil)}
	other := writeFile(t, dir, "d.csv", []byte("y,x\n3,4\n"))
	rec := splitter.Records{Header: 1, SameHeader: true}
	inputs, err := splitter.ResolveInputs(same)
	if err != nil {
		t.Fatal(err)
	}
	if err := splitter.CheckHeaders(context.Background(), inputs, rec); err != nil {
		t.Errorf("same headers (and an empty file): %v", err)
	}
	if inputs, err = splitter.ResolveInputs(append(same, other)); err != nil {
		t.Fatal(err)
	}
	err = splitter.CheckHeaders(context.Background(), inputs, rec)
	if !errors.Is(err, splitter.ErrBadInput) || !errors.Is(err, splitter.ErrMalformed) || !strings.Contains(fmt.Sprint(err), "d.csv") {
		t.Errorf("a different header: %v, want ErrBadInput naming d.csv", err)
	}
	rec.SameHeader = false
	if err := splitter.CheckHeaders(context.Background(), inputs, rec); err != nil {
		t.Errorf("without SameHeader: %v", err)
	}
}

func TestRecordsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rec  splitter.Records
		want string // "" for valid
	}{
		{splitter.Records{}, ""},
		{splitter.Records{Header: 3, End: "\x00"}, ""},
		{splitter.Records{Format: splitter.FormatCSV, Header: 1}, ""},
		{splitter.Records{Header: -1}, "--header -1 is not valid"},
		{splitter.Records{Format: "tsv"}, `--format "tsv" is not valid`},
		{splitter.Records{Format: splitter.FormatCSV, End: "\x00"}, "takes no --recend, --recstart or -0"},
		{splitter.Records{Format: splitter.FormatCSV, Start: "a"}, "takes no --recend, --recstart or -0"},
		{splitter.Records{End: strings.Repeat("x", 2000)}, "at most 1024 bytes"},
	}
	for _, tc := range cases {
		err := tc.rec.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.rec, err)
			}
			continue
		}
		if !errors.Is(err, splitter.ErrBadInput) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%v: error %v, want ErrBadInput with %q", tc.rec, err, tc.want)
		}
	}
}

func FuzzRangesOfRecords(f *testing.F) {
	f.Add([]byte("a,\"b\nc\"\n1,2\n"), int64(3), uint8(5))
	f.Add([]byte("h\x00a\x00b\x00"), int64(1), uint8(2))
	f.Add([]byte("<r>1</r>\n<r>2</r>\n"), int64(4), uint8(3))
	f.Add([]byte("abab\nab"), int64(2), uint8(4))
	f.Add([]byte("\"\"\"\n\""), int64(1), uint8(6))
	f.Fuzz(func(t *testing.T, data []byte, chunk int64, kind uint8) {
		rec := recordKinds[int(kind)%len(recordKinds)]
		chunk = 1 + abs(chunk)%(int64(len(data))+2)
		ranges, chunks, rerr, serr := splitRecords(t, data, rec, chunk)
		if rec.Format == splitter.FormatCSV {
			if at, _ := openQuote(data); at >= 0 {
				if !errors.Is(rerr, splitter.ErrBadInput) || !errors.Is(serr, splitter.ErrBadInput) {
					t.Fatalf("unterminated quote at %d: file %v, stream %v", at, rerr, serr)
				}
				return
			}
		}
		if serr != nil && errors.Is(serr, splitter.ErrLineTooLong) {
			serr = nil
			chunks = nil
		}
		if rerr != nil || serr != nil {
			if errors.Is(rerr, splitter.ErrBadInput) && headerEnd(data, rec) > splitter.MaxHeader {
				return
			}
			t.Fatalf("file %v, stream %v", rerr, serr)
		}
		if err := checkRecordRanges(data, rec, ranges, chunk); err != nil {
			t.Fatal(err)
		}
		if chunks != nil {
			if err := checkRecordChunks(data, rec, chunks); err != nil {
				t.Fatalf("stream: %v", err)
			}
		}
	})
}

// randomCSV returns about size bytes of CSV with quoted fields that hold
// commas, doubled quotes and newlines, and NULs and "ab" here and there.
func randomCSV(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		for f := range 1 + r.IntN(6) {
			if f > 0 {
				b.WriteByte(',')
			}
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "\"%s\"", strings.Repeat("q\"\"\n,x ab", r.IntN(4)))
			case 1:
				b.WriteString("n\x00ul")
			default:
				b.Write(randomWord(r))
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func randomWord(r *rand.Rand) []byte {
	w := make([]byte, 1+r.IntN(20))
	for i := range w {
		w[i] = 'a' + byte(r.IntN(26))
	}
	return w
}

// BenchmarkRangesCSV measures the quote-aware split of CSV with many
// quoted fields, with the checksum of every byte: one pass per byte.
func BenchmarkRangesCSV(b *testing.B) {
	const size = 64 << 20
	data := randomCSV(rand.New(rand.NewPCG(5, 6)), size)
	p := writeFile(b, b.TempDir(), "input.csv", data)
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range []splitter.Records{{}, {Format: splitter.FormatCSV, Header: 1}} {
		for _, chunk := range []int64{splitter.MinDefaultChunk, splitter.MaxDefaultChunk} {
			b.Run(fmt.Sprintf("format=%s/chunk=%d", rec.Format, chunk), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					err := splitter.RangesOf(context.Background(), inputs, rec, chunk, func(splitter.Range) error { return nil })
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
