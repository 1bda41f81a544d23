package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// ErrUnknownJob means the broker holds no record of the job asked about.
// It is wrapped together with [ErrBadInput].
var ErrUnknownJob = errors.New("unknown job")

// Status is what is known of a job while it runs or after it ended (jetmr
// status): the figures of its run report, taken from the job's own
// snapshot while its process runs or once it ended, and counted from its
// streams when its process died without one.
type Status struct {
	Record schema.JobRecord `json:"-"`
	ID     string           `json:"job"`
	Kind   string           `json:"kind"`
	// State is running, done, failed or stopped: a job whose process
	// died is stopped, whatever its record says.
	State string `json:"state"`
	// PID and Host name the process running the job, or the last one.
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
	// Store is the embedded store holding the job; empty on an external
	// server.
	Store string `json:"store,omitempty"`
	// Output is the job's output as given: a path, or the s3:// URL of
	// an output uploaded once the job completes; empty for stdout and for
	// a migration.
	Output string `json:"output,omitempty"`
	// Staged is where the output of a job whose upload is pending is
	// kept (see UploadPending).
	Staged  string    `json:"staged,omitempty"`
	Started time.Time `json:"started"`
	// Updated is when the figures were taken.
	Updated time.Time `json:"updated"`

	// MigrationRun names a migrate job's run in its database's progress
	// table (see [schema.JobRecord.MigrationRun]).
	MigrationRun string `json:"migration_run,omitempty"`

	// TasksTotal counts every task of the job: the report's tasks. While
	// Splitting it is the tasks known so far.
	TasksTotal uint64 `json:"tasks_total"`
	Splitting  bool   `json:"splitting,omitempty"`
	// TasksDone counts the tasks that succeeded, TasksFailed those that
	// failed on every attempt (the report's failed); Malformed the
	// messages dropped as malformed. DeadLetters is TasksFailed +
	// Malformed, the dead letters a run lists.
	TasksDone   uint64 `json:"tasks_done"`
	TasksFailed uint64 `json:"tasks_failed"`
	Malformed   uint64 `json:"malformed"`
	DeadLetters uint64 `json:"dead_letters"`
	// InFlight counts the tasks workers hold now; Queued those waiting.
	InFlight uint64 `json:"in_flight"`
	Queued   uint64 `json:"queued"`
	// BackupsRun counts the backup attempts of slow tasks the job's
	// last run started, BackupsWon those that finished first.
	BackupsRun int `json:"backups_run,omitempty"`
	BackupsWon int `json:"backups_won,omitempty"`
	// BytesIn and BytesOut are the report's bytes_in and bytes_out of the
	// job's last run.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// Counters are the user counters of the tasks merged so far (of the
	// whole run once it ended, the reduce's included); Message is the last
	// status message a task reported.
	Counters []schema.Counter `json:"counters,omitempty"`
	Message  string           `json:"status_message,omitempty"`
	// DiskBytes is the disk the job's state, temporary and staged files
	// use on this machine (and its streams, on an external server).
	DiskBytes int64 `json:"disk_bytes"`
	// Failed lists the failed tasks, filled by [JobStatus] only.
	Failed []report.DeadLetter `json:"failed,omitempty"`
	// SkippedRecords counts the bad records left out of the output
	// (--skip-bad-records); Skipped lists them once the run ended.
	SkippedRecords uint64             `json:"skipped_records,omitempty"`
	Skipped        []report.BadRecord `json:"skipped,omitempty"`
	// UploadPending is set for a job that completed but whose s3://
	// output was not uploaded (the upload failed, or its process died
	// during it): the output is complete in its staging folder (Output),
	// and a resume uploads it, running nothing again.
	UploadPending bool `json:"upload_pending,omitempty"`
	// OverLimit keeps, in a job's last snapshot, the dead letters of
	// tasks whose output the reducer refused for holding more bad records
	// than the job may skip: the results stream holds no failure of them.
	// [JobStatus] lists them in Failed.
	OverLimit []report.DeadLetter `json:"over_limit,omitempty"`
}

