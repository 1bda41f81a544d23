package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/s3test"
)

// TestSkipForceDropsStaleRejects replaces, with --force, the output of a
// skip-mode job that left bad records out by that of a run that leaves
// none out: the rejects file (or object) of the first run goes with its
// output, rather than name records the new output never lost.
func TestSkipForceDropsStaleRejects(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "results")
	for _, tc := range []struct {
		name string
		out  string
	}{
		{"local", "out.txt"},
		{"s3", "s3://results/out.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
			writePoison(t, in, clean, 3000, 77)
			run := func(input string, extra ...string) result {
				args := append([]string{"pipe", "--store", t.TempDir(), "-i", input, "-o", tc.out, "--chunk-size", "8KiB", "--retries", "0",
					"--skip-bad-records", "1"}, extra...)
				return jetmrEnv(t, dir, s.Env(), append(args, "--", "awk", poisonScript)...)
			}
			rejected := func() (string, bool) {
				if tc.name == "s3" {
					data, ok := s.Get(t, "results", "out.txt.rejected")
					return string(data), ok
				}
				data, err := os.ReadFile(filepath.Join(dir, "out.txt.rejected"))
				return string(data), err == nil
			}
			if r := run(in); r.code != 0 {
				t.Fatalf("first run: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if data, ok := rejected(); !ok || !strings.Contains(data, "BAD 77") {
				t.Fatalf("the first run's rejects hold %q (exist %v), want the bad line", data, ok)
			}
			r := run(clean, "--force")
			if r.code != 0 || strings.Contains(r.stderr, "left out") {
				t.Fatalf("--force over the clean input: exit %d, want 0 and no record left out; stderr:\n%s", r.code, r.stderr)
			}
			if data, ok := rejected(); ok {
				t.Errorf("the rejects of the replaced output are still there, naming records the new output did not lose:\n%s", data)
			}
		})
	}
}
