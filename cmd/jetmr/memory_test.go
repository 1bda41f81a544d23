package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLike writes lines of one id each, drawn from distinct ids, as the
// bench's high-cardinality input.
func logLike(t *testing.T, path string, lines, distinct int) {
	t.Helper()
	var b bytes.Buffer
	rng := rand.New(rand.NewPCG(11, 12))
	for range lines {
		fmt.Fprintf(&b, "u%07d\n", rng.IntN(distinct))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sortUniq is `LC_ALL=C sort | uniq -c` of path as key<TAB>count lines.
func sortUniq(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `LC_ALL=C sort "$1" | LC_ALL=C uniq -c`, "sh", path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sort | uniq -c: %v", err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		fmt.Fprintf(&b, "%s\t%s\n", f[1], f[0])
	}
	return b.String()
}

// TestMapReduceMemorySpills runs a high-cardinality count with a budget
// that makes the reduce spill many sorted runs, and with the default
// budget, and checks both against sort | uniq -c: the same lines, key
// order included, and no run left in the work folder.
func TestMapReduceMemorySpills(t *testing.T) {
	t.Parallel()
	in := filepath.Join(t.TempDir(), "ids.txt")
	logLike(t, in, 120000, 60000)
	want := sortUniq(t, in)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default budget", []string{"--map", "grep:^.+$", "--reduce", "count"}},
		{"spilling", []string{"--map", "grep:^.+$", "--reduce", "count", "--memory", "1MiB"}},
		{"spilling, wordcount, sum, 2 partitions", []string{"--map", "wordcount", "--reduce", "sum", "--memory", "2MiB", "--partitions", "2"}},
		// One task over the whole input: its combiner spills map-side.
		{"map-side spilling, wordcount, sum", []string{"--map", "wordcount", "--reduce", "sum", "--memory", "2MiB", "--partitions", "2", "--chunk-size", "16MiB"}},
		{"map-side spilling, count", []string{"--map", "grep:^.+$", "--reduce", "count", "--memory", "1MiB", "--chunk-size", "16MiB"}},
		{"map-side spilling, reducer command", []string{"--map", "grep:^.+$", "--memory", "3MiB", "--chunk-size", "16MiB", "--partitions", "3",
			"--reduce", `awk -F '\t' '{ s[$1] += $2 } END { for (k in s) print k "\t" s[k] }'`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, store := t.TempDir(), t.TempDir()
			args := append([]string{"mapreduce", "--store", store, "-i", in, "-o", "out", "--chunk-size", "64KiB"}, tc.args...)
			r := jetmr(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
			}
			parts, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
			var lines []string
			for _, p := range parts {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, strings.SplitAfter(string(data), "\n")...)
			}
			got := sortedLines(lines)
			if got != want {
				t.Errorf("output differs from sort | uniq -c: %d bytes, want %d", len(got), len(want))
			}
			runs, _ := filepath.Glob(filepath.Join(store, "spill", "*", "runs", "*"))
			if len(runs) > 0 {
				t.Errorf("runs left in the work folder: %q", runs)
			}
			combined, _ := filepath.Glob(filepath.Join(store, "spill", "*", "*.run"))
			if len(combined) > 0 {
				t.Errorf("map-side runs left in the spill folder: %q", combined)
			}
		})
	}
}

// sortedLines joins lines sorted bytewise (the order of one partition;
// several partitions interleave).
func sortedLines(lines []string) string {
	var keep []string
	for _, l := range lines {
		if l != "" {
			keep = append(keep, l)
		}
	}
	slices.Sort(keep)
	return strings.Join(keep, "")
}

// TestCrashResumeWithSpilledRuns kills a high-cardinality count whose
// reduce spills sorted runs, at random moments, resumes it until it
// completes, and checks the output against sort | uniq -c: the runs a
// killed process left are rebuilt from the results stream, never folded
// in twice, and none is left behind.
func TestCrashResumeWithSpilledRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "ids.txt")
	logLike(t, in, 200000, 80000)
	want := sortUniq(t, in)
	store := filepath.Join(dir, "store")
	args := []string{"mapreduce", "--store", store, "--job", "spillcrash", "-i", in, "-o", "counts",
		"--map", "grep:^.+$", "--reduce", "count", "--memory", "1MiB", "--chunk-size", "32KiB", "-j", "2"}
	r := rand.New(rand.NewPCG(21, 22))
	n := runUntilDone(t, dir, r, syscall.SIGKILL, 1500*time.Millisecond, args, "ids.txt")
	t.Logf("completed after %d interruptions", n)
	data, err := os.ReadFile(filepath.Join(dir, "counts", "part-00000"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("output differs from sort | uniq -c: %d bytes, want %d", len(data), len(want))
	}
	runs, _ := filepath.Glob(filepath.Join(store, "spill", "*", "runs", "*"))
	if len(runs) > 0 {
		t.Errorf("runs left in the work folder: %q", runs)
	}
	assertNoTemporaries(t, dir)
}

