package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// reuseLog is what a resumed run's log says about the spilled runs of the
// run before.
type reuseLog struct {
	runs, results int
	discarded     []string
}

// readReuseLog reads the JSON log lines of a resumed run.
func readReuseLog(t *testing.T, stderr string) reuseLog {
	t.Helper()
	var l reuseLog
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Message string `json:"message"`
			Runs    int    `json:"runs"`
			Results int    `json:"results"`
			Reason  string `json:"reason"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Message {
		case "reusing spilled runs":
			l.runs, l.results = rec.Runs, rec.Results
		case "discarding a spilled run: its results are merged again":
			l.discarded = append(l.discarded, rec.Reason)
		}
	}
	return l
}

// TestResumeReusesSpilledRuns kills a high-cardinality count whose
// reduce spills runs, right after it recorded some (or wrote one without
// recording it), damages what it left in some cases, and resumes: the
// output must be byte for byte that of an uninterrupted run, the resume
// must say that it reused the recorded runs (and merged their results no
// more) and that it discarded the damaged one, and no run may be left.
func TestResumeReusesSpilledRuns(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	in := filepath.Join(shared, "ids.txt")
	logLike(t, in, 200000, 80000)
	args := func(store string) []string {
		return []string{"mapreduce", "--store", store, "--job", "runs", "-i", in, "-o", "counts",
			"--map", "grep:^.+$", "--reduce", "count", "--memory", "1MiB", "--chunk-size", "32KiB", "-j", "2",
			"--log-level", "info", "--log-format", "json"}
	}
	// The uninterrupted run, which must also be sort | uniq -c.
	ref := t.TempDir()
	if r := jetmr(t, ref, args(filepath.Join(ref, "store"))...); r.code != 0 {
		t.Fatalf("uninterrupted run: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	want, err := os.ReadFile(filepath.Join(ref, "counts", "part-00000"))
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != sortUniq(t, in) {
		t.Fatal("the uninterrupted run differs from sort | uniq -c")
	}
	for _, tc := range []struct {
		name   string
		point  string
		damage func(t *testing.T, run string) // run 1 of partition 0
		reused int                            // runs reused
		reason string                         // why one was discarded; "" none
	}{
		{name: "killed after recording runs", point: "run.recorded:4", reused: 4},
		{name: "killed before recording a run", point: "run.written:4", reused: 3, reason: "no manifest"},
		{name: "torn manifest", point: "run.recorded:4", reused: 1, reason: "checksum", damage: func(t *testing.T, run string) {
			data := readFile(t, run+".manifest")
			writeFile(t, run+".manifest", string(data[:len(data)-7]))
		}},
		{name: "run file cut short", point: "run.recorded:4", reused: 1, reason: "cut short", damage: func(t *testing.T, run string) {
			data := readFile(t, run)
			writeFile(t, run, string(data[:len(data)/2]))
		}},
		{name: "manifest of other settings", point: "run.recorded:4", reused: 1, reason: "other settings", damage: func(t *testing.T, run string) {
			// A manifest whose checksum is right, written for a sum.
			head, body, _ := strings.Cut(string(readFile(t, run+".manifest")), "\n")
			body = strings.Replace(body, `"fold":"count"`, `"fold":"sum"`, 1)
			head = head[:len(head)-8] + fmt.Sprintf("%08x", crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)))
			writeFile(t, run+".manifest", head+"\n"+body)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(dir, "store")
			env := []string{"XDG_STATE_HOME=" + t.TempDir()}
			_, stderr, wait := startJetmr(t, dir, append(env, "JETMR_CRASHPOINT="+tc.point), args(store)...)
			if code := wait(); code != 128+int(syscall.SIGKILL) {
				t.Fatalf("with crash point %s armed, jetmr exited %d instead of being killed there; stderr:\n%s", tc.point, code, stderr)
			}
			work := filepath.Join(store, "spill", "runs", "runs")
			if tc.damage != nil {
				tc.damage(t, filepath.Join(work, "fold-p0-1.run"))
			}
			resume := slices.Insert(args(store), 1, "--resume")
			_, stderr, wait = startJetmr(t, dir, env, resume...)
			if code := wait(); code != 0 {
				t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
			}
			got := readReuseLog(t, stderr.String())
			t.Logf("reused %d runs holding %d results in whole; discarded %q", got.runs, got.results, got.discarded)
			if got.runs != tc.reused || got.results == 0 {
				t.Errorf("the resume reused %d runs holding %d results, want %d runs and some results; stderr:\n%s", got.runs, got.results, tc.reused, stderr)
			}
			switch {
			case tc.reason == "" && len(got.discarded) > 0:
				t.Errorf("runs discarded: %q", got.discarded)
			case tc.reason != "" && (len(got.discarded) != 1 || !strings.Contains(got.discarded[0], tc.reason)):
				t.Errorf("runs discarded %q, want one because of %q", got.discarded, tc.reason)
			}
			if data := readFile(t, filepath.Join(dir, "counts", "part-00000")); string(data) != string(want) {
				t.Errorf("output differs from the uninterrupted run: %d bytes, want %d", len(data), len(want))
			}
			if runs, _ := filepath.Glob(filepath.Join(work, "*")); len(runs) > 0 {
				t.Errorf("runs left in the work folder: %q", runs)
			}
			assertNoTemporaries(t, dir)
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
