package mapper_test

import (
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// poisonCommand fails (exit 3, naming the line on stderr) on a line that
// starts with BAD, and otherwise doubles each number.
var poisonCommand = []string{"awk", `/^BAD/ { print "poison: " $0 > "/dev/stderr"; exit 3 } { print $0 * 2 }`}

// poisonInput is n numbered lines, those at the 0-based positions in bad
// replaced by BAD lines; it returns the input and the byte offset of each
// bad line.
func poisonInput(n int, bad ...int) ([]byte, []int64) {
	var b bytes.Buffer
	var offsets []int64
	for i := range n {
		if slices.Contains(bad, i) {
			offsets = append(offsets, int64(b.Len()))
			fmt.Fprintf(&b, "BAD %d\n", i)
			continue
		}
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.Bytes(), offsets
}

// runTask runs one inline task of rec on a real worker and returns its
// result (the failure's, or partition 0's).
func runTask(t *testing.T, rec schema.JobRecord, data []byte) schema.Result {
	t.Helper()
	rec.ID, rec.Partitions = "w1", max(rec.Partitions, 1)
	b := startWorkerFor(t, rec)
	it := results(t, b.JS)
	task, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Inline: data})
	publishTask(t, b.JS, task)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// maxRuns is the bound on the runs that isolate k bad records among n
// lines: ⌈log2 n⌉ + 2 each (the run that confirms the rest included),
// and one run of an empty input once more than one is sought.
func maxRuns(n, k int) int {
	per := int(math.Ceil(math.Log2(float64(n)))) + 2
	if k > 1 {
		return k*per + 1
	}
	return per
}

// TestIsolateExactRecords fails tasks on BAD lines at various places and
// checks that the dead letter names exactly those lines, with their
// offsets, previews and exit status, within the bound on extra runs.
func TestIsolateExactRecords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines int
		bad   []int
	}{
		{"one line", 1, []int{0}},
		{"first of two", 2, []int{0}},
		{"last of seven", 7, []int{6}},
		{"middle of a thousand", 1000, []int{500}},
		{"first of 4096", 4096, []int{0}},
		{"last of 4096", 4096, []int{4095}},
		{"two far apart", 3000, []int{17, 2900}},
		{"three adjacent", 1000, []int{400, 401, 402}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, offsets := poisonInput(tc.lines, tc.bad...)
			r := runTask(t, schema.JobRecord{Kind: schema.KindPipe, Command: poisonCommand}, data)
			if r.Err == nil || r.Isolation == nil {
				t.Fatalf("got %+v, want a failure with its isolation", r)
			}
			iso := r.Isolation
			if iso.Outcome != schema.IsolatedRecords || len(iso.Records) != len(tc.bad) {
				t.Fatalf("outcome %q with %d records %+v, want %q with %d", iso.Outcome, len(iso.Records), iso.Records, schema.IsolatedRecords, len(tc.bad))
			}
			for i, rec := range iso.Records {
				line := fmt.Sprintf("BAD %d\n", tc.bad[i])
				if rec.Offset != offsets[i] || rec.Length != int64(len(line)) || string(rec.Preview) != line {
					t.Errorf("record %d: %+v, want offset %d, length %d, preview %q", i, rec, offsets[i], len(line), line)
				}
				if rec.Err.ExitStatus != 3 || !strings.Contains(rec.Err.StderrTail, "poison: "+strings.TrimSpace(line)) {
					t.Errorf("record %d: error %+v, want exit 3 and its own stderr", i, rec.Err)
				}
			}
			if limit := maxRuns(tc.lines, len(tc.bad)); iso.Attempts > limit || iso.Attempts < 1 {
				t.Errorf("%d extra runs, want 1 to %d", iso.Attempts, limit)
			}
		})
	}
}

