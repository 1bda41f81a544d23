package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// countingMapScript is a map command that emits each line's first word
// with 1 and counts its lines and words with reporter:counter lines, its
// status with reporter:status and one ordinary stderr line; it sleeps a
// little so that tasks outlast a worker's kill.
const countingMapScript = `#!/bin/sh
sleep 0.05
exec awk '{ print $1 "\t1"; w += NF }
END { print "reporter:counter:Input,Lines," NR > "/dev/stderr"
      print "reporter:counter:Input,Words," w > "/dev/stderr"
      print "reporter:status:mapped " NR " lines" > "/dev/stderr"
      print "an ordinary message" > "/dev/stderr" }'
`

// reportCounters reads the counters of a run report.
func reportCounters(t *testing.T, path string) map[string]int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Counters []struct {
			Group, Name string
			Value       int64
		} `json:"counters"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range r.Counters {
		out[c.Group+","+c.Name] = c.Value
	}
	return out
}

// TestCountersOnWorkersUnderKills runs a mapreduce job whose map command
// reports counters on worker processes only, while a random worker is
// SIGKILLed every ~0.5s and a new one started: the output equals the
// sequential run's, and the counters count every line and word exactly
// once, in the run report, the summary and status --json.
func TestCountersOnWorkersUnderKills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 1<<20, 9)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	lines, words := int64(bytes.Count(data, []byte("\n"))), int64(len(strings.Fields(string(data))))
	mapCmd := filepath.Join(dir, "count.sh")
	if err := os.WriteFile(mapCmd, []byte(countingMapScript), 0o755); err != nil {
		t.Fatal(err)
	}
	workerArgs := []string{"-j", "2", "--spill=" + filepath.Join(dir, "spill"), "--ack-wait", "2s"}
	var workers []*workerProc
	for range 3 {
		w := startWorker(t, url, workerArgs...)
		w.waitUp(t)
		workers = append(workers, w)
	}
	out, rep := filepath.Join(dir, "out"), filepath.Join(dir, "run.json")
	sub := clitest.Start(t, bin, dir, nil, "mapreduce", "--nats", url, "--local-workers", "0", "--job", "counted",
		"-i", in, "-o", out, "--map", mapCmd, "--reduce", "count", "--partitions", "3", "--chunk-size", "8KiB", "--report", rep)
	runKillingWorkers(t, sub, workers, 7, 8, func() *workerProc { return startWorker(t, url, workerArgs...) })
	want := map[string]int64{"Input,Lines": lines, "Input,Words": words}
	got := reportCounters(t, rep)
	if len(got) != len(want) || got["Input,Lines"] != lines || got["Input,Words"] != words {
		t.Errorf("report counters %v, want %v", got, want)
	}
	if s := sub.Stderr.String(); !strings.Contains(s, "jetmr: counters: Input,Lines=") || strings.Contains(s, "reporter:") {
		t.Errorf("stderr does not sum up the counters, or shows reporter lines:\n%s", s)
	}
	// The output: each first word and how many lines start with it.
	wantOut := map[string]string{}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			counts[f[0]]++
		} else {
			counts[""]++
		}
	}
	for k, n := range counts {
		wantOut[k] = strconv.Itoa(n)
	}
	gotOut := clitest.ReadParts(t, out, 3)
	if len(gotOut) != len(wantOut) {
		t.Errorf("%d keys in the output, want %d", len(gotOut), len(wantOut))
	}
	for k, v := range wantOut {
		if gotOut[k] != v {
			t.Errorf("key %q: %q, want %q", k, gotOut[k], v)
			break
		}
	}
	st := jetmr(t, dir, "status", "--nats", url, "--json", "counted")
	if st.code != 0 {
		t.Fatalf("status: exit %d: %s", st.code, st.stderr)
	}
	var status struct {
		Counters []struct {
			Group, Name string
			Value       int64
		} `json:"counters"`
		Message string `json:"status_message"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Counters) != 2 || status.Counters[0].Value != lines || status.Counters[1].Value != words || !strings.HasPrefix(status.Message, "mapped ") {
		t.Errorf("status --json counters %+v, message %q; want lines %d and words %d", status.Counters, status.Message, lines, words)
	}
	text := jetmr(t, dir, "status", "--nats", url, "counted")
	if wantLine := "Input,Lines=" + strconv.FormatInt(lines, 10) + "; Input,Words=" + strconv.FormatInt(words, 10); text.code != 0 ||
		!strings.Contains(text.stdout, "counters:") || !strings.Contains(text.stdout, wantLine) || !strings.Contains(text.stdout, "status:") {
		t.Errorf("status: exit %d, want the counters %s and the status message:\n%s%s", text.code, wantLine, text.stdout, text.stderr)
	}
	for _, w := range workers {
		w.term(t)
	}
}

