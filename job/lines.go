package job

import (
	"bufio"
	"bytes"
	"io"
	"os"

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
