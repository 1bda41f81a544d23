package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkipBudgetRaisedOnResume fails a pipe job with more bad lines than
// --skip-bad-records allows: the printed command, run as printed, raises
// the limit with --resume --retry-failed and finishes the job with the
// output of the run over the input without the bad lines.
func TestSkipBudgetRaisedOnResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, clean := filepath.Join(dir, "in.txt"), filepath.Join(dir, "clean.txt")
	writePoison(t, in, clean, 6000, 11, 4200, 4201)
	store := t.TempDir()
	args := []string{"pipe", "--store", store, "-i", in, "-o", "out.txt", "--chunk-size", "8KiB", "--retries", "1",
		"--skip-bad-records", "2", "--job", "budget", "--", "awk", poisonScript}
	r := jetmr(t, dir, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "more than --skip-bad-records 2") {
		t.Fatalf("exit %d, want 1 naming the limit; stderr:\n%s", r.code, r.stderr)
	}
	line := hintAfter(r.stderr, "raise the limit and run the refused tasks again with:")
	if line == "" || !strings.Contains(line, "--skip-bad-records 3") || !strings.Contains(line, "--retry-failed") {
		t.Fatalf("no command raising the limit to 3 printed:\n%s", r.stderr)
	}
	r = runHint(t, dir, line)
	if r.code != 0 {
		t.Fatalf("printed hint %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, []string{"awk", poisonScript}, clean); string(got) != want {
		t.Fatalf("output after raising the limit differs from the run over the input without the bad lines")
	}
	if rejects := readRejects(t, filepath.Join(dir, "out.txt.rejected")); len(rejects) != 3 {
		t.Errorf("rejects file holds %d records, want 3: %v", len(rejects), rejects)
	}
}
