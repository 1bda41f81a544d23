package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// streamingFiles writes the inputs and scripts of the examples of
// docs/streaming.md to dir: events.tsv (user, time, event; times of 1 to
// 5 digits, so that text and numeric order differ, some written twice,
// with a leading 0 or as -0, so that equal numbers differ as text),
// words.txt and the awk scripts.
func streamingFiles(t *testing.T, dir string) {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 12))
	events := []string{"login", "view", "buy", "logout"}
	var ev strings.Builder
	for i, ts := range r.Perm(3000) {
		user, at := r.IntN(40), ts*7+r.IntN(7)
		fmt.Fprintf(&ev, "u%d\t%d\t%s\n", user, at, events[r.IntN(len(events))])
		if i%10 == 0 {
			// The same time written otherwise: equal numbers, other text.
			fmt.Fprintf(&ev, "u%d\t0%d\t%s\n", user, at, events[r.IntN(len(events))])
		}
		if i%500 == 0 {
			fmt.Fprintf(&ev, "u%d\t-0\t%s\nu%d\t0\t%s\n", user, events[r.IntN(len(events))], user, events[r.IntN(len(events))])
		}
	}
	vocab := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "Lambda", "mu"}
	var words strings.Builder
	for range 3000 {
		words.WriteString(vocab[r.IntN(len(vocab))])
		if r.IntN(8) == 0 {
			words.WriteString("\n")
		} else {
			words.WriteString(" ")
		}
	}
	words.WriteString("\n")
	files := map[string]string{
		"events.tsv": ev.String(),
		"words.txt":  words.String(),
		"first.awk":  "BEGIN { FS = OFS = \"\\t\" } $1 != user { user = $1; print $1, $2, $3 }\n",
		"swap.awk":   "BEGIN { FS = OFS = \"\\t\" } { print $2, $1, $3 }\n",
		"pairs.awk":  "{ for (i = 1; i <= NF; i++) print $i \"\\t\" 1 }\n",
		"sum.awk":    "BEGIN { FS = OFS = \"\\t\" } $1 != k { if (NR > 1) print k, s; k = $1; s = 0 } { s += $2 } END { if (NR > 0) print k, s }\n",
	}
	for name, data := range files {
		writeTestFile(t, filepath.Join(dir, name), data)
	}
}

// streamingExample is an example of docs/streaming.md: cmd, then what
// prints its output, against the sequential command seq.
type streamingExample struct {
	name, cmd, then, seq string
}

var streamingExamples = []streamingExample{
	{"secondary sort",
		`jetmr mapreduce -i events.tsv -o firsts --map cat --reduce 'awk -f first.awk' --key-fields 2 --partition-fields 1 --key-order text,numeric --partitions 4 --chunk-size 4KiB`,
		"cat firsts/part-* | sort",
		`LC_ALL=C sort -s -t "$tab" -k1,1 -k2,2n -k2,2 events.tsv | awk -f first.awk | sort`},
	{"map only",
		`jetmr mapreduce -i events.tsv -o by-time --map 'awk -f swap.awk' --reduce none --key-order numeric-reverse --chunk-size 4KiB`,
		"cat by-time/part-00000",
		`awk -f swap.awk events.tsv | LC_ALL=C sort -s -t "$tab" -k1,1nr -k1,1r`},
	{"combiner",
		`jetmr mapreduce -i words.txt -o counts --map 'awk -f pairs.awk' --combiner 'awk -f sum.awk' --reduce 'awk -f sum.awk' --chunk-size 1KiB`,
		"cat counts/part-00000",
		`awk -f pairs.awk words.txt | LC_ALL=C sort -t "$tab" -k1,1 | awk -f sum.awk`},
}

// checkStreamingExample runs ex in dir, with extra flags after "jetmr
// mapreduce", and compares its output with the sequential command's.
func checkStreamingExample(t *testing.T, dir string, ex streamingExample, extra string) {
	t.Helper()
	cmd := strings.Replace(ex.cmd, "jetmr mapreduce ", "jetmr mapreduce -q "+extra, 1)
	got := shell(t, dir, "set -e; "+cmd+"; "+ex.then)
	want := shell(t, dir, "tab=$(printf '\\t'); "+ex.seq)
	if strings.Count(want, "\n") < 10 {
		t.Fatalf("the sequential run printed too little to compare: %q", want)
	}
	if got != want {
		t.Errorf("%s: jetmr printed %d bytes, the sequential run %d\njetmr:\n%.400s\nsequential:\n%.400s", ex.name, len(got), len(want), got, want)
	}
}

