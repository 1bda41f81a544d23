package job_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/job"
)

// TestEachJoinStoppedKillsItsChildren checks that a job cancelled while
// its join command runs kills the join and every process it started, as
// it does for the items' commands.
func TestEachJoinStoppedKillsItsChildren(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg, _ := eachConfig(t, []string{"a"}, []string{"echo"})
	cfg.Join = []string{"sh", "-c", `sleep 60 & echo $! > "$0"; wait`, pidFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := job.Run(ctx, cfg)
		done <- err
	}()
	pid := 0
	waitFor(t, "the join's child to start", func() bool {
		data, err := os.ReadFile(pidFile)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		return pid > 0
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, job.ErrJoinFailed) {
			t.Errorf("Run: %v, want an error matching ErrJoinFailed", err)
		}
	case <-time.After(jobTimeout):
		t.Fatal("Run did not return after its context was cancelled")
	}
	waitFor(t, "the join's child to die", func() bool { return !alive(pid) })
}

// TestEachJoinFails checks that a failing join is ErrJoinFailed naming
// the command, its exit status and the join file it keeps.
func TestEachJoinFails(t *testing.T) {
	t.Parallel()
	cfg, _ := eachConfig(t, []string{"a", "b"}, []string{"echo"})
	cfg.Join = []string{"sh", "-c", "cat >/dev/null; exit 4"}
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrJoinFailed) {
		t.Fatalf("Run: %v, want an error matching ErrJoinFailed", err)
	}
	_, kept, ok := strings.Cut(err.Error(), "its input is kept in ")
	if !ok || !strings.Contains(err.Error(), "status 4") {
		t.Fatalf("error %q does not name the exit status and the kept join file", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("the join file named in the error: %v", err)
	}
	os.Remove(kept)
}

// waitFor polls cond until it holds, failing the test after jobTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(jobTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", jobTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether process pid runs (a zombie, dead but not yet
// reaped by its new parent, does not).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold
	// spaces: "pid (comm) S ...".
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}