// Jobs lists the status of every job recorded in the broker, oldest first.
func Jobs(ctx context.Context, b *broker.Broker) ([]Status, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	w, err := kv.Watch(ctx, "*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("%w: listing jobs: %w", broker.ErrUnreachable, err)
	}
	defer w.Stop()
	var recs []schema.JobRecord
	for e := range w.Updates() {
		if e == nil {
			break // every current record seen
		}
		if rec, err := schema.DecodeJobRecord(e.Value()); err == nil {
			recs = append(recs, rec)
		}
	}
	out := make([]Status, 0, len(recs))
	for _, rec := range recs {
		st, err := statusOf(ctx, b, kv, rec, false)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sortStatuses(out)
	return out, nil
}

func sortStatuses(out []Status) {
	slices.SortStableFunc(out, func(a, b Status) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// JobStatus is the status of one job, with its failed tasks.
func JobStatus(ctx context.Context, b *broker.Broker, id string) (Status, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Status{}, unknownJob(id)
	}
	if err != nil {
		return Status{}, fmt.Errorf("%w: loading job %s: %w", broker.ErrUnreachable, id, err)
	}
	rec, err := schema.DecodeJobRecord(e.Value())
	if err != nil {
		return Status{}, fmt.Errorf("loading job %s: %w", id, err)
	}
	return statusOf(ctx, b, kv, rec, true)
}

func unknownJob(id string) error {
	return badInput("%w %s: nothing is recorded under that ID; jetmr status lists the jobs", ErrUnknownJob, id)
}

// statusOf is the status of the job of rec. A job that ended, or runs in
// a live process, says what its snapshot says; a job whose process died
// is counted from its streams.
func statusOf(ctx context.Context, b *broker.Broker, kv jetstream.KeyValue, rec schema.JobRecord, detail bool) (Status, error) {
	snap, haveSnap := loadSnapshot(ctx, kv, rec.ID)
	// A stopped job is counted from its streams too: a task may complete
	// after its reducer stopped, and a resume will find it done.
	final := rec.State == schema.StateDone || rec.State == schema.StateFailed
	// With an embedded server this process holds the store: nobody else
	// runs its jobs. On an external one a fresh snapshot shows a live job.
	// A process that ended says so in its last snapshot, fresh as it is.
	live := !final && !b.Embedded() && haveSnap && snap.State == schema.StateRunning && time.Since(snap.Updated) < liveFor
	var st Status
	switch {
	case haveSnap && (live || final && snap.State == rec.State):
		st = snap
		st.Record = rec
	default:
		st = Status{Record: rec, ID: rec.ID, Kind: string(rec.Kind), State: rec.State, Output: rec.Output, Started: time.Unix(0, rec.Created).UTC()}
		if haveSnap {
			st.PID, st.Host, st.BytesIn, st.BytesOut = snap.PID, snap.Host, snap.BytesIn, snap.BytesOut
		}
		if !final {
			st.State = schema.StateStopped // stopped, or its process died
		}
		st.Updated = time.Now().UTC()
		if err := st.count(ctx, b, kv); err != nil {
			return Status{}, err
		}
	}
	st.Store = b.StoreDir()
	st.MigrationRun = rec.MigrationRun
	st.Output, st.Staged = rec.Output, ""
	if rec.OutputURL != "" {
		st.Output = rec.OutputURL // the staging path is gone once uploaded
	}
	st.UploadPending = !live && uploadOnly(rec) && filepath.Base(filepath.Dir(filepath.Dir(rec.Output))) == objectStageDir
	if st.UploadPending {
		st.Staged = rec.Output
	}
	if rec.State == schema.StateCommitting && live {
		st.State = schema.StateRunning
	}
	st.DiskBytes = diskUsed(rec, b.StoreDir()) + streamBytes(ctx, b, rec.ID)
	if detail && st.TasksFailed > 0 {
		failed, err := failedTasks(ctx, b, rec)
		if err != nil {
			return Status{}, err
		}
		for _, d := range st.OverLimit {
			if !slices.ContainsFunc(failed, func(f report.DeadLetter) bool { return f.Index == d.Index }) {
				failed = append(failed, d)
			}
		}
		slices.SortFunc(failed, func(a, b report.DeadLetter) int { return cmp.Compare(a.Index, b.Index) })
		annotateLines(failed)
		recs := make([][]report.BadRecord, len(failed))
		for i, d := range failed {
			recs[i] = d.Records
		}
		annotateRecordLines(rec.Inputs, recs...)
		st.Failed = failed
	}
	st.OverLimit = nil
	return st, nil
}

func loadSnapshot(ctx context.Context, kv jetstream.KeyValue, id string) (Status, bool) {
	e, err := kv.Get(ctx, snapshotKey(id))
	if err != nil {
		return Status{}, false
	}
	st, err := decodeSnapshot(e.Value())
	return st, err == nil && st.ID == id
}

// count fills the task counts from the job's streams: the results stream
// holds every task completed, success or failure, until the job is done.
func (st *Status) count(ctx context.Context, b *broker.Broker, kv jetstream.KeyValue) error {
	id := st.Record.ID
	tasks, err := b.JS.Stream(ctx, schema.TaskStream(id))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if st.Record.State == schema.StateDone { // its streams went with it
			st.TasksTotal, st.TasksDone = st.Record.Tasks, st.Record.Tasks
		}
		return nil
	case err != nil:
		return fmt.Errorf("%w: reading the task stream of job %s: %v", broker.ErrUnreachable, id, err)
	}
	st.Queued = tasks.CachedInfo().State.Msgs
	st.TasksTotal, st.Splitting = st.Record.Tasks, st.Record.Tasks == 0
	if e, err := kv.Get(ctx, schema.CheckpointKey(id, schema.CheckpointSplit)); err == nil && st.Splitting {
		if ck, err := schema.DecodeSplitCheckpoint(e.Value()); err == nil {
			st.TasksTotal, st.Splitting = ck.Published, !ck.Done
		}
	}
	results, err := b.JS.Stream(ctx, schema.ResultStream(id))
	if err != nil {
		return nil // not provisioned yet, or being deleted
	}
	malformed := schema.MalformedSubject(id)
	if ri, err := results.Info(ctx, jetstream.WithSubjectFilter(malformed)); err == nil {
		st.Malformed = ri.State.Subjects[malformed]
	}
	c, err := completedTasks(ctx, b.JS, st.Record)
	if err != nil {
		return err
	}
	st.TasksDone, st.TasksFailed = uint64(len(c.done)), uint64(len(c.failed))
	st.TasksTotal = max(st.TasksTotal, st.TasksDone+st.TasksFailed)
	st.DeadLetters = st.TasksFailed + st.Malformed
	st.SkippedRecords = uint64(c.skipped)
	return nil
}

// completion is what the results of a job's tasks say, read as the
// reducer reads them.
type completion struct {
	// done holds the tasks that succeeded.
	done map[uint64]bool
	// failed holds the stream sequence of each failed task's result: its
	// failure, or the result the reducer refuses for holding more bad
	// records than the job may skip (those are in refused too).
	failed map[uint64]uint64
	// refused holds, for each task refused so, the records skipped by
	// the tasks accepted before it.
	refused map[uint64]int
	// skipped counts the bad records the accepted tasks left out.
	skipped int
}

// completedTasks reads the headers of the job's results as the reducer
// reads them: a task is done once a success of it is stored for every
// partition (a process killed between two of them stored only some), or
// failed by its first failure of the current round. A result that left
// bad records out (skip mode) is read whole: like the reducer, it counts
// its records against the job's --skip-bad-records in the order the
// results were stored, and a result that would go over it fails its task.
func completedTasks(ctx context.Context, js jetstream.JetStream, rec schema.JobRecord) (completion, error) {
	c := completion{done: map[uint64]bool{}, failed: map[uint64]uint64{}, refused: map[uint64]int{}}
	parts := max(rec.Partitions, 1)
	subjects := make([]string, parts)
	for p := range subjects {
		subjects[p] = schema.ResultSubject(rec.ID, p)
	}
	unreachable := func(err error) (completion, error) {
		return completion{}, fmt.Errorf("%w: reading the results of job %s: %v", broker.ErrUnreachable, rec.ID, err)
	}
	results, err := js.Stream(ctx, schema.ResultStream(rec.ID))
	if err != nil {
		return unreachable(err)
	}
	ri, err := results.Info(ctx, jetstream.WithSubjectFilter(schema.ResultSubjects(rec.ID)))
	if err != nil {
		return unreachable(err)
	}
	var total uint64
	for _, subj := range subjects {
		total += ri.State.Subjects[subj]
	}
	if total == 0 {
		return c, nil
	}
	cons, err := js.OrderedConsumer(ctx, schema.ResultStream(rec.ID), jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects, HeadersOnly: true,
	})
	if err != nil {
		return unreachable(err)
	}
	merged := map[uint64][]bool{} // the partitions stored of the tasks not done yet
	judged := map[uint64]bool{}   // the tasks whose skipped records were counted
	prefix := rec.ID + "/"
	for read := uint64(0); read < total; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return unreachable(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			msgID := m.Headers().Get(jetstream.MsgIDHeader)
			idx, part, ok := resultIndex(msgID, prefix)
			if !ok || part >= parts || c.done[idx] {
				continue
			}
			if _, dead := c.failed[idx]; dead {
				continue
			}
			md, mdErr := m.Metadata()
			if mdErr != nil {
				continue
			}
			if round := m.Headers().Get(schema.FailedHeader); round != "" {
				if round == strconv.Itoa(rec.Round) {
					c.failed[idx] = md.Sequence.Stream
				}
				continue
			}
			if strings.Contains(msgID, "/skipped/") && !judged[idx] {
				accepted, err := c.skip(ctx, results, rec, idx, md.Sequence.Stream)
				if err != nil {
					return completion{}, err
				}
				if !accepted {
					continue // failed, or run again in this round
				}
				judged[idx] = true
			}
			seen := merged[idx]
			if seen == nil {
				seen = make([]bool, parts)
				merged[idx] = seen
			}
			seen[part] = true
			if !slices.Contains(seen, false) {
				c.done[idx] = true
				delete(merged, idx)
			}
		}
		if n == 0 {
			break
		}
		read += uint64(n)
	}
	return c, nil
}

