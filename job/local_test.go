package job_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestLocalJobStarting: a job store of its own that a live process holds
// before the job's first snapshot is shown running, by that process, and
// cannot be discarded; once released, with no job recorded, the job is
// unknown.
func TestLocalJobStarting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), broker.JobsDir, "starting")
	b, err := broker.Open(ctx, broker.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.Config{StoreDir: dir}
	st, err := job.LocalJobStatus(ctx, cfg, "starting")
	if err != nil || st.State != schema.StateRunning || st.PID != os.Getpid() {
		t.Errorf("held store: %+v, %v; want running by this process", st, err)
	}
	if sts, err := job.LocalJobs(ctx, cfg); err != nil || len(sts) != 1 {
		t.Errorf("listing the held store: %+v, %v; want the one job", sts, err)
	}
	if _, err := job.Discard(ctx, cfg, "starting"); !errors.Is(err, job.ErrJobRunning) || !errors.Is(err, job.ErrBadInput) {
		t.Errorf("discard of the held store: %v, want ErrJobRunning", err)
	}
	b.Close()
	if _, err := job.LocalJobStatus(ctx, cfg, "starting"); !errors.Is(err, job.ErrUnknownJob) {
		t.Errorf("released store without a record: %v, want ErrUnknownJob", err)
	}
	if _, err := job.LocalJobs(ctx, broker.Config{StoreDir: filepath.Join(dir, "typo")}); !errors.Is(err, broker.ErrNoStore) || !errors.Is(err, job.ErrBadInput) {
		t.Errorf("a store that is not there: %v, want ErrNoStore", err)
	}
}
