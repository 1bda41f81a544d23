package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReducerStopsReading runs reducer commands that end before reading
// all of their partition's input. One that exits 0 succeeds as a map or
// pipe command does, whatever the partition's size (its output is what
// it wrote); one that fails is a failed reduce however little it read:
// the summary, then the command that runs the reduce again, which runs.
func TestReducerStopsReading(t *testing.T) {
	t.Parallel()
	for _, size := range []struct {
		name  string
		bytes int
	}{{"small", 4 << 10}, {"large", 2 << 20}} {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, size.bytes, 17)
			run := func(out string, reduce string) result {
				return jetmr(t, dir, "mapreduce", "--store", filepath.Join(dir, "store-"+out), "--job", out, "-i", in, "-o", out,
					"--map", "wordcount", "--reduce", reduce, "--partitions", "2", "--chunk-size", "256KiB")
			}
			if r := run("sorted", "cat"); r.code != 0 {
				t.Fatalf("--reduce cat: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			for _, tc := range []struct {
				reduce string
				lines  int // of each partition's sorted input, -1 all
			}{{"true", 0}, {"head -3", 3}, {"sh -c 'head -c 1 >/dev/null'", 0}} {
				out := "out-" + strings.Fields(tc.reduce)[0]
				r := run(out, tc.reduce)
				if r.code != 0 {
					t.Fatalf("--reduce %q: exit %d, want 0 (a reducer may stop reading); stderr:\n%s", tc.reduce, r.code, r.stderr)
				}
				for p := range 2 {
					part := "part-0000" + string(rune('0'+p))
					all := strings.SplitAfter(fileText(t, filepath.Join(dir, "sorted", part)), "\n")
					want := strings.Join(all[:min(tc.lines, len(all))], "")
					if got := fileText(t, filepath.Join(dir, out, part)); got != want {
						t.Errorf("--reduce %q: %s is %q, want %q", tc.reduce, part, got, want)
					}
				}
				assertNoTemporaries(t, dir)
			}

			// A reducer that fails once it has read a byte: failed, with
			// the summary and the command that runs the reduce again.
			reduce := filepath.Join(dir, "reduce.sh")
			if err := os.WriteFile(reduce, []byte("#!/bin/sh\nhead -c 1 >/dev/null; echo reducer broke >&2; exit 3\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			r := run("failed", reduce)
			if r.code != 1 || !strings.Contains(r.stderr, "status 3") || !strings.Contains(r.stderr, "jetmr: job failed:") {
				t.Fatalf("failing reducer: exit %d, want 1 with the exit status and the summary; stderr:\n%s", r.code, r.stderr)
			}
			hint := hintAfter(r.stderr, strings.TrimSuffix(reduceAgainIntro, "\n  "))
			if hint == "" {
				t.Fatalf("failing reducer: no command to run the reduce again; stderr:\n%s", r.stderr)
			}
			if err := os.WriteFile(reduce, []byte("#!/bin/sh\nexec cat\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if h := runHint(t, dir, hint); h.code != 0 {
				t.Fatalf("the printed command %q exited %d: %s", hint, h.code, h.stderr)
			}
			for p := range 2 {
				part := "part-0000" + string(rune('0'+p))
				if got, want := fileText(t, filepath.Join(dir, "failed", part)), fileText(t, filepath.Join(dir, "sorted", part)); got != want {
					t.Errorf("after the reduce ran again, %s differs from --reduce cat's (%d bytes, want %d)", part, len(got), len(want))
				}
			}
		})
	}
}

// reduceAgainIntro is the line before the command that runs a failed
// reduce again.
const reduceAgainIntro = "run the reduce again, once the reducer is fixed (in its script, or a new --reduce), with:\n  "
