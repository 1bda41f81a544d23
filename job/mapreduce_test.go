package job_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// mapWords is a Hadoop Streaming map command that emits word<TAB>1 for each
// maximal run of ASCII letters and digits, lower-cased. On ASCII text (and
// on invalid UTF-8, whose bytes it treats as separators too) it finds the
// same words as the built-in wordcount.
const mapWords = `LC_ALL=C; export LC_ALL
tr -cs 'A-Za-z0-9' '\n' | tr 'A-Z' 'a-z' | awk 'NF { print $0 "\t1" }'
`

// reduceSum is a Hadoop Streaming reduce command: it sums the values of
// each key of its sorted key<TAB>value input. Keys are compared as strings
// ("" forces it: awk compares numeric-looking fields as numbers).
const reduceSum = `exec awk -F'\t' '
NR > 1 && $1 "" != key "" { print key "\t" sum; sum = 0 }
{ key = $1; sum += $2 }
END { if (NR > 0) print key "\t" sum }'
`

// TestMapReduceWordCount checks word counts against a sequential Go
// implementation, with built-in and command maps and reduces, 1 and 4
// partitions, small and default chunks.
func TestMapReduceWordCount(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	mapCmd := "'" + writeScript(t, scripts, "map-words", mapWords) + "'"
	reduceCmd := "'" + writeScript(t, scripts, "reduce-sum", reduceSum) + "'"

	// Every kind of input, non-ASCII letters included: for the built-in map.
	all := []string{
		generatedText(t, "mr-unicode.txt", 2<<20, 3, false),
		td(t, "text"), td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "empty.txt"),
		td(t, "invalid-utf8.txt"), td(t, "longline.txt"),
	}
	// ASCII letters only (invalid bytes allowed): for the command map,
	// which knows ASCII words only.
	ascii := []string{
		generatedText(t, "mr-ascii.txt", 1<<20, 4, true),
		td(t, "text/harbor.txt"), td(t, "text/workshop.txt"), td(t, "text/more"),
		td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "empty.txt"),
		td(t, "invalid-utf8.txt"), td(t, "longline.txt"),
	}
	// Without a built-in reduce nothing combines map-side: every word
	// travels alone to the reducer command, so this input is kept smaller.
	asciiSmall := []string{generatedText(t, "mr-ascii-small.txt", 256<<10, 5, true), td(t, "text/more"), td(t, "invalid-utf8.txt")}
	small := []string{td(t, "text"), td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "invalid-utf8.txt")}
	wantAll := referenceWordCount(t, inputFiles(t, all...))
	wantASCII := referenceWordCount(t, inputFiles(t, ascii...))
	wantSmall := referenceWordCount(t, inputFiles(t, small...))
	wantASCIISmall := referenceWordCount(t, inputFiles(t, asciiSmall...))

	tests := []struct {
		name       string
		inputs     []string
		want       map[string]int64
		mapSpec    string
		reduceSpec string
		partitions int
		chunk      int64
	}{
		{"builtin-map/builtin-sum/1-partition", all, wantAll, "wordcount", "sum", 1, 64 << 10},
		{"builtin-map/builtin-sum/4-partitions", all, wantAll, "wordcount", "sum", 4, 0},
		{"builtin-map/builtin-sum/4-partitions/1KiB-chunks", small, wantSmall, "wordcount", "sum", 4, 1 << 10},
		{"command-map/builtin-sum/1-partition", ascii, wantASCII, mapCmd, "sum", 1, 128 << 10},
		{"command-map/builtin-sum/4-partitions", ascii, wantASCII, mapCmd, "sum", 4, 0},
		{"builtin-map/command-reduce/1-partition", all, wantAll, "wordcount", reduceCmd, 1, 0},
		{"builtin-map/command-reduce/4-partitions", all, wantAll, "wordcount", reduceCmd, 4, 128 << 10},
		{"command-map/command-reduce/3-partitions", asciiSmall, wantASCIISmall, mapCmd, reduceCmd, 3, 32 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			parent := t.TempDir()
			cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, tt.inputs, filepath.Join(parent, "out")
			cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = tt.mapSpec, tt.reduceSpec, tt.partitions, tt.chunk
			rep, err := runJob(t, cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			compareCounts(t, readParts(t, cfg.Output, tt.partitions), tt.want)
			if names := dirNames(t, parent); !slices.Equal(names, []string{"out"}) {
				t.Errorf("output's folder holds %q, want only out", names)
			}
			if chunk := tt.chunk; chunk > 0 {
				if tasks, _ := countRanges(t, chunk, tt.inputs...); rep.Tasks != tasks {
					t.Errorf("report counts %d tasks, want %d", rep.Tasks, tasks)
				}
			}
			if rep.Failed != 0 || len(rep.DeadLetters) != 0 {
				t.Errorf("report lists %d failed tasks: %+v", rep.Failed, rep.DeadLetters)
			}
			checkNoSpill(t, cfg)
		})
	}
}

