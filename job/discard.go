package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/schema"
)

// ErrJobRunning means a job asked to be discarded is running: its store is
// locked by a live process, or its snapshot on an external server is
// fresh. It is wrapped together with [ErrBadInput].
var ErrJobRunning = errors.New("job is running")

// Discard drops job id and everything it keeps for a resume: its streams
// and object store, its record, checkpoints and snapshot, its spill files,
// its staged output and join file; a job run in its own store under the
// default root (found by its ID, or named with cfg.StoreDir) loses the
// whole store folder. cfg says where the job is: an
// external server (URL), an embedded store (StoreDir), or the default
// root. id may name a pipeline: its own store under the default root goes
// whole, and in another store every job recorded as its stage goes. It
// returns the bytes freed, as [Status.DiskBytes] counts them.
func Discard(ctx context.Context, cfg broker.Config, id string) (int64, error) {
	if cfg.URL != "" {
		b, err := broker.Open(ctx, cfg)
		if err != nil {
			return 0, err
		}
		defer b.Close()
		return discardIn(ctx, b, id)
	}
	defaultRoot := cfg.StoreDir == ""
	dir, err := findStore(cfg.StoreDir, id)
	if err != nil {
		return 0, err
	}
	info, err := broker.InspectStore(dir)
	switch {
	case err != nil:
		return 0, badInput("%w", err)
	case !info.Exists:
		return 0, badInput("%w at %s: check --store", broker.ErrNoStore, dir)
	case info.Locked:
		return 0, running(id, info.PID, stopFirst(info.PID))
	}
	cfg.StoreDir = dir
	b, err := broker.Open(ctx, cfg)
	if errors.Is(err, broker.ErrStoreBusy) {
		info, _ := broker.InspectStore(dir)
		return 0, running(id, info.PID, stopFirst(info.PID))
	}
	if err != nil {
		return 0, err
	}
	own := filepath.Base(dir) == id && filepath.Base(filepath.Dir(dir)) == broker.JobsDir
	if own && !defaultRoot { // --store naming a job's own store: it goes whole if it holds that job alone
		jobs, err := Jobs(ctx, b)
		own = err == nil && len(jobs) == 1 && jobs[0].ID == id
	}
	if !own {
		defer b.Close()
		return discardIn(ctx, b, id)
	}
	// The job's own store: the records of the jobs in it (the job, or
	// the stages of the pipeline id) say where their staged outputs are,
	// then the folder goes.
	freed := dirSize(dir)
	jobs, err := Jobs(ctx, b)
	if err != nil {
		b.Close()
		return 0, err
	}
	for _, st := range jobs {
		freed += removeLeftovers(st.Record, "")
	}
	if err := b.Close(); err != nil {
		return 0, fmt.Errorf("closing store %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, fmt.Errorf("removing store %s: %w", dir, err)
	}
	return freed, nil
}

// running says that job id runs in process pid (0: unknown), and what to
// do about it.
func running(id string, pid int, fix string) error {
	who := "another jetmr process"
	if pid > 0 {
		who = fmt.Sprintf("jetmr process %d", pid)
	}
	return badInput("%w: job %s runs in %s: %s", ErrJobRunning, id, who, fix)
}

func stopFirst(pid int) string {
	if pid > 0 {
		return fmt.Sprintf("stop it first (Ctrl-C in its terminal, or kill %d), then discard it", pid)
	}
	return "stop it first, then discard it"
}

func record(ctx context.Context, b *broker.Broker, id string) (schema.JobRecord, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return schema.JobRecord{}, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return schema.JobRecord{}, unknownJob(id)
	}
	if err != nil {
		return schema.JobRecord{}, fmt.Errorf("%w: loading job %s: %v", broker.ErrUnreachable, id, err)
	}
	return schema.DecodeJobRecord(e.Value())
}

