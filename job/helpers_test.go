package job_test

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jetmr/jetmr/internal/clitest"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/splitter"
)

// jobTimeout bounds every job a test runs.
const jobTimeout = 30 * time.Second

// td is the absolute path of a file or directory under the repository's
// testdata folder.
func td(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testdata %s: %v", name, err)
	}
	return p
}

// baseConfig is a job configuration with its own embedded broker store.
func baseConfig(t testing.TB) job.Config {
	return job.Config{
		Broker: broker.Config{StoreDir: t.TempDir()},
		Slots:  4,
	}
}

// runJob runs cfg with a deadline and reports how long it took.
func runJob(t testing.TB, cfg job.Config) (*report.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	rep, err := job.Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatalf("job did not finish within %s (err %v)", jobTimeout, err)
	}
	return rep, err
}

var (
	genMu    sync.Mutex
	genFiles = map[string]string{}
)

// generatedText returns the path of a file of about size bytes of seeded
// pseudo-random text, generated once per name for the whole package. The
// text has lines of varied length (some empty), mixed case, digits and
// punctuation; unless ascii, also non-ASCII letters.
func generatedText(t testing.TB, name string, size int, seed uint64, ascii bool) string {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	if p, ok := genFiles[name]; ok {
		return p
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	vocab := make([]string, 3000)
	for i := range vocab {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		vocab[i] = b.String()
	}
	vocab = append(vocab, "42", "2024", "x86", "mp3", "007")
	if !ascii {
		vocab = append(vocab, "café", "Zürich", "naïve", "straße", "ΑΒΓ", "ωmega", "日本語", "ﬁne", "İstanbul")
	}
	seps := []string{" ", " ", " ", ", ", ". ", "; ", " - ", "'", "(", ") ", "\t", "!"}
	var buf bytes.Buffer
	for buf.Len() < size {
		n := r.IntN(16)
		if r.IntN(50) == 0 {
			n = 0 // an empty line now and then
		}
		for i := range n {
			w := vocab[int(r.ExpFloat64()*300)%len(vocab)]
			switch r.IntN(10) {
			case 0:
				w = strings.ToUpper(w)
			case 1:
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			buf.WriteString(w)
			if i < n-1 {
				buf.WriteString(seps[r.IntN(len(seps))])
			}
		}
		buf.WriteByte('\n')
	}
	p := filepath.Join(sharedDir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	genFiles[name] = p
	return p
}

// inputFiles resolves paths the way jetmr documents it: files as given,
// directories walked recursively in lexical order, each file once.
func inputFiles(t testing.TB, paths ...string) []string {
	t.Helper()
	var files []string
	seen := map[string]bool{}
	add := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[real] {
			seen[real] = true
			files = append(files, p)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				add(q)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// sequentialPipe is the reference of a pipe job: argv run once per file,
// with the file on stdin, outputs concatenated in order.
func sequentialPipe(t testing.TB, argv []string, files []string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout = in, &out
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		in.Close()
		if err != nil {
			t.Fatalf("reference run of %q on %s: %v: %s", argv, f, err, stderr.Bytes())
		}
	}
	return out.Bytes()
}

// countRanges is how many tasks jetmr should make of paths.
func countRanges(t testing.TB, chunk int64, paths ...string) (tasks int, bytes int64) {
	t.Helper()
	inputs, err := splitter.ResolveInputs(paths)
	if err != nil {
		t.Fatal(err)
	}
	err = splitter.Ranges(context.Background(), inputs, chunk, func(r splitter.Range) error {
		tasks++
		bytes += r.Length
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tasks, bytes
}

// referenceWordCount counts words the way the built-in wordcount defines
// them: maximal runs of Unicode letters and digits, lower-cased rune by
// rune; everything else, invalid UTF-8 included, separates words.
func referenceWordCount(t testing.TB, files []string) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var word []byte
		flush := func() {
			if len(word) > 0 {
				counts[string(word)]++
				word = word[:0]
			}
		}
		for len(data) > 0 {
			r, size := utf8.DecodeRune(data)
			data = data[size:]
			if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				word = utf8.AppendRune(word, unicode.ToLower(r))
			} else {
				flush()
			}
		}
		flush()
	}
	return counts
}

// readParts reads a map-reduce output directory of partitions part files,
// checking it as [clitest.ReadParts] does.
func readParts(t testing.TB, dir string, partitions int) map[string]string {
	return clitest.ReadParts(t, dir, partitions)
}

// dirNames lists the names in dir, hidden ones included, sorted.
func dirNames(t testing.TB, dir string) []string { return clitest.DirNames(t, dir) }

// checkNoSpill checks that a finished job left no spill files in its store.
func checkNoSpill(t testing.TB, cfg job.Config) {
	t.Helper()
	spill := filepath.Join(cfg.Broker.StoreDir, "spill")
	if _, err := os.Stat(spill); os.IsNotExist(err) {
		return
	}
	var left []string
	filepath.WalkDir(spill, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != spill {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("spill files left behind: %q", left)
	}
}

// compareCounts compares a word count output with the reference.
func compareCounts(t testing.TB, got map[string]string, want map[string]int64) {
	t.Helper()
	bad := 0
	for k, n := range want {
		if g, ok := got[k]; !ok || g != strconv.FormatInt(n, 10) {
			if bad++; bad <= 10 {
				t.Errorf("key %q: got %q (present %v), want %d", k, g, ok, n)
			}
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("unexpected key %q with value %q", k, v)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d keys differ (got %d keys, want %d)", bad, len(got), len(want))
	}
}

// firstDiff describes where two outputs first differ.
func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	lo := max(0, i-40)
	return "lengths " + strconv.Itoa(len(got)) + " vs " + strconv.Itoa(len(want)) +
		", first difference at byte " + strconv.Itoa(i) +
		": got " + strconv.Quote(string(got[lo:min(len(got), i+40)])) +
		", want " + strconv.Quote(string(want[lo:min(len(want), i+40)]))
}

// writeScript writes an executable shell script and returns its path.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
