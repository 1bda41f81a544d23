package main_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