// DiscardOn drops job id from the open broker b as [Discard] drops it
// from a store shared with other jobs, for a caller that runs jobs on b
// itself: a pipeline drops so a stage whose job turned out to be bad
// input once it ran, as jetmr drops such a job, so that it runs again
// from the start. An id that is not recorded matches [ErrUnknownJob].
func DiscardOn(ctx context.Context, b *broker.Broker, id string) (int64, error) {
	rec, err := record(ctx, b, id)
	if err != nil {
		return 0, err
	}
	return discardJob(ctx, b, id, rec)
}

// discardIn drops job id from a broker shared with other jobs, or, when
// no job is id, the stages of pipeline id.
func discardIn(ctx context.Context, b *broker.Broker, id string) (int64, error) {
	rec, err := record(ctx, b, id)
	if errors.Is(err, ErrUnknownJob) {
		return discardStages(ctx, b, id, err)
	}
	if err != nil {
		return 0, err
	}
	return discardJob(ctx, b, id, rec)
}

// discardStages drops the jobs recorded as stages of pipeline id, once
// it found none of them running; with none it returns unknown, the
// error of a job id that is not recorded.
func discardStages(ctx context.Context, b *broker.Broker, id string, unknown error) (int64, error) {
	jobs, err := Jobs(ctx, b)
	if err != nil {
		return 0, err
	}
	var stages []schema.JobRecord
	for _, st := range jobs {
		if st.Record.Pipeline == id {
			stages = append(stages, st.Record)
		}
	}
	if len(stages) == 0 {
		return 0, unknown
	}
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	for _, rec := range stages { // none goes while one runs
		if err := checkNotRunning(ctx, b, kv, rec.ID); err != nil {
			return 0, err
		}
	}
	var freed int64
	for _, rec := range stages {
		n, err := discardJob(ctx, b, rec.ID, rec)
		freed += n
		if err != nil {
			return freed, fmt.Errorf("discarding stage job %s of pipeline %s: %w", rec.ID, id, err)
		}
	}
	return freed, nil
}

// checkNotRunning refuses job id when its snapshot on an external server
// is fresh: its process is alive somewhere. An embedded store is locked by
// the process that runs its jobs, so one opened here runs none.
func checkNotRunning(ctx context.Context, b *broker.Broker, kv jetstream.KeyValue, id string) error {
	if snap, ok := loadSnapshot(ctx, kv, id); ok && !b.Embedded() && snap.State == schema.StateRunning && time.Since(snap.Updated) < liveFor {
		return running(id, 0, stopFirst(0))
	}
	return nil
}

// discardJob drops job id, recorded as rec, from a broker shared with
// other jobs.
func discardJob(ctx context.Context, b *broker.Broker, id string, rec schema.JobRecord) (int64, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	if err := checkNotRunning(ctx, b, kv, id); err != nil {
		return 0, err
	}
	freed := streamBytes(ctx, b, id)
	if err := b.DeleteJob(ctx, id); err != nil {
		return 0, fmt.Errorf("%w: discarding job %s: %v", broker.ErrUnreachable, id, err)
	}
	for _, key := range []string{
		schema.CheckpointKey(id, schema.CheckpointSplit), schema.CheckpointKey(id, schema.CheckpointOutput), snapshotKey(id), id,
	} {
		if err := kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, fmt.Errorf("%w: discarding job %s: deleting %s: %v", broker.ErrUnreachable, id, key, err)
		}
	}
	freed += removeLeftovers(rec, b.StoreDir())
	if store := b.StoreDir(); store != "" {
		os.Remove(snapshotPath(store, id))
	}
	return freed, nil
}

// removeLeftovers removes the job's files outside JetStream and returns
// the bytes they used.
func removeLeftovers(rec schema.JobRecord, store string) int64 {
	var freed int64
	for _, p := range leftovers(rec, store) {
		n := dirSize(p)
		if err := os.RemoveAll(p); err == nil {
			freed += n
		}
	}
	return freed
}