// TestMapReduceBuiltins checks the other built-in maps and reduces against
// sequential references.
func TestMapReduceBuiltins(t *testing.T) {
	t.Parallel()
	inputs := []string{td(t, "text"), td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "empty.txt"), td(t, "invalid-utf8.txt"), td(t, "longline.txt")}
	files := inputFiles(t, inputs...)

	lines := 0
	re := regexp.MustCompile(`[A-Z][a-z]+`)
	caps := map[string]int64{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			for _, m := range re.FindAll(bytes.TrimSuffix(sc.Bytes(), []byte("\r")), -1) {
				caps[string(m)]++
			}
		}
	}
	tests := []struct {
		name, mapSpec, reduceSpec string
		partitions                int
		chunk                     int64
		want                      map[string]int64
	}{
		{"lines/sum", "lines", "sum", 1, 1 << 10, map[string]int64{"lines": int64(lines)}},
		{"lines/count", "lines", "count", 1, 1 << 20, nil}, // count counts the values of a key: "lines" gets one per task
		{"grep/count/2-partitions", "grep:[A-Z][a-z]+", "count", 2, 2 << 10, caps},
		{"grep/sum/1-partition", "grep:[A-Z][a-z]+", "sum", 1, 0, caps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, inputs, filepath.Join(t.TempDir(), "out")
			cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = tt.mapSpec, tt.reduceSpec, tt.partitions, tt.chunk
			rep, err := runJob(t, cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := tt.want
			if want == nil {
				// The chunks shrink toward the end: at least the tasks of
				// fixed chunks.
				if fixed, _ := countRanges(t, tt.chunk, inputs...); rep.Tasks < fixed {
					t.Errorf("%d tasks, fewer than the %d of fixed chunks", rep.Tasks, fixed)
				}
				want = map[string]int64{"lines": int64(rep.Tasks)}
			}
			compareCounts(t, readParts(t, cfg.Output, tt.partitions), want)
		})
	}
}

// TestMapReduceEmptyInput checks that inputs without a byte make a
// complete, empty output directory.
func TestMapReduceEmptyInput(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{td(t, "empty.txt")}, filepath.Join(t.TempDir(), "out")
	cfg.Map, cfg.Reduce, cfg.Partitions = "wordcount", "sum", 3
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := readParts(t, cfg.Output, 3); len(got) != 0 {
		t.Errorf("output holds %d keys, want none", len(got))
	}
	if rep.Tasks != 0 {
		t.Errorf("report counts %d tasks, want 0", rep.Tasks)
	}
}

// TestMapReduceNumericFolds checks the numeric folds on the values of a
// command map (cat: the input already is key<TAB>value lines).
func TestMapReduceNumericFolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tsv")
	var b strings.Builder
	want := map[string]map[string]string{"sum": {}, "min": {}, "max": {}, "count": {}}
	sums := map[string]int64{}
	mins := map[string]int64{}
	maxs := map[string]int64{}
	counts := map[string]int64{}
	for i := range 3000 {
		k := "k" + strconv.Itoa(i%37)
		v := int64((i*7919)%1001) - 500
		b.WriteString(k + "\t" + strconv.FormatInt(v, 10) + "\n")
		sums[k] += v
		counts[k]++
		if m, ok := mins[k]; !ok || v < m {
			mins[k] = v
		}
		if m, ok := maxs[k]; !ok || v > m {
			maxs[k] = v
		}
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for k := range sums {
		want["sum"][k] = strconv.FormatInt(sums[k], 10)
		want["min"][k] = strconv.FormatInt(mins[k], 10)
		want["max"][k] = strconv.FormatInt(maxs[k], 10)
		want["count"][k] = strconv.FormatInt(counts[k], 10)
	}
	for _, fold := range []string{"sum", "min", "max", "count"} {
		t.Run(fold, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{in}, filepath.Join(t.TempDir(), "out")
			cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = "cat", fold, 2, 8<<10
			if _, err := runJob(t, cfg); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := readParts(t, cfg.Output, 2)
			if len(got) != len(want[fold]) {
				t.Errorf("%d keys, want %d", len(got), len(want[fold]))
			}
			for k, v := range want[fold] {
				if got[k] != v {
					t.Errorf("%s of %s: got %q, want %q", fold, k, got[k], v)
				}
			}
		})
	}
}

// TestMapReduceForceReplacesOutput checks that Force replaces an output
// directory that exists, whole, with nothing of the old one left.
func TestMapReduceForceReplacesOutput(t *testing.T) {
	t.Parallel()
	small := []string{td(t, "text"), td(t, "crlf.txt")}
	cfg := baseConfig(t)
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "old.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce, cfg.Output, cfg.Partitions = schema.KindMapReduce, small, "wordcount", "sum", out, 2
	cfg.Force = true
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run with Force: %v", err)
	}
	if names := dirNames(t, out); !slices.Equal(names, []string{"part-00000", "part-00001"}) {
		t.Errorf("output holds %q, want only the new partitions", names)
	}
	compareCounts(t, readParts(t, out, 2), referenceWordCount(t, inputFiles(t, small...)))
	if names := dirNames(t, filepath.Dir(out)); !slices.Equal(names, []string{"out"}) {
		t.Errorf("the output's folder holds %q, want only out", names)
	}
}
