package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// poisonScript fails (exit 3) on a line that starts with BAD and doubles
// the number on every other line; poisonMap emits each number's residue
// modulo 7 with the number, for a sum.
const (
	poisonScript = `/^BAD/ { print "poison: " $0 > "/dev/stderr"; exit 3 } { print $0 * 2 }`
	poisonMap    = `/^BAD/ { print "poison: " $0 > "/dev/stderr"; exit 3 } { print $0 % 7 "\t" $0 }`
)

// writePoison writes n numbered lines to path, the 1-based lines in bad
// replaced by BAD lines, and the same input without them to clean. It
// returns the byte offset of each bad line.
func writePoison(t *testing.T, path, clean string, n int, bad ...int) []int64 {
	t.Helper()
	var all, good bytes.Buffer
	var offsets []int64
	for line := 1; line <= n; line++ {
		if slices.Contains(bad, line) {
			offsets = append(offsets, int64(all.Len()))
			fmt.Fprintf(&all, "BAD %d\n", line)
			continue
		}
		fmt.Fprintf(&all, "%d\n", line)
		fmt.Fprintf(&good, "%d\n", line)
	}
	if err := os.WriteFile(path, all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clean, good.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return offsets
}

// TestPoisonLineNamed fails a pipe job on one line of a chunk of about
// 3000 lines: the dead letter names that line, its offset and its first
// bytes in the summary, the run report and status (text and JSON), after
// no more than ⌈log2 lines⌉ + 2 extra runs.
func TestPoisonLineNamed(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	offsets := writePoison(t, in, filepath.Join(dir, "clean.txt"), 6000, 4321)
	r := h.run(t, dir, "pipe", "--job", "poison1", "-i", in, "-o", "out.txt", "--chunk-size", "16KiB", "--retries", "1",
		"--report", "r.json", "--", "awk", poisonScript)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	want := fmt.Sprintf(`bad record: %s line 4321 (byte %d): "BAD 4321\n"`, in, offsets[0])
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "the input without the bad record(s) above succeeds") {
		t.Fatalf("stderr does not name the line (%s):\n%s", want, r.stderr)
	}
	dead := readReport(t, filepath.Join(dir, "r.json"))["dead_letters"].([]any)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	dl := dead[0].(map[string]any)
	recs, _ := dl["records"].([]any)
	if len(recs) != 1 {
		t.Fatalf("dead letter names %d records, want 1: %v", len(recs), dl)
	}
	rec := recs[0].(map[string]any)
	if rec["line"] != 4321.0 || rec["offset"] != float64(offsets[0]) || rec["preview"] != `"BAD 4321\n"` || dl["isolation"] != "records" {
		t.Errorf("report names %v", dl)
	}
	lines := float64(dl["length"].(float64)) / 5 // about 5 bytes a line
	if runs := dl["isolation_runs"].(float64); runs < 1 || runs > math.Ceil(math.Log2(lines*1.2))+2 {
		t.Errorf("%v extra runs for a chunk of about %.0f lines", runs, lines)
	}

	st := h.run(t, dir, "status", "poison1")
	if st.code != 0 || !strings.Contains(st.stdout, want) {
		t.Errorf("status (exit %d) does not name the line:\n%s%s", st.code, st.stdout, st.stderr)
	}
	st = h.run(t, dir, "status", "--json", "poison1")
	var js struct {
		Failed []struct {
			Records []struct {
				Line    int    `json:"line"`
				Offset  int64  `json:"offset"`
				Preview string `json:"preview"`
			} `json:"records"`
		} `json:"failed"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &js); err != nil {
		t.Fatalf("status --json: %v\n%s", err, st.stdout)
	}
	if len(js.Failed) != 1 || len(js.Failed[0].Records) != 1 || js.Failed[0].Records[0].Line != 4321 || js.Failed[0].Records[0].Offset != offsets[0] {
		t.Errorf("status --json names %+v", js.Failed)
	}
}

// TestSkipBadRecords runs pipe and mapreduce jobs over an input with three
// bad lines (one in one chunk, two adjacent in another) with
// --skip-bad-records 3, embedded and with a worker process over NATS: the
// output is byte for byte that of the same job over the input without
// them, the rejects file names them, and the job warns. With
// --skip-bad-records 2 the job fails and publishes nothing.
func TestSkipBadRecords(t *testing.T) {
	t.Parallel()
	bad := []int{11, 4200, 4201}
	for _, tc := range []struct {
		name string
		nats bool
		kind []string // the job's command line after its input and output
		out  string
	}{
		{"pipe", false, []string{"pipe"}, "out.txt"},
		{"pipe over NATS", true, []string{"pipe"}, "out.txt"},
		{"mapreduce", false, []string{"mapreduce", "--reduce", "sum"}, "sums"},
		{"mapreduce over NATS", true, []string{"mapreduce", "--reduce", "sum"}, "sums"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
			offsets := writePoison(t, in, clean, 6000, bad...)
			var where []string
			if tc.nats {
				url := plainNATS(t)
				w := startWorker(t, url, "-j", "2", "--spill="+filepath.Join(dir, "spill"))
				w.waitUp(t)
				defer w.term(t)
				where = []string{"--nats", url, "--local-workers", "0"}
			}
			script, mapScript := poisonScript, poisonMap
			args := func(input, output string, extra ...string) []string {
				a := append([]string{tc.kind[0], "--store", t.TempDir(), "-i", input, "-o", output, "--chunk-size", "8KiB", "--retries", "1"}, where...)
				a = append(a, tc.kind[1:]...)
				a = append(a, extra...)
				if tc.kind[0] == "pipe" {
					return append(a, "--", "awk", script)
				}
				return append(a, "--map", "awk '"+mapScript+"'")
			}
			ref := jetmr(t, dir, args(clean, "ref")...)
			if ref.code != 0 {
				t.Fatalf("the run over the clean input: exit %d; stderr:\n%s", ref.code, ref.stderr)
			}
			r := jetmr(t, dir, args(in, tc.out, "--skip-bad-records", "3", "--report", "r.json")...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "warning: 3 bad record(s) left out of the output") {
				t.Errorf("no warning counting the records:\n%s", r.stderr)
			}
			if got, want := readOutput(t, filepath.Join(dir, tc.out)), readOutput(t, filepath.Join(dir, "ref")); got != want {
				t.Fatalf("output differs from the run over the input without the bad lines:\n%.300s\nwant\n%.300s", got, want)
			}
			if tc.kind[0] == "pipe" {
				if got, want := readOutput(t, filepath.Join(dir, tc.out)), sequential(t, []string{"awk", poisonScript}, clean); got != want {
					t.Fatalf("output differs from the command run sequentially over the clean input")
				}
			}
			rejects := readRejects(t, filepath.Join(dir, tc.out+".rejected"))
			if len(rejects) != len(bad) {
				t.Fatalf("rejects file holds %d records, want %d: %v", len(rejects), len(bad), rejects)
			}
			for i, rj := range rejects {
				if rj["path"] != in || rj["line"] != float64(bad[i]) || rj["offset"] != float64(offsets[i]) ||
					rj["record"] != fmt.Sprintf("BAD %d\n", bad[i]) || rj["exit_status"] != 3.0 ||
					!strings.Contains(rj["stderr_tail"].(string), fmt.Sprintf("poison: BAD %d", bad[i])) {
					t.Errorf("reject %d: %v, want line %d at %d", i, rj, bad[i], offsets[i])
				}
			}
			rep := readReport(t, filepath.Join(dir, "r.json"))
			if s, _ := rep["skipped_records"].([]any); len(s) != len(bad) || rep["rejects"] != filepath.Join(dir, tc.out+".rejected") || rep["failed"] != 0.0 {
				t.Errorf("report: skipped %v, rejects %v, failed %v", rep["skipped_records"], rep["rejects"], rep["failed"])
			}

			store := t.TempDir()
			over := args(in, "out2", "--skip-bad-records", "2", "--job", "over", "--report", "over.json")
			over[2] = store // after the kind: --store DIR
			r = jetmr(t, dir, over...)
			if r.code != 1 || !strings.Contains(r.stderr, "more than --skip-bad-records 2") {
				t.Fatalf("one bad record too many: exit %d, want 1 naming the limit; stderr:\n%s", r.code, r.stderr)
			}
			// The task refused stored a success: status lists it from the
			// job's last snapshot, as the report does.
			dead := readReport(t, filepath.Join(dir, "over.json"))["dead_letters"].([]any)
			if len(dead) != 1 || dead[0].(map[string]any)["over_limit"] != true {
				t.Fatalf("report's dead letters %v, want one over the limit", dead)
			}
			var st struct {
				Failed []map[string]any `json:"failed"`
			}
			from := []string{"--store", store}
			if tc.nats {
				from = where[:2] // --nats URL
			}
			sr := jetmr(t, dir, append([]string{"status", "--json", "over"}, from...)...)
			if err := json.Unmarshal([]byte(sr.stdout), &st); err != nil || sr.code != 0 {
				t.Fatalf("status --json: exit %d, %v\n%s%s", sr.code, err, sr.stdout, sr.stderr)
			}
			if len(st.Failed) != 1 || fmt.Sprint(st.Failed[0]["records"]) != fmt.Sprint(dead[0].(map[string]any)["records"]) {
				t.Errorf("status lists %v, want the report's dead letter %v", st.Failed, dead[0])
			}
			for _, name := range []string{"out2", "out2.rejected"} {
				if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
					t.Errorf("%s written by a failed job", name)
				}
			}

			// The hint's --resume --retry-failed, the command fixed to drop
			// BAD lines itself, reruns the refused task only: the output is
			// the clean run's, and the rejects file holds the records the
			// other task skipped.
			if !strings.Contains(r.stderr, "--resume --retry-failed") {
				t.Fatalf("no --resume --retry-failed hint:\n%s", r.stderr)
			}
			script = strings.Replace(poisonScript, `{ print "poison: " $0 > "/dev/stderr"; exit 3 }`, "{ next }", 1)
			mapScript = strings.Replace(poisonMap, `{ print "poison: " $0 > "/dev/stderr"; exit 3 }`, "{ next }", 1)
			retry := args(in, "out2", "--skip-bad-records", "2", "--job", "over", "--resume", "--retry-failed")
			retry[2] = store
			r = jetmr(t, dir, retry...)
			if r.code != 0 {
				t.Fatalf("--resume --retry-failed: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if got, want := readOutput(t, filepath.Join(dir, "out2")), readOutput(t, filepath.Join(dir, "ref")); got != want {
				t.Fatalf("output after --retry-failed differs from the run over the input without the bad lines")
			}
			kept := readRejects(t, filepath.Join(dir, "out2.rejected"))
			refused := len(dead[0].(map[string]any)["records"].([]any))
			if len(kept) != len(bad)-refused {
				t.Errorf("rejects after --retry-failed hold %d records, want the %d the accepted task skipped", len(kept), len(bad)-refused)
			}
		})
	}
}

// readOutput reads a pipe job's output file, or the part files of a
// mapreduce job's output directory, concatenated in name order.
func readOutput(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	var b strings.Builder
	for _, name := range dirNames(t, path) {
		data, err := os.ReadFile(filepath.Join(path, name))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + ":\n")
		b.Write(data)
	}
	return b.String()
}

// readRejects reads a rejects file, one JSON object a line.
func readRejects(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("rejects line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestSkipBadRecordsBadInput checks the misuses of --skip-bad-records and
// --rejects: exit 2 with one message naming the flag and the fix, before
// any job starts or anything is written.
func TestSkipBadRecordsBadInput(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	pipe := func(extra ...string) []string {
		return append(append([]string{"pipe", "-i", in, "-o", "out.txt"}, extra...), "--", "cat")
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"negative", pipe("--skip-bad-records", "-1"), []string{"--skip-bad-records -1 is not valid"}},
		{"not a number", pipe("--skip-bad-records", "x"), []string{"--skip-bad-records"}},
		{"rejects without skipping", pipe("--rejects", "r.txt"), []string{"--rejects", "add --skip-bad-records N"}},
		{"rejects folder missing", pipe("--skip-bad-records", "1", "--rejects", "nodir/r.txt"), []string{"--rejects", "nodir/r.txt", "does not exist"}},
		{"rejects is the output", pipe("--skip-bad-records", "1", "--rejects", "out.txt"), []string{"--rejects out.txt is the output"}},
		{"rejects is an input", pipe("--skip-bad-records", "1", "--rejects", in), []string{"also an input", "choose another --rejects"}},
		{"csv records", pipe("--skip-bad-records", "1", "--format", "csv"), []string{"--skip-bad-records", "--format"}},
		{"recstart records", pipe("--skip-bad-records", "1", "--recstart", ">"), []string{"--skip-bad-records", "--recstart"}},
		{"standard output", []string{"pipe", "-i", in, "--skip-bad-records", "1", "--", "cat"}, []string{"add --rejects FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{tc.args[0], "--store", filepath.Join(t.TempDir(), "store")}, tc.args[1:]...)
			checkRefused(t, dir, jetmr(t, dir, args...), tc.want)
		})
	}
}

// TestExistingRejectsRule checks that a rejects file that exists is
// refused like an existing output (exit 2 naming it and --force, left
// untouched) and replaced whole with --force.
func TestExistingRejectsRule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
	writePoison(t, in, clean, 100, 7)
	for _, name := range []string{"out.txt.rejected", "mine.rej"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, extra := range [][]string{nil, {"--rejects", "mine.rej"}} {
		rejects := "out.txt.rejected"
		if extra != nil {
			rejects = "mine.rej"
		}
		args := append([]string{"pipe", "--store", t.TempDir(), "-i", in, "-o", "out.txt", "--skip-bad-records", "1"}, extra...)
		r := jetmr(t, dir, append(args, "--", "awk", poisonScript)...)
		if r.code != 2 || !strings.Contains(r.stderr, rejects+" already exists") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("exit %d, want 2 naming %s and --force; stderr:\n%s", r.code, rejects, r.stderr)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, rejects)); string(data) != "mine\n" {
			t.Fatalf("the existing rejects file changed: %q", data)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
			t.Fatalf("output written by a refused job")
		}
		args = append([]string{"pipe", "--store", t.TempDir(), "--force", "-i", in, "-o", "out.txt", "--skip-bad-records", "1"}, extra...)
		if r := jetmr(t, dir, append(args, "--", "awk", poisonScript)...); r.code != 0 {
			t.Fatalf("with --force: exit %d; stderr:\n%s", r.code, r.stderr)
		}
		if got := readRejects(t, filepath.Join(dir, rejects)); len(got) != 1 || got[0]["line"] != 7.0 {
			t.Fatalf("with --force, the rejects file holds %v, want line 7", got)
		}
		os.Remove(filepath.Join(dir, "out.txt"))
	}
}

// TestSkipBadRecordsStdin skips a bad line of standard input, the output
// on stdout: --rejects names the file, whose record is the whole line
// (standard input has no line numbers to give).
func TestSkipBadRecordsStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
	long := "BAD " + strings.Repeat("x", 200)
	writePoison(t, in, clean, 3000, 1500)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("BAD 1500\n"), []byte(long+"\n"), 1)
	r := jetmrStdin(t, dir, bytes.NewReader(data), "pipe", "--store", t.TempDir(), "-i", "-", "--chunk-size", "4KiB", "--retries", "0",
		"--skip-bad-records", "1", "--rejects", "rej.jsonl", "--", "awk", poisonScript)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if want := sequential(t, []string{"awk", poisonScript}, clean); r.stdout != want {
		t.Fatalf("stdout differs from the command over the input without the bad line")
	}
	rejects := readRejects(t, filepath.Join(dir, "rej.jsonl"))
	if len(rejects) != 1 || rejects[0]["record"] != long+"\n" || rejects[0]["line"] != nil {
		t.Fatalf("rejects %v, want the whole long line without a line number", rejects)
	}
}
