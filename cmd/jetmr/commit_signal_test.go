package main_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSignalAfterCommit delivers SIGINT or SIGTERM the moment a job's
// output is renamed into place (crash point commit.renamed armed with a
// signal): the output is published and complete, so the job is done. It
// exits 0, its status says done, no temporary file is left, and a
// --resume of it says that it is complete.
func TestSignalAfterCommit(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, dir, in string)
	pipeArgv := []string{"tr", "a-z", "A-Z"}
	checkPipe := func(t *testing.T, dir, in string) { checkPipeOutput(t, dir, pipeArgv, in) }
	checkCounts := func(out string) check {
		return func(t *testing.T, dir, in string) {
			got, want := readCounts(t, filepath.Join(dir, out)), referenceCounts(t, in)
			if len(got) != len(want) {
				t.Fatalf("%d distinct words, want %d", len(got), len(want))
			}
			for w, n := range want {
				if got[w] != n {
					t.Fatalf("count of %q is %d, want %d", w, got[w], n)
				}
			}
		}
	}
	tests := []struct {
		name   string
		point  string
		args   func(dir, store, in string) []string
		status string // the job whose status is checked
		check  check
	}{
		{"pipe/INT", "commit.renamed=INT", func(dir, store, in string) []string {
			return append([]string{"pipe", "--store", store, "--job", "sig", "-i", in, "-o", "out.txt", "--chunk-size", "16KiB", "--"}, pipeArgv...)
		}, "sig", checkPipe},
		{"mapreduce/TERM", "commit.renamed=TERM", func(dir, store, in string) []string {
			return []string{"mapreduce", "--store", store, "--job", "sig", "-i", in, "-o", "counts",
				"--map", "wordcount", "--reduce", "sum", "--partitions", "2", "--chunk-size", "32KiB"}
		}, "sig", checkCounts("counts")},
		{"pipeline/INT", "commit.renamed:2=INT", func(dir, store, in string) []string {
			writeJobFile(t, dir, `
stages:
  - name: upper
    pipe: {input: [`+in+`], output: out.txt, command: [tr, a-z, A-Z], chunk_size: 16KiB}
  - name: count
    mapreduce: {input: [`+in+`], output: counts, map: wordcount, reduce: sum, partitions: 2, chunk_size: 32KiB}
    depends_on: [upper]
`)
			return []string{"pipeline", "--store", store, "--job", "sig", "job.yaml"}
		}, "sig-count", func(t *testing.T, dir, in string) { checkPipe(t, dir, in); checkCounts("counts")(t, dir, in) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, store := t.TempDir(), t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 256<<10, 41)
			args := tt.args(dir, store, in)
			r := jetmrEnv(t, dir, []string{"JETMR_CRASHPOINT=" + tt.point}, args...)
			if r.code != 0 || strings.Contains(r.stderr, "interrupted") {
				t.Fatalf("signal after the commit: exit %d, want 0 and no interruption; stderr:\n%s", r.code, r.stderr)
			}
			tt.check(t, dir, in)
			assertNoTemporaries(t, dir)
			st := jetmr(t, dir, "status", "--store", store, tt.status)
			if st.code != 0 || !strings.Contains(st.stdout, "state:") || !strings.Contains(st.stdout, "done") ||
				strings.Contains(st.stdout, "stopped") {
				t.Errorf("status of %s: exit %d, want state done; stdout:\n%s\nstderr:\n%s", tt.status, st.code, st.stdout, st.stderr)
			}
			resume := append([]string{args[0], "--resume"}, args[1:]...)
			rr := jetmr(t, dir, resume...)
			if rr.code != 0 || !strings.Contains(rr.stderr, "already") {
				t.Errorf("resume of the completed job: exit %d, want 0 and that it is complete; stderr:\n%s", rr.code, rr.stderr)
			}
			tt.check(t, dir, in)
			assertNoTemporaries(t, dir)
		})
	}
}
