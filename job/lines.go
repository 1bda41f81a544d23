package job

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"os"
	"slices"

	"github.com/jetmr/jetmr/report"
)

// annotateLines fills in the first line number of each dead letter's input
// range by counting the newlines before it.
func annotateLines(dead []report.DeadLetter) {
	for i := range dead {
		if dead[i].Path != "" && dead[i].Line == 0 {
			dead[i].Line = lineAt(dead[i].Path, dead[i].Offset)
		}
	}
}

// annotateRecordLines fills in the line number of each bad record that
// lies in one of inputs (a chunk of standard input or of a compressed
// file was spooled: its offsets are not the input's), counting the
// newlines of each file once.
func annotateRecordLines(inputs []string, recs ...[]report.BadRecord) {
	byPath := map[string][]*report.BadRecord{}
	for _, list := range recs {
		for i := range list {
			if r := &list[i]; r.Line == 0 && slices.Contains(inputs, r.Path) {
				byPath[r.Path] = append(byPath[r.Path], r)
			}
		}
	}
	for path, list := range byPath {
		slices.SortFunc(list, func(a, b *report.BadRecord) int { return cmp.Compare(a.Offset, b.Offset) })
		countLines(path, list)
	}
}

// countLines sets the line number of records sorted by offset in path:
// one more than the newlines before the record.
func countLines(path string, recs []*report.BadRecord) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	var at int64
	line := 1
	for _, rec := range recs {
		for at < rec.Offset {
			n, err := io.ReadFull(f, buf[:min(int64(len(buf)), rec.Offset-at)])
			line += bytes.Count(buf[:n], []byte{'\n'})
			at += int64(n)
			if err != nil {
				return
			}
		}
		rec.Line = line
	}
}

// lineAt returns the 1-based number of the line starting at offset, or 0
// when the file cannot be read.
func lineAt(path string, offset int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.LimitReader(f, offset), 256<<10)
	buf := make([]byte, 256<<10)
	lines := 1
	for {
		n, err := r.Read(buf)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if err != nil {
			return lines
		}
	}
}
