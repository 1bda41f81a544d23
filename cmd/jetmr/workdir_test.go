package main_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
)

// startWorkerIn starts `jetmr worker --nats url` with args in dir.
func startWorkerIn(t *testing.T, dir, url string, args ...string) *workerProc {
	t.Helper()
	return &workerProc{clitest.Start(t, bin, dir, nil, append([]string{"worker", "--nats", url, "--log-format", "json"}, args...)...)}
}

// writeTree writes files into dir: a name ending in "/" is a directory,
// a content starting with "#!" an executable script.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(data, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// workDirWarning is the worker's log message for a job whose submitter's
// directory it does not have.
const workDirWarning = "the submitter's directory does not exist on this machine"

// TestWorkerRunsInSubmitterDir runs jobs whose items and commands are
// relative paths on a `jetmr worker` started in another directory, which
// holds files of the same names with other contents: the output equals
// the embedded run's, in the submitter's directory.
func TestWorkerRunsInSubmitterDir(t *testing.T) {
	t.Parallel()
	sum := "#!/bin/sh\nawk -F '\\t' 'NR > 1 && $1 != k { print k \"\\t\" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k \"\\t\" s }'\n"
	submitted := map[string]string{
		"in.txt":     "the submitter's in.txt\n",
		"its.txt":    "a\nb\n",
		"sub1/":      "",
		"sub2/":      "",
		"words.txt":  strings.Repeat("one two two three three three\n", 200),
		"filter.sh":  "#!/bin/sh\ntr a-z A-Z\n",
		"mapper.sh":  "#!/bin/sh\nawk '{ for (i = 1; i <= NF; i++) print $i \"\\t1\" }'\n",
		"combine.sh": sum,
		"reduce.sh":  sum,
	}
	decoys := map[string]string{
		"in.txt":     "the worker's in.txt\n",
		"sub1/":      "",
		"sub2/":      "",
		"filter.sh":  "#!/bin/sh\ncat\n",
		"mapper.sh":  "#!/bin/sh\nawk '{ print \"decoy\\t1\" }'\n",
		"combine.sh": "#!/bin/sh\nawk -F '\\t' '{ s += $2 } END { print \"decoy\\t\" s }'\n",
		"reduce.sh":  "#!/bin/sh\nawk -F '\\t' '{ s += $2 } END { print \"decoy\\t\" s }'\n",
	}
	url := plainNATS(t)
	wdir := t.TempDir()
	writeTree(t, wdir, decoys)
	w := startWorkerIn(t, wdir, url, "-j", "2", "--spill="+t.TempDir())
	w.waitUp(t)
	tests := []struct {
		name  string
		args  []string // the job; -o OUT is added when parts >= 0
		nats  []string // more flags of the run on the worker; nil: --local-workers 0
		parts int      // -1: stdout; 0: an output file; N: N part files
	}{
		{"each relative item", []string{"each", "-k", "--", "cat", ":::", "in.txt"}, nil, -1},
		{"each items file pwd", []string{"each", "-k", "--items", "its.txt", "--", "sh", "-c", "pwd"}, nil, -1},
		{"each relative dir", []string{"each", "-k", "--dir", "{}", "--", "pwd", ":::", "sub1", "sub2"}, nil, -1},
		{"pipe relative command", []string{"pipe", "-i", "in.txt", "--", "./filter.sh"}, nil, 0},
		{"mapreduce relative map and combiner", []string{"mapreduce", "-i", "words.txt", "--map", "./mapper.sh", "--combiner", "./combine.sh",
			"--reduce", "./reduce.sh", "--partitions", "2"}, nil, 2},
		{"reducer on workers", []string{"mapreduce", "-i", "words.txt", "--map", "./mapper.sh", "--reduce", "./reduce.sh", "--partitions", "2"},
			[]string{"--local-workers", "0", "--transport", "shared", "--reduce-on-workers"}, 2},
		{"local and remote workers", []string{"each", "-k", "--chunk-size", "1", "--", "sh", "-c", "pwd", ":::", "1", "2", "3", "4", "5", "6", "7", "8"},
			[]string{"--local-workers", "1"}, -1},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				writeTree(t, dir, submitted)
				run := func(out string, flags ...string) string {
					t.Helper()
					args := append(slices.Clone(tc.args[:1]), flags...)
					if tc.parts >= 0 {
						args = append(args, "-o", out)
					}
					args = append(args, tc.args[1:]...)
					r := jetmr(t, dir, args...)
					if r.code != 0 {
						t.Fatalf("jetmr %q exited %d; stderr:\n%s", args, r.code, r.stderr)
					}
					return r.stdout
				}
				want := run("ref", "--store", filepath.Join(dir, "store"))
				nats := tc.nats
				if nats == nil {
					nats = []string{"--local-workers", "0"}
				}
				got := run("out", append([]string{"--nats", url}, nats...)...)
				switch {
				case tc.parts < 0:
					if got != want {
						t.Errorf("on the worker the job printed\n%s\nwant the embedded run's\n%s", got, want)
					}
				case tc.parts == 0:
					g, err1 := os.ReadFile(filepath.Join(dir, "out"))
					r, err2 := os.ReadFile(filepath.Join(dir, "ref"))
					if err1 != nil || err2 != nil || string(g) != string(r) {
						t.Errorf("on the worker the output is %q (%v), want the embedded run's %q (%v)", g, err1, r, err2)
					}
				default:
					g, r := clitest.ReadParts(t, filepath.Join(dir, "out"), tc.parts), clitest.ReadParts(t, filepath.Join(dir, "ref"), tc.parts)
					if !maps.Equal(g, r) {
						t.Errorf("on the worker the output is %q, want the embedded run's %q", g, r)
					}
				}
			})
		}
	})
	w.term(t)
	if strings.Contains(w.Stderr.String(), workDirWarning) {
		t.Errorf("the worker warned of a missing directory; stderr:\n%s", w.Stderr)
	}
}