// TestStreamingDocExamples runs each example of docs/streaming.md on the
// embedded default and compares its output with the sequential command
// the page gives beside it. Both must appear on the page as written here.
func TestStreamingDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "streaming.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range streamingExamples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range []string{ex.cmd, ex.seq} {
				if !bytes.Contains(doc, []byte(s)) {
					t.Fatalf("docs/streaming.md does not show %s", s)
				}
			}
			dir := t.TempDir()
			streamingFiles(t, dir)
			checkStreamingExample(t, dir, ex, "")
		})
	}
}

// TestStreamingOnWorkers runs the examples of docs/streaming.md on two
// `jetmr worker` processes over NATS, none of the tasks in the submitting
// process: the workers cut, partition, sort and combine the keys.
func TestStreamingOnWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	streamingFiles(t, dir)
	url := plainNATS(t)
	for range 2 {
		// In dir, where the examples' scripts are.
		w := &workerProc{clitest.Start(t, bin, dir, nil, "worker", "--nats", url, "--log-format", "json", "-j", "2")}
		w.waitUp(t)
		defer w.term(t)
	}
	for _, ex := range streamingExamples {
		checkStreamingExample(t, dir, ex, "--nats "+url+" --local-workers 0 ")
	}
}

// TestStreamingOptionsNeeded checks that the examples need their options:
// without each, the output differs from the sequential run, so the
// examples above can fail. And the combiner runs: it makes the map output
// shipped to the reducer smaller.
func TestStreamingOptionsNeeded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	streamingFiles(t, dir)
	tests := []struct{ name, cmd, then, seq string }{
		{"no partition fields",
			`jetmr mapreduce -q -i events.tsv -o f1 --map cat --reduce 'awk -f first.awk' --key-fields 2 --key-order text,numeric --partitions 4 --chunk-size 4KiB`,
			"cat f1/part-* | sort", streamingExamples[0].seq},
		{"text order",
			`jetmr mapreduce -q -i events.tsv -o f2 --map cat --reduce 'awk -f first.awk' --key-fields 2 --partition-fields 1 --partitions 4 --chunk-size 4KiB`,
			"cat f2/part-* | sort", streamingExamples[0].seq},
		{"one key field",
			`jetmr mapreduce -q -i events.tsv -o f3 --map cat --reduce 'awk -f first.awk' --key-order text --partitions 4 --chunk-size 4KiB`,
			"cat f3/part-* | sort", streamingExamples[0].seq},
		{"not reversed",
			`jetmr mapreduce -q -i events.tsv -o t1 --map 'awk -f swap.awk' --reduce none --key-order numeric --chunk-size 4KiB`,
			"cat t1/part-00000", streamingExamples[1].seq},
	}
	for _, tt := range tests {
		got := shell(t, dir, "set -e; "+tt.cmd+"; "+tt.then)
		if want := shell(t, dir, "tab=$(printf '\\t'); "+tt.seq); got == want {
			t.Errorf("%s: the output is still the sequential one: the example cannot fail", tt.name)
		}
	}
	shipped := func(combiner string) (float64, map[string]int64) {
		out := filepath.Join(dir, "c"+fmt.Sprint(len(combiner)))
		rep := out + ".json"
		shell(t, dir, `jetmr mapreduce -q -i words.txt -o `+out+` --map 'awk -f pairs.awk' `+combiner+` --reduce 'awk -f sum.awk' --chunk-size 1KiB --report `+rep)
		return readReport(t, rep)["bytes_out"].(float64), reportCounters(t, rep)
	}
	with, counters := shipped(`--combiner 'awk -f sum.awk'`)
	without, none := shipped("")
	if with <= 0 || with*4 > without {
		t.Errorf("map output shipped: %v bytes with the combiner, %v without: want at least 4 times less", with, without)
	}
	words := int64(len(strings.Fields(shell(t, dir, "cat words.txt"))))
	in, out := counters["jetmr,combine input pairs"], counters["jetmr,combine output pairs"]
	if in != words || out <= 0 || out*4 > in || len(none) != 0 {
		t.Errorf("combiner counters: %d pairs in (want the %d words), %d out; without a combiner: %v", in, words, out, none)
	}
}

