package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeLogs writes logs/ in dir: three files of DEBUG lines, the second
// with a few INFO lines, so that most 4 KiB chunks hold no line but DEBUG
// ones and grep -v DEBUG exits 1 on them. It returns what grep -v DEBUG
// prints over them all.
func writeLogs(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for f := 1; f <= 3; f++ {
		var b bytes.Buffer
		for i := range 3000 {
			fmt.Fprintf(&b, "DEBUG line %d\n", i)
			if f == 2 && i%700 == 0 {
				fmt.Fprintf(&b, "INFO event %d\n", i)
				fmt.Fprintf(&want, "INFO event %d\n", i)
			}
		}
		writeFile(t, filepath.Join(dir, "logs", fmt.Sprintf("%d.log", f)), b.String())
	}
	return want.String()
}

// TestReadmeGrepExample runs the README's grep -v DEBUG example as the
// README shows it (a smaller chunk size, so that several chunks hold only
// DEBUG lines): grep exits 1 on them, which --ok-exit 0,1 counts as
// success, and the output is grep's over the whole input. Without
// --ok-exit every such chunk is a failed task.
func TestReadmeGrepExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const example = "jetmr pipe -i logs/ -j 8 --chunk-size 4MiB --ok-exit 0,1 -- grep -v DEBUG > filtered.log"
	if !bytes.Contains(readme, []byte(example)) {
		t.Fatalf("README.md does not show %s", example)
	}
	dir := t.TempDir()
	want := writeLogs(t, dir)
	line := strings.Replace(example, "4MiB", "4KiB", 1)
	got := shell(t, dir, "set -e; "+line+"; cat filtered.log")
	if got != want {
		t.Errorf("the example wrote %q, want %q", got, want)
	}
	r := jetmr(t, dir, "pipe", "-q", "--store", filepath.Join(t.TempDir(), "store"), "--retries", "0", "-i", "logs/", "--chunk-size", "4KiB", "--", "grep", "-v", "DEBUG")
	if r.code != 1 || !strings.Contains(r.stderr, "grep exited with status 1") {
		t.Errorf("without --ok-exit: exit %d, want 1 with failed tasks; stderr:\n%.600s", r.code, r.stderr)
	}
}