// skip judges the result at seq of task idx, which left bad records out:
// accepted while the job's --skip-bad-records allows its records, else
// the task's failure in the job's current round (a refused result of an
// earlier round is run again in this one).
func (c *completion) skip(ctx context.Context, results jetstream.Stream, rec schema.JobRecord, idx, seq uint64) (bool, error) {
	m, err := results.GetMsg(ctx, seq)
	if err != nil {
		return false, fmt.Errorf("%w: reading the results of job %s: %v", broker.ErrUnreachable, rec.ID, err)
	}
	r, err := schema.DecodeResult(m.Data)
	if err != nil {
		return false, nil // the reducer drops it as malformed
	}
	switch n := len(r.Skipped); {
	case c.skipped+n <= rec.SkipBad:
		c.skipped += n
		return true, nil
	case r.Round >= rec.Round:
		c.failed[idx], c.refused[idx] = seq, c.skipped
	}
	return false, nil
}

// resultIndex is the task index and partition in a result's message ID:
// JOB/INDEX/PARTITION/...
func resultIndex(msgID, prefix string) (index uint64, partition int, ok bool) {
	rest, ok := strings.CutPrefix(msgID, prefix)
	if !ok {
		return 0, 0, false
	}
	idx, rest, _ := strings.Cut(rest, "/")
	part, _, _ := strings.Cut(rest, "/")
	i, err := strconv.ParseUint(idx, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	p, err := strconv.Atoi(part)
	if err != nil {
		p = 0 // a failure's ID names its round, not a partition: JOB/INDEX/failed/ROUND
	}
	return i, p, true
}

// failedTasks loads the failure result of every failed task.
func failedTasks(ctx context.Context, b *broker.Broker, rec schema.JobRecord) ([]report.DeadLetter, error) {
	c, err := completedTasks(ctx, b.JS, rec)
	if err != nil {
		return nil, err
	}
	results, err := b.JS.Stream(ctx, schema.ResultStream(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the results of job %s: %v", broker.ErrUnreachable, rec.ID, err)
	}
	var out []report.DeadLetter
	for idx, seq := range c.failed {
		m, err := results.GetMsg(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("%w: reading the results of job %s: %v", broker.ErrUnreachable, rec.ID, err)
		}
		r, err := schema.DecodeResult(m.Data)
		if err != nil {
			continue
		}
		before, refused := c.refused[idx]
		if refused {
			reducer.RefuseSkipped(&r, before, rec.SkipBad)
		}
		if r.Err == nil {
			continue
		}
		dl := report.DeadLetter{
			Index: r.Index, Attempts: r.Attempt, Worker: r.Worker, Path: r.Path, Offset: r.Offset, Length: r.Length, Error: *r.Err,
			OverLimit: refused,
		}
		if iso := r.Isolation; iso != nil {
			dl.Isolation, dl.IsolationRuns, dl.Records = iso.Outcome, iso.Attempts, report.BadRecords(r.Index, r.Path, iso.Records)
		}
		out = append(out, dl)
	}
	slices.SortFunc(out, func(a, b report.DeadLetter) int { return cmp.Compare(a.Index, b.Index) })
	return out, nil
}

// streamBytes is what the job's streams hold on the server.
func streamBytes(ctx context.Context, b *broker.Broker, id string) int64 {
	var n int64
	for _, name := range []string{schema.TaskStream(id), schema.ResultStream(id), "OBJ_" + schema.DataBucket(id)} {
		if s, err := b.JS.Stream(ctx, name); err == nil {
			n += int64(s.CachedInfo().State.Bytes)
		}
	}
	return n
}

// Workers lists the workers with a fresh heartbeat, by name.
func Workers(ctx context.Context, b *broker.Broker) ([]schema.WorkerStatus, error) {
	kv, err := b.Workers(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: listing workers: %w", broker.ErrUnreachable, err)
	}
	var out []schema.WorkerStatus
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue
		}
		if st, err := schema.DecodeWorkerStatus(e.Value()); err == nil {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b schema.WorkerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
