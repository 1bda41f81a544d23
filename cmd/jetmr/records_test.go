package main_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recordFiles writes the inputs of the examples of docs/records.md to dir.
func recordFiles(t *testing.T, dir string) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	regions := []string{"east", "west", "north", "south"}
	sales := func(n int) string {
		var b strings.Builder
		b.WriteString("region,amount\n")
		for range n {
			fmt.Fprintf(&b, "%s,%d\n", regions[r.IntN(len(regions))], 1+r.IntN(1000))
		}
		return b.String()
	}
	var notes, names, seqs, para strings.Builder
	notes.WriteString("id,note\n")
	for i := range 200 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&notes, "%d,\"line one\nline two, with \"\"quotes\"\"\n\"\n", i)
		case 1:
			fmt.Fprintf(&notes, "%d,plain note %d\n", i, r.IntN(100))
		default:
			fmt.Fprintf(&notes, "%d,\"a, b\"\n", i)
		}
	}
	// messy.csv has quotes inside unquoted fields (5" tall), which do not
	// open quoted fields, between quoted fields that hold newlines.
	var messy strings.Builder
	messy.WriteString("id,text\n")
	for i := range 400 {
		if i%50 == 0 {
			fmt.Fprintf(&messy, "%d,%d\" tall\n", i, 1+r.IntN(9))
			continue
		}
		fmt.Fprintf(&messy, "%d,\"multi\nline %d\"\n", i, i)
	}
	for i := range 300 {
		fmt.Fprintf(&names, "name %d\nwith a newline %s\x00", i, strings.Repeat("x", r.IntN(30)))
	}
	for i := range 60 {
		fmt.Fprintf(&seqs, ">seq%d some description\n", i)
		for range 1 + r.IntN(5) {
			fmt.Fprintf(&seqs, "%s\n", strings.Repeat("ACGT", 1+r.IntN(15)))
		}
	}
	for i := range 80 {
		if i > 0 {
			para.WriteString("\n")
		}
		fmt.Fprintf(&para, "p%d %s\n", i, strings.Repeat("word and\nmore ", 1+r.IntN(8)))
	}
	files := map[string]string{
		"sales.csv":        sales(400),
		"regions/east.csv": sales(150),
		"regions/west.csv": sales(150),
		"notes.csv":        notes.String(),
		"messy.csv":        messy.String(),
		"names.bin":        names.String(),
		"seqs.fa":          seqs.String(),
		"para.txt":         para.String(),
		"upper.py": `import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
for row in csv.reader(sys.stdin):
    w.writerow([row[0], row[1].upper()])
`,
		"lengths.awk": `/^>/ { if (id != "") print id, n; id = $1; n = 0; next }
{ n += length($0) }
END { if (id != "") print id, n }
`,
		"region.awk": "NR > 1 { print $1 \"\\t\" $2 }\n",
	}
	for name, data := range files {
		writeTestFile(t, filepath.Join(dir, name), data)
	}
}

func writeTestFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shell runs script with sh in dir, the jetmr binary first on PATH, and
// returns its stdout.
func shell(t *testing.T, dir, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "XDG_STATE_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v; stderr:\n%s", script, err, stderr.String())
	}
	return stdout.String()
}

