package main_test

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestCrashPoints kills jetmr at each named step of its commit protocol
// (see package internal/crashpoint), then resumes: every crash between two
// steps must be safe.
func TestCrashPoints(t *testing.T) {
	t.Parallel()
	pipePoints := []string{
		"task.processed:3", "task.published:3", "task.stored:5", "split.checkpointed:1",
		"output.flushed:1", "output.checkpointed:1", "output.checkpointed:2",
		"commit.marked", "commit.renamed",
	}
	for _, point := range pipePoints {
		t.Run("pipe/"+point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 1<<20, 31)
			// The output is checkpointed at most once a second: a second
			// checkpoint needs a job that runs well past two seconds.
			sleep := "0.05"
			if point == "output.checkpointed:2" {
				sleep = "0.2"
			}
			argv := []string{"sh", "-c", "sleep " + sleep + "; tr a-z A-Z"}
			args := append([]string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "cp", "-i", in,
				"-o", "out.txt", "--chunk-size", "16KiB", "-j", "4", "--"}, argv...)
			crashThenResume(t, dir, point, args)
			checkPipeOutput(t, dir, argv, in)
		})
	}
	// A job sized by --task-time cuts its chunks as tasks finish, so a
	// resume cannot split the same way again: it continues from the chunk
	// checkpointed ahead of each task.
	for _, point := range []string{"split.checkpointed:3", "task.published:4", "task.stored:6", "output.checkpointed:1"} {
		t.Run("pipe-task-time/"+point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 2<<20, 33)
			argv := []string{"sh", "-c", "sleep 0.02; tr a-z A-Z"}
			args := append([]string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "cp", "-i", in,
				"-o", "out.txt", "--task-time", "250ms", "--chunk-size", "16KiB", "-j", "2", "--"}, argv...)
			crashThenResume(t, dir, point, args)
			checkPipeOutput(t, dir, argv, in)
		})
	}
	for _, point := range []string{"task.published:2", "commit.marked", "commit.written", "commit.renamed"} {
		t.Run("mapreduce/"+point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 512<<10, 32)
			args := []string{"mapreduce", "--store", filepath.Join(dir, "store"), "--job", "cp", "-i", in,
				"-o", "counts", "--map", "wordcount", "--reduce", "sum", "--partitions", "2", "--chunk-size", "32KiB"}
			crashThenResume(t, dir, point, args)
			got, want := readCounts(t, filepath.Join(dir, "counts")), referenceCounts(t, in)
			if len(got) != len(want) {
				t.Fatalf("%d distinct words, want %d", len(got), len(want))
			}
			for w, n := range want {
				if got[w] != n {
					t.Fatalf("count of %q is %d, want %d", w, got[w], n)
				}
			}
			assertNoTemporaries(t, dir)
		})
	}
}

// crashThenResume runs args with the crash point armed, checks that the
// process died there, and resumes the job without it.
func crashThenResume(t *testing.T, dir, point string, args []string) {
	t.Helper()
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	_, stderr, wait := startJetmr(t, dir, append(env, "JETMR_CRASHPOINT="+point), args...)
	if code := wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("with crash point %s armed, jetmr exited %d instead of being killed there; stderr:\n%s", point, code, stderr)
	}
	resume := append([]string{args[0], "--resume"}, args[1:]...)
	_, stderr, wait = startJetmr(t, dir, env, resume...)
	if code := wait(); code != 0 {
		t.Fatalf("resume after a crash at %s: exit %d; stderr:\n%s", point, code, stderr)
	}
}
