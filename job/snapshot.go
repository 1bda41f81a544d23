package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// A running job records its figures every snapshotEvery, and once more when
// it ends: in the file snapshotPath of its embedded store, which jetmr
// status reads while the store is locked, and under snapshotKey in the jobs
// bucket, which status reads on an external server.
var snapshotEvery = time.Second

// liveFor is how long a snapshot of a running job proves that its process
// is alive, when no lock can tell (an external server).
const liveFor = 15 * time.Second

// snapshotDir is the folder of a store holding one snapshot file per job.
const snapshotDir = "status"

func snapshotPath(store, id string) string {
	return filepath.Join(store, snapshotDir, id+".json")
}

func snapshotKey(id string) string { return id + ".status" }

// snapshot is the file format of a job's recorded figures: its status and
// its record, msgpack-encoded as in the jobs bucket.
type snapshot struct {
	Status
	RecordData []byte `json:"record_data"`
}

// encodeSnapshot encodes st with its record.
func encodeSnapshot(st Status) ([]byte, error) {
	rec, err := schema.EncodeJobRecord(st.Record)
	if err != nil {
		return nil, err
	}
	return json.Marshal(snapshot{Status: st, RecordData: rec})
}

// decodeSnapshot decodes and checks a snapshot written by encodeSnapshot.
func decodeSnapshot(data []byte) (Status, error) {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("%w: job snapshot: %w", schema.ErrMalformed, err)
	}
	rec, err := schema.DecodeJobRecord(s.RecordData)
	if err != nil {
		return Status{}, fmt.Errorf("job snapshot: %w", err)
	}
	st := s.Status
	st.Record = rec
	switch {
	case st.ID != rec.ID:
		return Status{}, fmt.Errorf("%w: job snapshot of %q holds the record of %q", schema.ErrMalformed, st.ID, rec.ID)
	case !validState(st.State):
		return Status{}, fmt.Errorf("%w: job snapshot of %s: state %q", schema.ErrMalformed, st.ID, st.State)
	case st.TasksDone+st.TasksFailed > st.TasksTotal && !st.Splitting:
		return Status{}, fmt.Errorf("%w: job snapshot of %s: %d done and %d failed of %d tasks", schema.ErrMalformed, st.ID, st.TasksDone, st.TasksFailed, st.TasksTotal)
	}
	st.DeadLetters = st.TasksFailed + st.Malformed
	return st, nil
}

func validState(s string) bool {
	switch s {
	case schema.StateRunning, schema.StateDone, schema.StateFailed, schema.StateStopped:
		return true
	}
	return false
}

// readSnapshot reads the snapshot file of job id in store.
func readSnapshot(store, id string) (Status, error) {
	data, err := os.ReadFile(snapshotPath(store, id))
	if err != nil {
		return Status{}, err
	}
	return decodeSnapshot(data)
}