// TestRecordsDocExamples runs each example of docs/records.md and
// compares its output with the sequential command the page gives beside
// it. Both must appear on the page as written here.
func TestRecordsDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "records.md"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cmd, seq string
		then     string // run after cmd to print its output
	}{
		{"pipe --help example", `jetmr pipe -i sales.csv --header 1 --header-once -- cut -d, -f2`, `cut -d, -f2 < sales.csv`, ""},
		{"header-once cut", `jetmr pipe -i sales.csv --header 1 --header-once --chunk-size 1KiB -- cut -d, -f2`,
			`cut -d, -f2 < sales.csv`, ""},
		{"header-once awk filter", `jetmr pipe -i sales.csv --header 1 --header-once --chunk-size 1KiB -- awk -F, 'NR == 1 || $2 > 500'`,
			`awk -F, 'NR == 1 || $2 > 500' < sales.csv`, ""},
		{"header dropped by the command", `jetmr pipe -i sales.csv --header 1 --header-once --chunk-size 1KiB -- awk -F, 'NR > 1 { print $1 }'`,
			`tail -n +2 sales.csv | awk -F, '{ print $1 }'`, ""},
		{"directory of headers", `jetmr pipe -i regions/ --header 1 --header-once --chunk-size 1KiB -- cut -d, -f2`,
			`{ head -n 1 regions/east.csv; for f in regions/*.csv; do tail -n +2 "$f"; done; } | cut -d, -f2`, ""},
		{"csv", `jetmr pipe -i notes.csv --format csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py`,
			`python3 upper.py < notes.csv`, ""},
		{"nul", `jetmr pipe -i names.bin -0 --chunk-size 100 -- xargs -0 printf '<%s>\n'`,
			`xargs -0 printf '<%s>\n' < names.bin`, ""},
		{"recend", `jetmr pipe -i para.txt --recend '\n\n' --chunk-size 100 -- awk 'BEGIN { RS = "" } { print $1, NF }'`,
			`awk 'BEGIN { RS = "" } { print $1, NF }' < para.txt`, ""},
		{"recstart", `jetmr pipe -i seqs.fa --recstart '>' --chunk-size 200 -- awk -f lengths.awk`,
			`awk -f lengths.awk < seqs.fa`, ""},
		{"built-in map skips the header", `jetmr mapreduce -i sales.csv --header 1 -o words --map wordcount --reduce sum --chunk-size 1KiB`,
			`tail -n +2 sales.csv | tr , '\n' | sort | uniq -c | awk '{ print $2 "\t" $1 }' | sort`, "cat words/part-00000"},
		{"mapreduce header", `jetmr mapreduce -i sales.csv --header 1 -o totals --map 'awk -F, -f region.awk' --reduce sum`,
			`tail -n +2 sales.csv | awk -F, '{ s[$1] += $2 } END { for (k in s) print k "\t" s[k] }' | sort`, "cat totals/part-00000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range []string{tt.cmd, tt.seq} {
				if !bytes.Contains(doc, []byte(s)) {
					t.Fatalf("docs/records.md does not show %s", s)
				}
			}
			dir := t.TempDir()
			recordFiles(t, dir)
			script := "set -e; " + strings.Replace(tt.cmd, " -i ", " -q -i ", 1)
			if tt.then != "" {
				script += "; " + tt.then
			}
			got, want := shell(t, dir, script), shell(t, dir, tt.seq)
			if want == "" || strings.Count(want, "\n") < 3 {
				t.Fatalf("the sequential run printed too little to compare: %q", want)
			}
			if got != want {
				t.Errorf("jetmr printed %d bytes, the sequential run %d\njetmr:\n%.600s\nsequential:\n%.600s", len(got), len(want), got, want)
			}
		})
	}
}

// TestRecordsNeeded checks that the examples' inputs need the record
// options: without them each example's output differs from the
// sequential run, so the examples above can fail.
func TestRecordsNeeded(t *testing.T) {
	t.Parallel()
	tests := []struct{ cmd, seq string }{
		{`jetmr pipe -q -i sales.csv --chunk-size 1KiB -- awk -F, 'NR == 1 || $2 > 500'`, `awk -F, 'NR == 1 || $2 > 500' < sales.csv`},
		{`jetmr pipe -q -i notes.csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py`, `python3 upper.py < notes.csv`},
		{`jetmr pipe -q -i names.bin --chunk-size 100 -- xargs -0 printf '<%s>\n'`, `xargs -0 printf '<%s>\n' < names.bin`},
		{`jetmr pipe -q -i seqs.fa --chunk-size 200 -- awk -f lengths.awk`, `awk -f lengths.awk < seqs.fa`},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			recordFiles(t, dir)
			got, want := shellAny(t, dir, tt.cmd), shell(t, dir, tt.seq)
			if got == want {
				t.Errorf("without the record options the output is still the sequential one: the example cannot fail")
			}
		})
	}
}

// shellAny is shell that ignores the script's exit status.
func shellAny(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "XDG_STATE_HOME="+t.TempDir())
	out, _ := cmd.Output()
	return string(out)
}

// TestRecordsBadInput checks input whose records are wrong: exit status 2,
// one line naming the problem, and no output file.
func TestRecordsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string
	}{
		{"unterminated quote", map[string]string{"bad.csv": strings.Repeat("a,b\n", 5000) + "x,\"y\nz\n"},
			[]string{"pipe", "-i", "bad.csv", "--format", "csv", "--chunk-size", "1KiB", "-o", "out.txt", "--", "cat"},
			[]string{"not valid CSV", "byte 20002 (line 5001)", "close the quote"}},
		{"unterminated quote, mapreduce", map[string]string{"bad.csv": "k,\"v\n"},
			[]string{"mapreduce", "-i", "bad.csv", "--format", "csv", "-o", "out", "--map", "lines", "--reduce", "count"},
			[]string{"not valid CSV", "byte 2 (line 1)"}},
		{"headers differ", map[string]string{"d/a.csv": "x,y\n1,2\n", "d/b.csv": "y,x\n3,4\n"},
			[]string{"pipe", "-i", "d", "--header", "1", "--header-once", "-o", "out.txt", "--", "cat"},
			[]string{"different header", "b.csv"}},
		{"headers differ, found while streaming", map[string]string{"a.csv": "x,y\n1,2\n", "b.csv.gz": ""},
			[]string{"pipe", "-i", "a.csv", "-i", "b.csv.gz", "--header", "1", "--header-once", "-o", "out.txt", "--", "cat"},
			[]string{"different header", "b.csv.gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, data := range tt.files {
				writeTestFile(t, filepath.Join(dir, name), data)
			}
			if _, ok := tt.files["b.csv.gz"]; ok {
				shell(t, dir, `printf 'y,x\n3,4\n' | gzip > b.csv.gz`)
			}
			args := append([]string{tt.args[0], "--store", t.TempDir()}, tt.args[1:]...)
			r := jetmr(t, dir, args...)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			for _, out := range []string{"out.txt", "out"} {
				if _, err := os.Stat(filepath.Join(dir, out)); err == nil {
					t.Errorf("%s was written", out)
				}
			}
			// Refused before the job starts or found once it ran, bad input
			// leaves nothing behind: no staged output to discard.
			inputs := map[string]bool{}
			for name := range tt.files {
				inputs[strings.Split(name, "/")[0]] = true
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !inputs[e.Name()] {
					t.Errorf("the working directory holds %s besides the inputs", e.Name())
				}
			}
		})
	}
}