// TestIsolateNoRecordToBlame checks the failures no record causes: a
// command that fails on any input, even an empty one, and one that fails
// only on a combination of records (flaky, as far as bisection can tell).
func TestIsolateNoRecordToBlame(t *testing.T) {
	t.Parallel()
	data, _ := poisonInput(100)
	for _, tc := range []struct {
		name    string
		command []string
		data    []byte
		want    string
	}{
		{"fails always", []string{"sh", "-c", "cat >/dev/null; exit 4"}, data, schema.IsolatedNoRecord},
		{"fails always, one line", []string{"sh", "-c", "cat >/dev/null; exit 4"}, []byte("x\n"), schema.IsolatedNoRecord},
		{"grep finds nothing", []string{"grep", "nothing-matches"}, data, schema.IsolatedNoRecord},
		{"two lines together", []string{"sh", "-c", `test "$(grep -c X)" -lt 2`}, []byte("a\nX1\nb\nc\nX2\nd\n"), schema.IsolatedFlaky},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runTask(t, schema.JobRecord{Kind: schema.KindPipe, Command: tc.command}, tc.data)
			if r.Err == nil || r.Isolation == nil || r.Isolation.Outcome != tc.want {
				t.Fatalf("got %+v (isolation %+v), want a failure with outcome %q", r, r.Isolation, tc.want)
			}
			if len(r.Isolation.Records) != 0 {
				t.Errorf("records named: %+v", r.Isolation.Records)
			}
		})
	}
}

// TestSkipBadRecordsTask checks skip mode on one task: the output is the
// command's over the input without its bad lines, run as one input, and
// the result names them; one bad line more than allowed fails the task.
func TestSkipBadRecordsTask(t *testing.T) {
	t.Parallel()
	data, offsets := poisonInput(2000, 3, 1999)
	r := runTask(t, schema.JobRecord{Kind: schema.KindPipe, Command: poisonCommand, SkipBad: 2}, data)
	if r.Err != nil {
		t.Fatalf("failed: %+v", r.Err)
	}
	clean, _ := poisonInput(2000)
	clean = bytes.Replace(clean, []byte("\n3\n"), []byte("\n"), 1)
	clean = bytes.TrimSuffix(clean, []byte("1999\n"))
	cmd := exec.Command(poisonCommand[0], poisonCommand[1:]...)
	cmd.Stdin = bytes.NewReader(clean)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Payload, want) {
		t.Fatalf("output of %d bytes differs from the command's over the input without the bad lines (%d bytes)", len(r.Payload), len(want))
	}
	if len(r.Skipped) != 2 || r.Skipped[0].Offset != offsets[0] || r.Skipped[1].Offset != offsets[1] {
		t.Fatalf("skipped %+v, want the lines at %v", r.Skipped, offsets)
	}

	r = runTask(t, schema.JobRecord{Kind: schema.KindPipe, Command: poisonCommand, SkipBad: 1}, data)
	if r.Err == nil || r.Isolation == nil || r.Isolation.Outcome != schema.IsolatedTooMany || len(r.Isolation.Records) != 2 {
		t.Fatalf("got %+v (isolation %+v), want a failure naming 2 records, too many", r, r.Isolation)
	}
}

// TestIsolateKeyedGoMap bisects a mapreduce task whose built-in fold
// refuses a value: the record that carries it is named.
func TestIsolateKeyedGoMap(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for i := range 500 {
		fmt.Fprintf(&b, "k%d\t%d\n", i%5, i)
	}
	at := int64(b.Len())
	b.WriteString("k1\tnot-a-number\n")
	b.WriteString("k2\t7\n")
	rec := schema.JobRecord{Kind: schema.KindMapReduce, MapCommand: []string{"cat"}, Reduce: "sum"}
	r := runTask(t, rec, b.Bytes())
	if r.Err == nil || r.Isolation == nil || len(r.Isolation.Records) != 1 || r.Isolation.Records[0].Offset != at {
		t.Fatalf("got %+v (isolation %+v), want the record at %d named", r, r.Isolation, at)
	}
}
