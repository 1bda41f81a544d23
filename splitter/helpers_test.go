package splitter_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// writeFile writes data to name under dir, creating parent directories,
// and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// collect runs Ranges and returns every range it yields.
func collect(t testing.TB, inputs []splitter.Input, chunk int64) []splitter.Range {
	t.Helper()
	var got []splitter.Range
	err := splitter.Ranges(context.Background(), inputs, chunk, func(r splitter.Range) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Ranges(chunk %d): %v", chunk, err)
	}
	return got
}

// splitOne writes data to a file, splits it and returns its ranges.
func splitOne(t testing.TB, data []byte, chunk int64) []splitter.Range {
	t.Helper()
	p := writeFile(t, t.TempDir(), "input", data)
	inputs, err := splitter.ResolveInputs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, inputs, chunk)
}

// checkRanges checks the ranges of one file against its content: they
// reassemble it exactly, are contiguous, start at a line start, end after
// a '\n' unless last, and are at least chunk bytes unless last.
func checkRanges(data []byte, ranges []splitter.Range, chunk int64) error {
	var rebuilt []byte
	next := int64(0)
	for i, r := range ranges {
		last := i == len(ranges)-1
		if err := checkRange(data, r, next, chunk, last); err != nil {
			return fmt.Errorf("range %d %+v: %w", i, r, err)
		}
		rebuilt = append(rebuilt, data[r.Offset:r.Offset+r.Length]...)
		next = r.Offset + r.Length
	}
	if !bytes.Equal(rebuilt, data) {
		return fmt.Errorf("ranges reassemble %d bytes, want the file's %d", len(rebuilt), len(data))
	}
	return nil
}

// checkRange checks one range that should start at next.
func checkRange(data []byte, r splitter.Range, next, chunk int64, last bool) error {
	switch {
	case r.Offset != next:
		return fmt.Errorf("starts at %d, want %d (contiguous)", r.Offset, next)
	case r.Length < 1 || r.Offset+r.Length > int64(len(data)):
		return fmt.Errorf("length out of the file's %d bytes", len(data))
	case r.Offset > 0 && data[r.Offset-1] != '\n':
		return fmt.Errorf("does not start after a newline")
	case !last && data[r.Offset+r.Length-1] != '\n':
		return fmt.Errorf("is not the last but does not end with a newline")
	case !last && r.Length < chunk:
		return fmt.Errorf("is not the last but is shorter than the chunk size %d", chunk)
	case last && r.Offset+r.Length != int64(len(data)):
		return fmt.Errorf("is the last but ends before the end of the file")
	}
	return nil
}

// pathSize is an input's path and size, what ResolveInputs tests compare.
type pathSize struct {
	Path string
	Size int64
}

func pathSizes(inputs []splitter.Input) []pathSize {
	out := make([]pathSize, len(inputs))
	for i, in := range inputs {
		out[i] = pathSize{in.Path, in.Size}
	}
	return out
}