// TestHeaderOnceRefusesReorderingCommand checks that --header-once fails a
// command whose output does not begin with its header instead of dropping
// the wrong lines.
func TestHeaderOnceRefusesReorderingCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recordFiles(t, dir)
	r := jetmr(t, dir, "pipe", "--store", t.TempDir(), "-q", "-i", "sales.csv", "--header", "1", "--header-once",
		"--chunk-size", "1KiB", "--retries", "0", "-o", "out.txt", "--", "sort")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "does not begin with the header") {
		t.Errorf("stderr does not name the header:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Errorf("out.txt was written")
	}
}

// TestRecordsVariants runs record examples on the other ways a chunk
// reaches its command: standard input and compressed files (chunks cut
// as the stream is read, carried in the task messages), transport object
// and chunks sized by --task-time.
func TestRecordsVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmd, seq string
	}{
		{"stdin header-once", `jetmr pipe -q -i - --header 1 --header-once --chunk-size 1KiB -- cut -d, -f2 < sales.csv`, `cut -d, -f2 < sales.csv`},
		{"gzip csv", `gzip -k notes.csv && jetmr pipe -q -i notes.csv.gz --format csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py`, `python3 upper.py < notes.csv`},
		{"stdin nul", `jetmr pipe -q -i - -0 --chunk-size 100 -- xargs -0 printf '<%s>\n' < names.bin`, `xargs -0 printf '<%s>\n' < names.bin`},
		{"transport object", `jetmr pipe -q --transport object -i notes.csv --format csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py`, `python3 upper.py < notes.csv`},
		{"csv with stray quotes", `jetmr pipe -q -i messy.csv --format csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py`, `python3 upper.py < messy.csv`},
		{"stdin csv with stray quotes", `jetmr pipe -q -i - --format csv --header 1 --header-once --chunk-size 1KiB -- python3 upper.py < messy.csv`, `python3 upper.py < messy.csv`},
		{"task time", `jetmr pipe -q --task-time 1s -i seqs.fa --recstart '>' --chunk-size 200 --header 2 --header-once -- awk -f lengths.awk`, `awk -f lengths.awk < seqs.fa`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			recordFiles(t, dir)
			got, want := shell(t, dir, "set -e; "+tt.cmd), shell(t, dir, tt.seq)
			if strings.Count(want, "\n") < 3 {
				t.Fatalf("the sequential run printed too little to compare: %q", want)
			}
			if got != want {
				t.Errorf("jetmr printed %d bytes, the sequential run %d\njetmr:\n%.600s\nsequential:\n%.600s", len(got), len(want), got, want)
			}
		})
	}
}

// TestHeaderRetryFailed checks that a dead letter keeps its chunk's
// header: --resume --retry-failed runs the chunk again with the header
// first, so the output is the sequential run's. A resume with other
// record options is refused.
func TestHeaderRetryFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("region,amount\n")
	for i := 1; i <= 3000; i++ {
		if i == 2100 {
			b.WriteString("POISON,900\n")
			continue
		}
		fmt.Fprintf(&b, "r%d,%d\n", i%7, (i*37)%1000)
	}
	writeTestFile(t, filepath.Join(dir, "in.csv"), b.String())
	store := t.TempDir()
	run := func(awk string, more ...string) result {
		args := append([]string{"pipe", "--store", store, "--job", "hdr", "-q", "-i", "in.csv", "-o", "out.csv",
			"--header", "1", "--header-once", "--chunk-size", "4KiB", "--retries", "0"}, more...)
		return jetmr(t, dir, append(args, "--", "awk", "-F,", awk)...)
	}
	good := `NR == 1 || $2 > 500`
	if r := run(`/POISON/ { exit 3 } ` + good); r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if r := run(good, "--resume", "--retry-failed", "--format", "csv"); r.code != 2 || !strings.Contains(r.stderr, `--format was "", now "csv"`) {
		t.Fatalf("resume with --format csv: exit %d, want 2 naming --format; stderr:\n%s", r.code, r.stderr)
	}
	if r := run(good, "--resume", "--retry-failed"); r.code != 0 {
		t.Fatalf("retry-failed: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, []string{"awk", "-F,", good}, filepath.Join(dir, "in.csv")); string(got) != want {
		t.Fatalf("output after --retry-failed (%d bytes) differs from the sequential run (%d bytes)", len(got), len(want))
	}
}
