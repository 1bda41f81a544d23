package splitter_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

func TestLinesSource(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "a\n", "no newline", "a\nbb\nccc\n", strings.Repeat("line of text\n", 1000), "x\r\ny\r\n\xff\xfe\n"}
	for _, in := range inputs {
		for _, size := range []int64{1, 5, 64, 4096, 1 << 20} {
			var chunks [][]byte
			err := splitter.Lines{R: strings.NewReader(in)}.Split(context.Background(), size, func(c splitter.Chunk) error {
				if c.Path != "" || c.Data == nil {
					t.Fatalf("a Lines chunk must carry data, got %+v", c)
				}
				chunks = append(chunks, c.Data)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(bytes.Join(chunks, nil)); got != in {
				t.Fatalf("size %d: chunks join to %q, want %q", size, got, in)
			}
			for i, c := range chunks {
				if i < len(chunks)-1 && !bytes.HasSuffix(c, []byte("\n")) {
					t.Fatalf("size %d: chunk %d does not end a line: %q", size, i, c)
				}
				if int64(len(c)) > size && bytes.Count(c, []byte("\n")) > 1 {
					t.Fatalf("size %d: chunk %d holds %d bytes of several lines", size, i, len(c))
				}
			}
		}
	}
}

func TestLinesSourceLineTooLong(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("x", 100) + "\n"
	err := splitter.Lines{R: strings.NewReader(in), Max: 50}.Split(context.Background(), 10, func(splitter.Chunk) error { return nil })
	if !errors.Is(err, splitter.ErrLineTooLong) {
		t.Fatalf("got %v, want ErrLineTooLong", err)
	}
}

func TestFilesSourceDescribes(t *testing.T) {
	t.Parallel()
	f := splitter.Files{{Path: "/a", Size: 3}, {Path: "/b", Size: 5}}
	names, sizes := f.Describe()
	if len(names) != 2 || names[1] != "/b" || sizes[0] != 3 {
		t.Fatalf("got %v %v", names, sizes)
	}
}