// TestReducerStatus checks that a reducer command's reporter:status line
// sets the job's status message, as docs/streaming.md says: alone, after
// a combiner's, the reducer's being the last, and when the partitions are
// reduced on jetmr worker processes.
func TestReducerStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	streamingFiles(t, dir)
	writeTestFile(t, filepath.Join(dir, "status.awk"),
		`BEGIN { FS = OFS = "\t" } $1 != k { if (NR > 1) print k, s; k = $1; s = 0 } { s += $2 } END { if (NR > 0) print k, s; print "reporter:status:" WHO " " NR > "/dev/stderr" }`+"\n")
	combiner := `--combiner 'awk -v WHO=combined -f status.awk'`
	tests := []struct {
		name, flags string
		workers     bool
	}{
		{"reducer only", "", false},
		{"after a combiner", combiner, false},
		{"reduced on workers", combiner + " --reduce-on-workers --transport shared --local-workers 0 --partitions 2", true},
	}
	for i, tt := range tests {
		store, id := filepath.Join(dir, fmt.Sprint("store", i)), fmt.Sprint("status", i)
		from := []string{"--store", store}
		if tt.workers {
			url := plainNATS(t)
			w := &workerProc{clitest.Start(t, bin, dir, nil, "worker", "--nats", url, "--log-format", "json", "-j", "2")}
			w.waitUp(t)
			defer w.term(t)
			from = []string{"--nats", url}
		}
		shell(t, dir, `jetmr mapreduce -q `+strings.Join(from, " ")+` --job `+id+` -i words.txt -o `+id+` --map 'awk -f pairs.awk' `+tt.flags+` --reduce 'awk -v WHO=reduced -f status.awk' --chunk-size 1KiB`)
		st := jetmr(t, dir, append([]string{"status", "--json", id}, from...)...)
		var status struct {
			Message string `json:"status_message"`
		}
		if err := json.Unmarshal([]byte(st.stdout), &status); err != nil || st.code != 0 {
			t.Fatalf("%s: status --json: exit %d, %v\n%s%s", tt.name, st.code, err, st.stdout, st.stderr)
		}
		if !strings.HasPrefix(status.Message, "reduced ") {
			t.Errorf("%s: status_message %q, want the reducer's", tt.name, status.Message)
		}
	}
}

// TestCounterSummaryEdges runs a map command whose counters overflow an
// int64 when summed over its tasks, and whose group and name hold the
// summary's separators: the sum saturates instead of wrapping around,
// and the summary line quotes the group and name so that it reads back
// one way.
func TestCounterSummaryEdges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	streamingFiles(t, dir)
	writeTestFile(t, filepath.Join(dir, "big.awk"), `{ print $1 "\t1" } END { print "reporter:counter:Big,n,9223372036854775807" > "/dev/stderr"; print "reporter:counter:a;b,x=y,1" > "/dev/stderr" }`+"\n")
	r := jetmr(t, dir, "mapreduce", "--store", filepath.Join(dir, "store"), "-i", "words.txt", "-o", "out", "--map", "awk -f big.awk", "--reduce", "sum",
		"--chunk-size", "1KiB", "--report", "run.json")
	if r.code != 0 {
		t.Fatalf("mapreduce: exit %d: %s", r.code, r.stderr)
	}
	tasks := int(readReport(t, filepath.Join(dir, "run.json"))["tasks"].(float64))
	if tasks < 2 {
		t.Fatalf("%d tasks: the sum cannot overflow", tasks)
	}
	want := fmt.Sprintf(`jetmr: counters: Big,n=9223372036854775807 (saturated); "a;b","x=y"=%d`, tasks)
	if !strings.Contains(r.stderr, want+"\n") {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	var rep struct {
		Counters []struct {
			Group, Name string
			Value       int64
			Saturated   bool
		} `json:"counters"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Counters) != 2 || rep.Counters[0].Value != math.MaxInt64 || !rep.Counters[0].Saturated || rep.Counters[1].Saturated {
		t.Errorf("report counters %+v, want Big,n saturated at the largest int64", rep.Counters)
	}
}