// readSnapshots reads every snapshot file of a store, skipping those that
// do not decode.
func readSnapshots(store string) ([]Status, error) {
	entries, err := os.ReadDir(filepath.Join(store, snapshotDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the job snapshots of store %s: %w", store, err)
	}
	var out []Status
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		if st, err := readSnapshot(store, id); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// saveSnapshot records st in the jobs bucket and, with an embedded server,
// in the store's snapshot file (written to a temporary name, then
// renamed, so that a reader never sees half of it).
func (s *session) saveSnapshot(ctx context.Context, st Status) error {
	st.Updated = time.Now().UTC()
	data, err := encodeSnapshot(st)
	if err != nil {
		return err
	}
	var errs []error
	if _, err := s.jobs.Put(ctx, snapshotKey(st.ID), data); err != nil {
		errs = append(errs, fmt.Errorf("recording the status of job %s: %w", st.ID, err))
	}
	if store := s.b.StoreDir(); store != "" {
		errs = append(errs, writeFileAtomic(snapshotPath(store, st.ID), data))
	}
	return errors.Join(errs...)
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// baseStatus is the part of a status this process knows of its own job.
func (s *session) baseStatus(rec schema.JobRecord, state string) Status {
	host, _ := os.Hostname()
	return Status{
		Record: rec, ID: rec.ID, Kind: string(rec.Kind), State: state, PID: os.Getpid(), Host: host,
		Store: s.b.StoreDir(), Output: rec.Output, Started: time.Unix(0, rec.Created).UTC(),
	}
}

// liveStatus is the status of the running job from the reducer's
// progress, published the total of tasks once splitting is done (-1
// before), and the task consumer.
func (s *session) liveStatus(ctx context.Context, rec schema.JobRecord, p reducer.Progress, published int64) Status {
	st := s.baseStatus(rec, schema.StateRunning)
	st.setProgress(p)
	st.TasksTotal, st.Splitting = uint64(max(published, 0)), published < 0
	if st.Splitting {
		st.TasksTotal = p.Completed
	}
	if c, err := s.b.JS.Consumer(ctx, schema.TaskStream(rec.ID), schema.MapperConsumer); err == nil {
		st.InFlight = uint64(c.CachedInfo().NumAckPending)
	}
	st.BackupsRun, st.BackupsWon = s.spec.counts()
	return st
}

func (st *Status) setProgress(p reducer.Progress) {
	st.TasksFailed, st.TasksDone = p.Failed, p.Completed-min(p.Failed, p.Completed)
	st.Malformed, st.DeadLetters = p.Malformed, p.Failed+p.Malformed
	st.BytesIn, st.BytesOut = p.BytesIn, p.BytesOut
	st.SkippedRecords = p.Skipped
	st.Counters, st.Message = p.Counters, p.Status
}

// recordProgress saves the job's snapshot now and every snapshotEvery
// until ctx ends; failures are logged, never fatal to the job.
func (s *session) recordProgress(ctx context.Context, rec schema.JobRecord, red *reducer.Reducer, published *atomic.Int64) {
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		st := s.liveStatus(ctx, rec, red.Progress(), published.Load())
		if err := s.saveSnapshot(ctx, st); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Debug().Err(err).Msg("recording the job's status")
		}
		s.lastLive.Store(&st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxOverLimit bounds the dead letters a job's last snapshot keeps.
const maxOverLimit = 20

// saveFinal records how the run ended, with the figures of its report:
// a job's last snapshot says the same as its run report. Once ctx has
// ended, the write is bounded as [stopWrites] says.
func (s *session) saveFinal(ctx context.Context, stats *report.Stats, complete bool) {
	ctx, cancel := s.stop.context(ctx, 10*time.Second)
	defer cancel()
	st := s.baseStatus(s.record, s.record.State)
	if st.State == schema.StateCommitting {
		// Its output is staged but not uploaded, and this process ends:
		// the job stopped until a resume uploads it.
		st.State = schema.StateStopped
	}
	st.BackupsRun, st.BackupsWon = s.spec.counts()
	if last := s.lastLive.Load(); last != nil {
		st.TasksTotal, st.Splitting = last.TasksTotal, last.Splitting
	}
	if stats != nil {
		r := stats.Report(s.record.ID, s.record.Kind)
		st.setProgress(reducer.Progress{
			Completed: uint64(r.Tasks), Failed: uint64(r.Failed), Malformed: uint64(len(r.Malformed)),
			BytesIn: r.BytesIn, BytesOut: r.BytesOut, Counters: r.Counters, Status: stats.Status, Skipped: uint64(len(r.Skipped)),
		})
		st.Skipped = r.Skipped
		for _, d := range r.DeadLetters {
			if d.OverLimit && len(st.OverLimit) < maxOverLimit {
				st.OverLimit = append(st.OverLimit, d)
			}
		}
		if complete {
			st.TasksTotal, st.Splitting = uint64(r.Tasks), false
		}
		st.TasksTotal = max(st.TasksTotal, st.TasksDone+st.TasksFailed)
	} else if last := s.lastLive.Load(); last != nil {
		st.TasksDone, st.TasksFailed, st.Malformed, st.DeadLetters = last.TasksDone, last.TasksFailed, last.Malformed, last.DeadLetters
		st.BytesIn, st.BytesOut = last.BytesIn, last.BytesOut
		st.SkippedRecords = last.SkippedRecords
		st.Counters, st.Message = last.Counters, last.Message
	}
	if err := s.saveSnapshot(ctx, st); err != nil {
		s.cfg.Logger.Warn().Err(err).Msg("recording the job's status")
	}
}
