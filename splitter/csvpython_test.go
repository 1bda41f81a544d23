package splitter_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

// pythonLineNums prints, after each record Python's csv module reads from
// standard input, how many lines it has read: where each record ends.
const pythonLineNums = `
import csv, sys
r = csv.reader(sys.stdin, delimiter=sys.argv[1])
for _ in r:
    print(r.line_num)
`

// TestCSVRecordsAsPythonReadsThem checks the splitter's CSV records
// against Python's csv module on messy CSV: quotes inside unquoted fields
// (5" tall), text after a closing quote, doubled quotes, and quoted fields
// that hold newlines and separators. Each record, cut into its own range,
// must end on the line where Python's reader ends it.
func TestCSVRecordsAsPythonReadsThem(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	for seed, sep := range []byte{',', ';', '\t', '|', ','} {
		data := messyCSV(rand.New(rand.NewPCG(uint64(seed), 7)), sep, 20<<10)
		cmd := exec.Command(python, "-c", pythonLineNums, string(sep))
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("separator %q: python3: %v", sep, err)
		}
		var want []int
		for _, f := range strings.Fields(string(out)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, n)
		}

		ranges, chunks, rerr, serr := splitRecords(t, data, splitter.Records{Format: splitter.FormatCSV}, 1)
		if rerr != nil || serr != nil {
			t.Fatalf("separator %q: file %v, stream %v", sep, rerr, serr)
		}
		var got []int
		for _, r := range ranges {
			got = append(got, bytes.Count(data[:r.Offset+r.Length], []byte{'\n'}))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("separator %q: records end on lines %v..., Python's csv ends them on %v...", sep, head(got), head(want))
		}
		if len(chunks) != len(ranges) {
			t.Fatalf("separator %q: the stream has %d records, the file %d", sep, len(chunks), len(ranges))
		}
	}
}

// messyCSV returns about size bytes of CSV separated by sep, with the
// quoting mistakes real files have.
func messyCSV(r *rand.Rand, sep byte, size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		for f := range 1 + r.IntN(5) {
			if f > 0 {
				b.WriteByte(sep)
			}
			switch r.IntN(7) {
			case 0:
				fmt.Fprintf(&b, "%d\" tall", r.IntN(10)) // a quote inside an unquoted field
			case 1:
				fmt.Fprintf(&b, "\"two\nlines %c and \"\" a quote\"", sep)
			case 2:
				b.WriteString("\"closed\" then text")
			case 3:
				b.WriteString("a\"b\"c\"")
			case 4:
			default:
				b.Write(randomWord(r))
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func head(s []int) []int { return s[:min(len(s), 20)] }