// TestStreamingDocCounters runs the counters example of
// docs/streaming.md: the counter the map command reports, read back from
// the run report, is the word count of the input.
func TestStreamingDocCounters(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "streaming.md"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		cmd  = `jetmr mapreduce -i words.txt -o counted --map 'awk -f words.awk' --reduce 'awk -f sum.awk' --report run.json`
		then = `jetmr report run.json | awk '$1 == "Input" && $2 == "Words" { print $3 }'`
		seq  = `wc -w < words.txt`
		awk  = `{ for (i = 1; i <= NF; i++) print $i "\t" 1; n += NF } END { print "reporter:counter:Input,Words," n > "/dev/stderr" }`
	)
	for _, s := range []string{cmd, then, seq, strings.ReplaceAll(awk, "\t", `\t`)} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Fatalf("docs/streaming.md does not show %s", s)
		}
	}
	dir := t.TempDir()
	streamingFiles(t, dir)
	writeTestFile(t, filepath.Join(dir, "words.awk"), strings.ReplaceAll(awk, "\t", `\t`)+"\n")
	got := shell(t, dir, "set -e; "+strings.Replace(cmd, " -i ", " -q --chunk-size 1KiB -i ", 1)+"; "+then)
	want := strings.TrimSpace(shell(t, dir, seq)) + "\n"
	if got != want || want == "0\n" {
		t.Errorf("the counter says %q, wc -w %q", got, want)
	}
}

// TestMapOnlyKeepsLines checks that --reduce none gives back the map's own
// lines byte for byte, those whose last field is empty too (a line ending
// in a TAB is not its key alone), against the sequential stable sort by
// the key fields.
func TestMapOnlyKeepsLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	fields := []string{"", "a", "b", "x", "10", "9"}
	var in strings.Builder
	in.WriteString("a\t\nb\t\t\nc\tx\t\n")
	for range 4000 {
		// At least one TAB, so that every line has two fields at least and
		// the key of --key-fields 2 always two fields, as sort reads them.
		n := 2 + r.IntN(3)
		f := make([]string, n)
		for i := range f {
			f[i] = fields[r.IntN(len(fields))]
		}
		in.WriteString(strings.Join(f, "\t") + "\n")
	}
	writeTestFile(t, filepath.Join(dir, "in.tsv"), in.String())
	tests := []struct{ name, flags, sortKeys string }{
		{"one key field", "", "-k1,1"},
		{"two key fields", "--key-fields 2", "-k1,2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			got := shell(t, dir, "set -e; jetmr mapreduce -q -i in.tsv -o "+out+" --map cat --reduce none --chunk-size 4KiB "+tt.flags+"; cat "+out+"/part-00000")
			want := shell(t, dir, "LC_ALL=C sort -s -t \"$(printf '\\t')\" "+tt.sortKeys+" in.tsv")
			if strings.Count(want, "\n") != 4003 {
				t.Fatalf("the sequential sort printed %d lines", strings.Count(want, "\n"))
			}
			if got != want {
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("line %d: jetmr printed %q, the sequential sort %q", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("jetmr printed %d lines, the sequential sort %d", len(gl), len(wl))
			}
		})
	}
}

// TestCRLFKeptByteForByte checks that a map's "\r" before its "\n" is part
// of the pair's value (or of the key, when the line has no TAB): --reduce
// none gives back CRLF lines byte for byte, a reducer command reads them,
// and keys ending in "\r" sort as the sequential sort orders them.
func TestCRLFKeptByteForByte(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "cr.tsv"), "k1\tv1\r\nk2\r\n")
	writeTestFile(t, filepath.Join(dir, "mixed.tsv"), "b\tv\r\nb\r\nb\tv\nb\na\r\na\tw\r\nc\t\r\n")
	writeTestFile(t, filepath.Join(dir, "num.tsv"), "10\r\n9\r\n010\r\n9\n10\tx\r\n-0\r\n0\r\n")
	tests := []struct{ name, jetmr, want string }{
		{"map only", "jetmr mapreduce -q -i cr.tsv -o out --map cat --reduce none && cat out/part-00000", "cat cr.tsv"},
		{"map only, keys with and without CR", "jetmr mapreduce -q -i mixed.tsv -o out --map cat --reduce none && cat out/part-00000",
			"LC_ALL=C sort -s -t \"$(printf '\\t')\" -k1,1 mixed.tsv"},
		{"reducer command", "jetmr mapreduce -q -i cr.tsv -o out --map cat --reduce 'od -c' && cat out/part-00000",
			"printf 'k1\\tv1\\r\\nk2\\r\\t\\n' | od -c"},
		{"numeric keys ending in CR", "jetmr mapreduce -q -i num.tsv -o out --map cat --reduce none --key-order numeric && cat out/part-00000",
			"LC_ALL=C sort -s -t \"$(printf '\\t')\" -k1,1n -k1,1 num.tsv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub := t.TempDir()
			for _, f := range []string{"cr.tsv", "mixed.tsv", "num.tsv"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(sub, f), string(data))
			}
			got := shell(t, sub, "set -e; "+tt.jetmr)
			want := shell(t, sub, tt.want)
			if got != want {
				t.Errorf("jetmr printed %q, want %q", got, want)
			}
		})
	}
}