// TestOkExit checks --ok-exit on every command that runs commands: an
// exit status it lists counts as success, the task's output kept, for
// pipe, each, mapreduce's map, combiner and reducer commands, and a
// pipeline stage's ok_exit.
func TestOkExit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script string // run in a folder with logs/ (writeLogs)
		want         string
	}{
		{"pipe", "jetmr pipe -q -i logs/ --chunk-size 4KiB -o out.txt --ok-exit 0,1 -- grep -v DEBUG; cat out.txt",
			"INFO event 0\nINFO event 700\nINFO event 1400\nINFO event 2100\nINFO event 2800\n"},
		{"each", "jetmr each -q -k --ok-exit 1,0 -- grep -c INFO ::: logs/1.log logs/2.log logs/3.log", "0\n5\n0\n"},
		{"mapreduce map", "jetmr mapreduce -q -i logs/ --chunk-size 4KiB -o out --ok-exit 0,1 --map 'grep INFO' --reduce cat; cat out/part-*",
			"INFO event 0\t\nINFO event 1400\t\nINFO event 2100\t\nINFO event 2800\t\nINFO event 700\t\n"},
		{"mapreduce combiner and reducer", "jetmr mapreduce -q -i logs/ --chunk-size 4KiB -o out --ok-exit 0,1 --map cat --combiner 'grep -v DEBUG' --reduce 'grep -v INFO'; cat out/part-*", ""},
		{"pipeline ok_exit", `printf 'stages:\n  - name: filter\n    pipe: {input: [logs/], output: out.txt, command: [grep, -v, DEBUG], chunk_size: 4KiB, ok_exit: "0,1"}\n' > job.yaml
jetmr pipeline -q job.yaml; cat out.txt`, "INFO event 0\nINFO event 700\nINFO event 1400\nINFO event 2100\nINFO event 2800\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeLogs(t, dir)
			got := shell(t, dir, "set -e; export XDG_STATE_HOME="+t.TempDir()+"; "+tc.script)
			if got != tc.want {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOkExitBadValues checks that a bad --ok-exit, or ok_exit in a
// pipeline file, is refused with exit 2 before anything starts.
func TestOkExitBadValues(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	for _, v := range []string{"x", "256", "-1", "", "0,,1", "1.5"} {
		for _, cmd := range [][]string{
			{"pipe", "-i", in, "--ok-exit", v, "--", "cat"},
			{"each", "--ok-exit", v, "--", "echo", ":::", "a"},
			{"mapreduce", "-i", in, "-o", "out", "--ok-exit", v, "--map", "cat", "--reduce", "cat"},
		} {
			t.Run(cmd[0]+"/"+v, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				args := append([]string{cmd[0], "--store", filepath.Join(t.TempDir(), "store")}, cmd[1:]...)
				checkRefused(t, dir, jetmr(t, dir, args...), []string{"--ok-exit", "0 to 255"})
			})
		}
	}
	t.Run("migrate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := jetmr(t, dir, "migrate", "--db", "sqlite://"+filepath.Join(dir, "none.db"), "--table", "t", "--key", "id", "--sql", "UPDATE t SET x = 1", "--ok-exit", "0,1")
		if r.code != 2 || !strings.Contains(r.stderr, "--ok-exit") {
			t.Errorf("exit %d, want 2 naming --ok-exit; stderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("pipeline", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "job.yaml"), "stages:\n  - name: a\n    pipe: {input: ["+in+"], output: a.txt, command: [cat], ok_exit: \"0,x\"}\n")
		r := jetmr(t, dir, "pipeline", "--store", filepath.Join(t.TempDir(), "store"), "job.yaml")
		if r.code != 2 || !strings.Contains(r.stderr, "job.yaml:3") || !strings.Contains(r.stderr, "ok_exit") {
			t.Errorf("exit %d, want 2 naming job.yaml:3 and ok_exit; stderr:\n%s", r.code, r.stderr)
		}
	})
}

// TestResumeOkExitChanged: --ok-exit is part of what a resume compares
// with the job's first run. A resume that changes it is refused with exit
// 2, naming both lists and the way out, and writes nothing, since the job's
// finished tasks were judged under the first list; --retry-failed may add
// statuses, to run the tasks that failed on them again (every task done
// under the old list is done under the new one), but not drop any. A job
// run without --ok-exit, whose record has no statuses (as records written
// before they were recorded), resumes without one.
func TestResumeOkExitChanged(t *testing.T) {
	t.Parallel()
	// The command prints the lines without DEBUG, exits 1 on a chunk
	// without any and 3 on a chunk holding BAD.
	argv := []string{"--", "awk", `!/DEBUG/ { print; n++ } /BAD/ { bad = 1 } END { if (bad) exit 3; if (!n) exit 1 }`}
	tests := []struct {
		name          string
		first, resume []string
		code          int
		msg           []string // for a refusal
	}{
		{"a list without --retry-failed", nil, []string{"--ok-exit", "0,1,3"}, 2,
			[]string{"--ok-exit was 0, now 0,1,3", "--retry-failed"}},
		{"the same list without --retry-failed", []string{"--ok-exit", "1"}, []string{"--ok-exit", "0,1"}, 1, nil},
		{"no list, as recorded before", nil, []string{"--retry-failed"}, 1, nil},
		{"a status added with --retry-failed", []string{"--ok-exit", "0,1"}, []string{"--retry-failed", "--ok-exit", "0,1,3"}, 0, nil},
		{"statuses added to none with --retry-failed", nil, []string{"--retry-failed", "--ok-exit", "3,1"}, 0, nil},
		{"a status dropped with --retry-failed", []string{"--ok-exit", "0,1"}, []string{"--retry-failed", "--ok-exit", "0,3"}, 2,
			[]string{"--ok-exit was 0,1, now 0,3", "add statuses to --ok-exit"}},
		{"the list dropped with --retry-failed", []string{"--ok-exit", "0,1"}, []string{"--retry-failed"}, 2,
			[]string{"--ok-exit was 0,1, now 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir := newStateHome(t), t.TempDir()
			want := writeLogs(t, dir) + "BAD record\n"
			f, err := os.OpenFile(filepath.Join(dir, "logs", "3.log"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "BAD record")
			f.Close()
			head := []string{"pipe", "-q", "-i", "logs/", "-o", "out.txt", "--chunk-size", "4KiB", "--retries", "0", "--job", "grep"}
			first := h.run(t, dir, slices.Concat(head, tt.first, argv)...)
			if first.code != 1 || !strings.Contains(first.stderr, "awk exited with status") {
				t.Fatalf("first run: exit %d, want 1 with failed tasks; stderr:\n%.800s", first.code, first.stderr)
			}
			r := h.run(t, dir, slices.Concat(head, []string{"--resume"}, tt.resume, argv)...)
			if r.code != tt.code {
				t.Fatalf("resume: exit %d, want %d; stderr:\n%.1500s", r.code, tt.code, r.stderr)
			}
			for _, m := range tt.msg {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("the refusal does not name %q:\n%s", m, r.stderr)
				}
			}
			out, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			switch {
			case tt.code != 0 && err == nil:
				t.Errorf("resume exiting %d wrote out.txt", r.code)
			case tt.code == 0 && string(out) != want:
				t.Errorf("out.txt holds %q, want %q (%v)", out, want, err)
			}
		})
	}
}

// TestPipelineResumeOkExitChanged: a pipeline stage's ok_exit is compared
// on resume as --ok-exit is: another list is refused before any stage
// runs (exit 2), naming the stage and both lists; --retry-failed may add
// statuses, and runs the failed task again under them.
func TestPipelineResumeOkExitChanged(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	file := "retries: 0\nstages:\n  - name: g\n    pipe: {input: [in.txt], output: g.txt, command: [grep, zzz]%s}\n"
	writeJobFile(t, dir, fmt.Sprintf(file, ""))
	if r := h.run(t, dir, "pipeline", "-q", "--job", "okp", "job.yaml"); r.code != 1 {
		t.Fatalf("first run: exit %d, want 1 (grep exits 1); stderr:\n%s", r.code, r.stderr)
	}
	writeJobFile(t, dir, fmt.Sprintf(file, `, ok_exit: "0,1"`))
	r := h.run(t, dir, "pipeline", "-q", "--job", "okp", "--resume", "job.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "stage g: cannot resume job okp-g: --ok-exit was 0, now 0,1") {
		t.Fatalf("resume with ok_exit added: exit %d, want 2 naming the stage and both lists; stderr:\n%s", r.code, r.stderr)
	}
	if r := h.run(t, dir, "pipeline", "-q", "--job", "okp", "--resume", "--retry-failed", "job.yaml"); r.code != 0 {
		t.Fatalf("resume --retry-failed with ok_exit added: exit %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if got := fileText(t, filepath.Join(dir, "g.txt")); got != "" {
		t.Errorf("g.txt holds %q, want grep's empty output", got)
	}
}

// TestOkExitJoinFile: the --join file records each item's real exit
// status, also one --ok-exit accepted (the item is kept, as its status
// says nothing against it), as the job log does: grep -c exits 1 on the
// files without a match, 0 on the one with.
func TestOkExitJoinFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeLogs(t, dir)
	r := jetmr(t, dir, "each", "-q", "-k", "--store", filepath.Join(t.TempDir(), "store"), "--ok-exit", "0,1", "--joblog", "log.tsv",
		"--join", "cp {} join.jsonl", "--", "grep", "-c", "INFO", ":::", "logs/1.log", "logs/2.log", "logs/3.log")
	if r.code != 0 || r.stdout != "0\n5\n0\n" {
		t.Fatalf("exit %d, stdout %q, want 0 and the counts; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var got []joinLine
	for _, line := range strings.Split(strings.TrimSpace(fileText(t, filepath.Join(dir, "join.jsonl"))), "\n") {
		var l joinLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("join file line %q: %v", line, err)
		}
		got = append(got, l)
	}
	want := []joinLine{{1, "logs/1.log", 1, "0\n"}, {2, "logs/2.log", 0, "5\n"}, {3, "logs/3.log", 1, "0\n"}}
	if !slices.Equal(got, want) {
		t.Errorf("join file holds %+v, want %+v", got, want)
	}
	// The job log says the same.
	rows := readJobLog(t, filepath.Join(dir, "log.tsv"))
	if len(rows) != len(want) {
		t.Fatalf("%d job log rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		if r.exit != int64(want[r.seq-1].Exit) {
			t.Errorf("job log row %d: Exitval %d, want %d", r.seq, r.exit, want[r.seq-1].Exit)
		}
	}
}

// joinLine is the part of a join file's line TestOkExitJoinFile checks.
type joinLine struct {
	Seq    int    `json:"seq"`
	Item   string `json:"item"`
	Exit   int    `json:"exit"`
	Output string `json:"output"`
}