// TestKeyOrderThroughSpills runs a numeric-reverse count whose map-side
// combiner and reduce spill sorted runs, through the fold, a reducer
// command and a combiner command, and checks that every part file is in
// the key order (a reducer that prints a group when its key changes keeps
// the order of its input) and that the lines are sort | uniq -c's.
func TestKeyOrderThroughSpills(t *testing.T) {
	t.Parallel()
	in := filepath.Join(t.TempDir(), "nums.txt")
	var b bytes.Buffer
	rng := rand.New(rand.NewPCG(31, 32))
	for range 120000 {
		fmt.Fprintf(&b, "%d\n", rng.IntN(60000))
	}
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := sortUniq(t, in)
	groups := `awk -F '\t' 'NR > 1 && $1 != k { print k "\t" c; c = 0 } { k = $1; c += $2 } END { if (NR) print k "\t" c }'`
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reduce-side spilling, count", []string{"--reduce", "count", "--memory", "2MiB", "--chunk-size", "64KiB"}},
		{"map-side spilling, count", []string{"--reduce", "count", "--memory", "2MiB", "--chunk-size", "16MiB"}},
		{"map-side spilling, reducer command", []string{"--reduce", groups, "--memory", "2MiB", "--chunk-size", "16MiB"}},
		{"reducer and combiner commands", []string{"--reduce", groups, "--combiner", groups, "--memory", "2MiB", "--chunk-size", "256KiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, store := t.TempDir(), t.TempDir()
			args := append([]string{"mapreduce", "--store", store, "-i", in, "-o", "out", "--map", "grep:^.+$",
				"--key-order", "numeric-reverse", "--partitions", "2"}, tc.args...)
			r := jetmr(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
			}
			parts, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
			if len(parts) != 2 {
				t.Fatalf("part files %q, want 2", parts)
			}
			var lines []string
			for _, p := range parts {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				part := strings.SplitAfter(string(data), "\n")
				prev := -1
				for i, l := range part {
					if l == "" {
						continue
					}
					k, err := strconv.Atoi(strings.SplitN(l, "\t", 2)[0])
					if err != nil {
						t.Fatalf("%s line %d %q: %v", p, i+1, l, err)
					}
					if prev >= 0 && k >= prev {
						t.Fatalf("%s line %d: key %d after %d, want numeric-reverse order", p, i+1, k, prev)
					}
					prev = k
				}
				lines = append(lines, part...)
			}
			if got := sortedLines(lines); got != want {
				t.Errorf("output differs from sort | uniq -c: %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestCombinerCommandSpills runs a count through a combiner command with
// a --memory whose combiner share (1 MiB) is far below the one task's
// chunk, so that the task's pairs spill as sorted runs before they reach
// the command, and without a budget that makes them spill: the part files
// are byte for byte the same, and the counts are sort | uniq -c's.
func TestCombinerCommandSpills(t *testing.T) {
	t.Parallel()
	in := filepath.Join(t.TempDir(), "ids.txt")
	logLike(t, in, 150000, 40000)
	want := sortUniq(t, in)
	groups := `awk -F '\t' 'NR > 1 && $1 != k { print k "\t" c; c = 0 } { k = $1; c += $2 } END { if (NR) print k "\t" c }'`
	dir := t.TempDir()
	run := func(out, memory string) {
		r := jetmr(t, dir, "mapreduce", "--store", t.TempDir(), "-i", in, "-o", out, "--map", "grep:^.+$", "--combiner", groups,
			"--reduce", groups, "--partitions", "3", "--chunk-size", "16MiB", "--memory", memory, "--report", out+".json")
		if r.code != 0 {
			t.Fatalf("--memory %s: exit %d; stderr:\n%s", memory, r.code, r.stderr)
		}
	}
	run("tight", "3MiB")
	run("roomy", "1GiB")
	if got, roomy := readOutput(t, filepath.Join(dir, "tight")), readOutput(t, filepath.Join(dir, "roomy")); got != roomy {
		t.Fatalf("output with --memory 3MiB differs from the run whose combiner did not spill: %d bytes, want %d", len(got), len(roomy))
	}
	var lines []string
	for _, name := range dirNames(t, filepath.Join(dir, "tight")) {
		data, err := os.ReadFile(filepath.Join(dir, "tight", name))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.SplitAfter(string(data), "\n")...)
	}
	if got := sortedLines(lines); got != want {
		t.Errorf("counts differ from sort | uniq -c: %d bytes, want %d", len(got), len(want))
	}
	// One task: the combiner reads every line and prints each id once.
	distinct := float64(strings.Count(want, "\n"))
	for _, name := range []string{"tight", "roomy"} {
		counters, _ := readReport(t, filepath.Join(dir, name+".json"))["counters"].([]any)
		got := map[string]float64{}
		for _, c := range counters {
			if c, ok := c.(map[string]any); ok && c["group"] == "jetmr" {
				got[c["name"].(string)], _ = c["value"].(float64)
			}
		}
		if got["combine input pairs"] != 150000 || got["combine output pairs"] != distinct {
			t.Errorf("%s: combiner counters %v, want 150000 pairs in and %v out", name, got, distinct)
		}
	}
}