// TestWorkerWithoutSubmitterDir: a worker that lacks the submitter's
// directory (here removed after the job started) runs the job's commands
// in its own directory, and logs one warning naming the missing one.
func TestWorkerWithoutSubmitterDir(t *testing.T) {
	t.Parallel()
	url := plainNATS(t)
	gone := t.TempDir()
	sub := clitest.Start(t, bin, gone, nil, "each", "--nats", url, "--local-workers", "0", "--job", "wd-gone",
		"--chunk-size", "1", "--", "sh", "-c", "pwd", ":::", "a", "b", "c")
	eventually(t, runTimeout, "the job's record", func() (bool, string) {
		r := jetmr(t, t.TempDir(), "status", "--nats", url)
		return strings.Contains(r.stdout, "wd-gone"), r.stdout + r.stderr
	})
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	wdir := t.TempDir()
	w := startWorkerIn(t, wdir, url)
	if code := sub.Wait(t, runTimeout); code != 0 {
		t.Fatalf("job exited %d; stderr:\n%s", code, sub.Stderr)
	}
	if want := strings.Repeat(wdir+"\n", 3); sub.Stdout.String() != want {
		t.Errorf("printed %q, want the worker's directory thrice: %q", sub.Stdout, want)
	}
	w.term(t)
	var warnings []string
	for _, line := range strings.Split(w.Stderr.String(), "\n") {
		if strings.Contains(line, workDirWarning) {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"dir":"`+gone+`"`) {
		t.Errorf("want one warning naming %s, got %q; stderr:\n%s", gone, warnings, w.Stderr)
	}
}

// TestResumeKeepsSubmitterDir: a job resumed from another directory runs
// its relative commands in the directory of its first run, where its
// items and command were planned, on its local workers as on others.
func TestResumeKeepsSubmitterDir(t *testing.T) {
	t.Parallel()
	first, second, store := t.TempDir(), t.TempDir(), t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" != b ] || [ -e ok ] || exit 3\necho \"$1 $(pwd)\"\n"
	writeTree(t, first, map[string]string{"run.sh": script})
	writeTree(t, second, map[string]string{"run.sh": "#!/bin/sh\necho \"$1 decoy\"\n"})
	run := func(dir string, flags ...string) result {
		args := append([]string{"each", "--store", store, "--job", "wd-resume", "-k", "--retries", "0", "--chunk-size", "1"}, flags...)
		return jetmr(t, dir, append(args, "--", "./run.sh", ":::", "a", "b", "c")...)
	}
	if r := run(first); r.code != 1 {
		t.Fatalf("first run exited %d, want 1 (item b fails); stderr:\n%s", r.code, r.stderr)
	}
	writeTree(t, first, map[string]string{"ok": ""})
	r := run(second, "--resume", "--retry-failed", "--log-level", "info")
	if r.code != 0 {
		t.Fatalf("resume exited %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "the job's commands run in the directory of its first run") || !strings.Contains(r.stderr, first) {
		t.Errorf("the resume does not say that the job runs in %s; stderr:\n%s", first, r.stderr)
	}
	if !strings.Contains(r.stdout, "b "+first+"\n") || strings.Contains(r.stdout, "decoy") {
		t.Errorf("resumed run printed %q, want item b run in %s", r.stdout, first)
	}
}
