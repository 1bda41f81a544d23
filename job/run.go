package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// ErrHalted is the cause of a job stopped by its --halt policy.
var ErrHalted = errors.New("halted by the --halt policy")

// Run validates cfg, runs the job to the end and returns its report. The
// report is returned with ErrTasksFailed too. When ctx is cancelled the job
// stops, keeping what a later Run with Resume needs, and Run returns an
// error wrapping context.Canceled.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	return runWithObjectOutput(ctx, cfg, func(cfg Config) (*report.Report, error) { return run(ctx, cfg) })
}

func run(ctx context.Context, cfg Config) (*report.Report, error) {
	start := time.Now()
	p, err := validate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := p.jobStore(); err != nil {
		return nil, err
	}
	b, err := broker.Open(ctx, p.cfg.Broker)
	if errors.Is(err, broker.ErrStoreBusy) && p.ownStore {
		info, _ := broker.InspectStore(p.cfg.Broker.StoreDir)
		return nil, running(p.record.ID, info.PID, "wait for it to finish, or choose another --job")
	}
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return p.run(ctx, b, start)
}

// jobStore gives a job run with the embedded server and no store of its
// own a store folder under the default root (see [OwnStore]).
func (p *plan) jobStore() error {
	bc, err := OwnStore(p.cfg.Broker, p.record.ID, p.cfg.Resume)
	if err != nil {
		return err
	}
	p.ownStore = bc.StoreDir != p.cfg.Broker.StoreDir
	p.cfg.Broker = bc
	return nil
}

// RunOn is Run on a broker the caller has opened and keeps open, so that
// several jobs (the stages of a pipeline) share one broker and one
// embedded server. cfg.Broker still says where spill files go and how
// they are synced; RunOn neither opens nor closes b.
func RunOn(ctx context.Context, b *broker.Broker, cfg Config) (*report.Report, error) {
	return runWithObjectOutput(ctx, cfg, func(cfg Config) (*report.Report, error) { return runOn(ctx, b, cfg) })
}

func runOn(ctx context.Context, b *broker.Broker, cfg Config) (*report.Report, error) {
	start := time.Now()
	p, err := validate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	return p.run(ctx, b, start)
}

// provision creates, or finds, the job's streams and, for transport
// "object", its object store.
func (s *session) provision(ctx context.Context) error {
	if _, err := s.b.ProvisionJob(ctx, s.record.ID, broker.ProvisionOptions{Reduce: s.record.ReduceOnWorkers}); err != nil {
		return fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	if s.record.Transport != schema.TransportObject {
		return nil
	}
	var err error
	if s.data, err = s.b.DataStore(ctx, s.record.ID, 0); err != nil {
		return fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	return nil
}

// session is one run of a job against an open broker.
type session struct {
	*plan
	b     *broker.Broker
	jobs  jetstream.KeyValue
	spill string // this process's spill directory
	// spooledFrom maps a task whose streamed chunk was spooled to the
	// input the chunk came from ("-" for standard input), to name it so
	// in place of the spool file.
	spooledFrom sync.Map
	annotated   sync.Once // the run's stats are annotated once
	splitState  schema.SplitCheckpoint
	counts      *reducer.CountSink     // a migrate job's sink
	each        *reducer.EachSink      // an each job's sink
	joinPath    string                 // an each job's join file
	sizer       *splitter.Sizer        // sizes chunks of a --task-time job; nil otherwise
	data        jetstream.ObjectStore  // workers' large outputs (transport "object"); nil otherwise
	served      servedFiles            // the files whose ranges workers fetch (transport "object")
	spec        *speculator            // backups of slow tasks; nil unless the job is speculative
	remote      *remoteAttempts        // reports the attempts run by other processes
	lastLive    atomic.Pointer[Status] // the last snapshot recordProgress saved
	stop        *stopWrites            // the deadlines of the writes once the job stopped
	counters    *counter.Set           // the user counters of the merged tasks, and of the reduce once it ran
	reduced     *counter.Set           // the user counters of the reduce (command or function)
	// uploadPending marks a job whose output is complete in its staging
	// folder but whose upload to object storage failed (uploadErr): it
	// stays committing, and a resume uploads it. uploaded marks an output
	// this run uploaded.
	uploadPending, uploaded bool
	uploadErr               error
	// start is when this run started; finished is the report of a resume
	// that found the job's output complete, and ran no task.
	start    time.Time
	finished *report.Report
}

func (p *plan) run(ctx context.Context, b *broker.Broker, start time.Time) (*report.Report, error) {
	jobs, err := b.Jobs(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	s := &session{plan: p, b: b, jobs: jobs, counters: &counter.Set{}, reduced: &counter.Set{}, start: start}
	s.stop = &stopWrites{log: p.cfg.Logger, job: p.record.ID}
	if !b.Embedded() {
		s.stop.b = b
	}
	defer s.stop.watch(ctx)()
	if p.cfg.Resume {
		done, err := s.resume(ctx)
		if err != nil || done {
			return s.finished, err
		}
		if err := s.provision(ctx); err != nil {
			return nil, err
		}
		// A run halted soon that crashed before it let workers take its
		// tasks again left them paused.
		if err := s.unpause(ctx); err != nil {
			return nil, err
		}
	} else {
		// The streams exist before the record that announces the job, so
		// that workers watching the records bind to them at once; a job
		// that exists already is refused before its streams are touched.
		if _, err := s.jobs.Get(ctx, s.record.ID); err == nil {
			return nil, jobExists(s.record.ID)
		}
		if err := s.provision(ctx); err != nil {
			return nil, err
		}
		if err := s.create(ctx); err != nil {
			return nil, err
		}
	}
	s.sizer = s.newSizer()
	if s.record.Speculative {
		s.spec = newSpeculator(s)
	}
	if _, ok := p.source.(splitter.AdaptiveSource); s.sizer != nil && !ok {
		return nil, badSetting("Config.Resume", "job %s is sized by Config.TaskTime, but its source cannot be split adaptively: run it again without Config.Resume", p.record.ID)
	}
	if s.spill, err = p.spillDir(); err != nil {
		return nil, err
	}
	sink, err := s.newSink(ctx)
	if err != nil {
		return nil, err
	}
	if p.cfg.Started != nil {
		p.cfg.Started(p.record.ID)
	}
	totalBytes := p.total
	if p.record.Kind.Traits().Rows || !p.totalKnown {
		totalBytes = 0 // p.total estimates rows, or counts compressed bytes
	}
	s.obs().JobStarted(p.record.ID, "", -1, totalBytes, p.cfg.Slots)
	if r, ok := s.obs().(observe.RowsObserver); ok && p.record.Kind.Traits().Rows {
		r.RowsEstimated(p.record.ID, "", p.total)
	}
	p.cfg.Logger.Info().Str("job", p.record.ID).Int("inputs", len(p.record.Inputs)).Int64("bytes", p.total).
		Int64("chunk_size", p.record.ChunkSize).Int("slots", p.cfg.Slots).Bool("resume", p.cfg.Resume).Msg("job starting")

	stats, runErr := s.execute(ctx, sink, start)
	if runErr != nil && ctx.Err() != nil && !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, ErrHalted) {
		// A command stopped with the job (the reducer's, killed when ctx
		// ended) failed because the job stopped: the job is stopped, not
		// failed, and a resume runs it again.
		runErr = fmt.Errorf("%w: %w", runErr, context.Cause(ctx))
		if !errors.Is(runErr, context.Canceled) {
			runErr = fmt.Errorf("%w (%w)", runErr, ctx.Err())
		}
	}
	if runErr == nil && stats != nil && len(stats.Dead) == 0 && len(stats.Skipped) > 0 {
		// Tasks complete in any order; their indexes follow the input.
		slices.SortStableFunc(stats.Skipped, func(a, b report.BadRecord) int {
			return cmp.Or(cmp.Compare(a.Task, b.Task), cmp.Compare(a.Offset, b.Offset))
		})
		s.annotate(stats)
		runErr = writeRejects(s.rejects, stats.Skipped)
	} else if runErr == nil && stats != nil && len(stats.Dead) == 0 && s.rejects != "" {
		// No record left out: a rejects file of an earlier output
		// (replaced with Config.Force) would name records of another run.
		if err := os.Remove(s.rejects); err != nil && !errors.Is(err, os.ErrNotExist) {
			runErr = fmt.Errorf("removing the rejected records of an earlier run, %s: %w", s.rejects, err)
		}
	}
	// A reducer command that failed once every task succeeded leaves a
	// run that is complete but for its reduce: the report says what ran.
	var reduceErr *schema.TaskError
	reduceFailed := stats != nil && len(stats.Dead) == 0 && errors.As(runErr, &reduceErr)
	if stats != nil {
		s.annotate(stats) // before the last snapshot, which lists the records
	}
	if runErr == nil && stats != nil && len(stats.Dead) == 0 && p.cfg.upload != nil {
		if err := p.cfg.upload(ctx); err != nil {
			s.uploadPending, s.uploadErr, runErr = true, err, err
		} else {
			s.uploaded = true
		}
	}
	endErr := s.end(ctx, stats, runErr)
	s.saveFinal(ctx, stats, runErr == nil || reduceFailed)
	s.obs().JobEnded(p.record.ID, "", errors.Join(runErr, endErr))
	if runErr != nil {
		if errors.Is(runErr, ErrHalted) && stats != nil {
			r := s.report(stats)
			r.Halted = s.cfg.Halt.When
			tf := s.tasksFailed(stats)
			tf.Halted = r.Halted
			s.countCommitted(ctx, r, tf)
			return r, tf
		}
		if reduceFailed || s.uploadPending {
			// Every task ran: the report says what ran, and why the
			// output is not where it goes.
			return s.report(stats), runErr
		}
		return nil, runErr
	}
	report := s.report(stats)
	if len(stats.Dead) > 0 {
		return report, s.tasksFailed(stats)
	}
	return report, endErr
}

func (s *session) tasksFailed(stats *report.Stats) *TasksFailedError {
	return &TasksFailedError{Job: s.record.ID, Kind: s.record.Kind, Dead: stats.Dead,
		Streamed: s.record.Kind.Traits().Ordered && s.record.Output == ""}
}

// annotate fills in the line numbers of the dead letters' inputs and of
// the bad records.
func (s *session) annotate(stats *report.Stats) {
	s.annotated.Do(func() {
		// The first bad record is the first in the input, whichever task
		// finished first: tasks are numbered in input order.
		slices.SortStableFunc(stats.Skipped, func(a, b report.BadRecord) int {
			return cmp.Or(cmp.Compare(a.Task, b.Task), cmp.Compare(a.Offset, b.Offset))
		})
		annotateLines(stats.Dead)
		recs := [][]report.BadRecord{stats.Skipped}
		for _, d := range stats.Dead {
			recs = append(recs, d.Records)
		}
		annotateRecordLines(s.record.Inputs, recs...)
		// A spooled chunk's records are named by the input they came
		// from, with offsets within the chunk (and no line).
		for _, list := range recs {
			for i := range list {
				if from, ok := s.spooledFrom.Load(list[i].Task); ok && list[i].Path == s.spoolPath(list[i].Task) {
					list[i].Path = from.(string)
				}
			}
		}
	})
}

func (s *session) report(stats *report.Stats) *report.Report {
	s.annotate(stats)
	r := stats.Report(s.record.ID, s.record.Kind)
	if len(stats.Skipped) > 0 && len(stats.Dead) == 0 {
		r.Rejects = s.rejects
		if s.cfg.rejectsURL != "" {
			r.Rejects = s.cfg.rejectsURL
		}
	}
	if s.counts != nil {
		r.Rows, r.BatchesAlreadyDone, r.BatchesSplit = s.counts.Rows, s.counts.AlreadyDone, s.counts.Split
		r.BatchesUnchanged, r.UnchangedBatches = s.counts.Unchanged, s.counts.UnchangedExamples
	}
	if s.each != nil {
		r.Items, r.ItemsFailed = s.each.Items, s.each.Failed
		if items, ok := s.source.(splitter.Items); ok {
			r.ItemsInJob = len(items)
			r.ItemsLeft = max(len(items)-s.each.Ended, 0)
		}
	}
	r.BackupsRun, r.BackupsWon = s.spec.counts()
	r.Streamed = s.streamed
	r.NullKeyRows = s.nullKeys
	if s.cfg.Migration != nil {
		r.Key = s.cfg.Migration.Key
	}
	r.Throttled = s.cfg.Migration != nil && (s.cfg.Migration.MaxRate > 0 || s.cfg.Migration.PauseWhen != "")
	r.SlotsSetBy = s.slotsSetBy(r.Workers)
	r.Advise()
	r.Upload = s.uploadReport()
	return r
}

// uploadReport says what became of an s3:// output, or returns nil for
// another output.
func (s *session) uploadReport() *report.Upload {
	if s.cfg.outputURL == "" {
		return nil
	}
	u := &report.Upload{URL: s.cfg.outputURL, Uploaded: s.uploaded}
	if s.uploadErr != nil {
		// The store's error names the request and the object; the
		// sentinel's prefix means nothing to the reader.
		u.Error = strings.ReplaceAll(s.uploadErr.Error(), objstore.ErrUnavailable.Error()+": ", "")
		u.Staged = s.record.Output
		if ue := (*UploadError)(nil); errors.As(s.uploadErr, &ue) {
			u.Error = strings.ReplaceAll(ue.Err.Error(), objstore.ErrUnavailable.Error()+": ", "")
		}
	}
	return u
}

// committedReport is the report of a resume that found the job's output
// complete and ran no task: it counts the job's tasks as committed by
// earlier runs, with their counters (as the job's last snapshot has
// them), and says whether it uploaded an s3:// output.
func (s *session) committedReport(ctx context.Context) *report.Report {
	stats := report.NewStats()
	stats.Start, stats.Committed = s.start, int(s.record.Tasks)
	if st, ok := loadSnapshot(ctx, s.jobs, s.record.ID); ok {
		stats.Counters.AddList(st.Counters)
		stats.Status = st.Message
	}
	r := stats.Report(s.record.ID, s.record.Kind)
	r.Upload = s.uploadReport()
	if r.Upload != nil {
		r.Upload.UploadOnly = true
	}
	return r
}

// localWorkerName names the tasks this process runs in results and
// reports, as a jetmr worker is named: host:pid.
func localWorkerName() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// slotsSetBy names, for the report's advice, what sets the slots that
// ran the job's tasks: "" (-j) when this process ran them all with its
// default slots, --local-workers when given or with an external broker,
// and jetmr worker -j when jetmr worker processes ran some, whose slots
// the job's own flags do not set.
func (s *session) slotsSetBy(workers []report.WorkerReport) string {
	local, remote := false, false
	for _, w := range workers {
		if w.Name == localWorkerName() {
			local = true
		} else {
			remote = true
		}
	}
	switch {
	case remote && local:
		return "jetmr worker -j, --local-workers"
	case remote:
		return "jetmr worker -j"
	case s.cfg.LocalWorkers > 0 || s.cfg.Broker.URL != "":
		return "--local-workers"
	}
	return ""
}

// execute runs splitter, workers and reducer until the reducer has merged
// every task.
func (s *session) execute(ctx context.Context, sink reducer.Sink, start time.Time) (*report.Stats, error) {
	win := newWindow(s.cfg.Window)
	total := make(chan uint64, 1)
	g, gctx := errgroup.WithContext(ctx)
	haltCtx, halt := context.WithCancelCause(gctx)
	defer halt(nil)
	stopSplit := make(chan struct{})
	workCtx, stopWork := context.WithCancel(haltCtx)
	defer stopWork()
	pullCtx, stopPull := context.WithCancel(workCtx)
	defer stopPull()
	soon := newSoonHalt(stopPull)
	defer func() {
		if soon.paused.Load() {
			if err := s.unpause(ctx); err != nil {
				s.cfg.Logger.Warn().Err(err).Str("job", s.record.ID).Msg("resuming the task consumer")
			}
		}
	}()
	red, err := reducer.New(reducer.Config{
		JS: s.b.JS, Job: s.record, Sink: sink, Total: total, Start: start, Counters: s.counters,
		Session: &reduction{session: s, retired: s.retire(win), retry: s.retryFunc(haltCtx), failed: s.haltFunc(halt, stopSplit, soon)},
		Logger:  s.cfg.Logger,
		StopContext: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return s.stop.context(ctx, 30*time.Second)
		},
	})
	if err == nil {
		// Before any task of this run is published: a result stored from
		// here on is this run's, however quick its worker.
		err = red.Prepare(ctx)
	}
	if err != nil {
		return nil, errors.Join(err, sink.Suspend(ctx))
	}
	var worker *mapper.Worker
	if s.local > 0 {
		worker, err = mapper.NewWorker(mapper.Config{
			JS: s.b.JS, Job: s.job, Slots: s.local, Name: localWorkerName(), SpillDir: s.spill, Logger: s.cfg.Logger, Observer: s.cfg.Observer, InProcess: true,
			SyncSpills: s.cfg.Broker.Sync == broker.SyncAlways, MemFree: s.cfg.MemFree,
			FailedForGood: s.awaitCounted(red),
		})
		if err != nil {
			return nil, errors.Join(err, sink.Suspend(ctx)) // the reducer never ran to do it
		}
	}
	local := ""
	if worker != nil {
		local = worker.Name()
	}
	if s.remote, err = newRemoteAttempts(s, local); err != nil {
		return nil, errors.Join(err, sink.Suspend(ctx))
	}
	defer s.remote.close()
	ranges, err := s.rangeServer()
	if err != nil {
		return nil, errors.Join(err, sink.Suspend(ctx))
	}
	var stats *report.Stats
	rec := s.record // a copy taken before the reducer's goroutine changes s.record
	if ranges != nil {
		g.Go(func() error { return ranges.Run(workCtx) })
	}
	var committed atomic.Bool
	g.Go(func() error {
		defer stopWork()
		var err error
		stats, err = red.Run(haltCtx)
		if err == nil {
			committed.Store(true)
			s.addReduced(stats)
		}
		return err
	})
	var workerDone chan struct{}
	if worker != nil {
		workerDone = make(chan struct{})
		g.Go(func() error {
			defer close(workerDone)
			return worker.RunDraining(workCtx, pullCtx)
		})
	} else {
		g.Go(func() error { return s.awaitWorkers(workCtx, red) })
	}
	var published atomic.Int64
	published.Store(-1)
	split := make(chan struct{}) // closed when every task is published
	g.Go(func() error {
		n, err := s.publishTasks(workCtx, win, stopSplit)
		if err != nil {
			if workCtx.Err() != nil {
				return nil // stopping: the reducer or the caller says why
			}
			return err
		}
		published.Store(int64(n))
		close(split)
		total <- n
		return nil
	})
	if s.spec != nil {
		g.Go(func() error { return s.spec.run(workCtx, split) })
	}
	g.Go(func() error { return s.watchdog(workCtx, red, &published) })
	if !s.b.Embedded() { // workers in other processes reach only an outside server
		g.Go(func() error { return s.remote.watchWorkers(workCtx) })
	}
	g.Go(func() error { return s.settle(workCtx, soon, red, workerDone, halt) })
	g.Go(func() error {
		s.recordProgress(workCtx, rec, red, &published)
		return nil
	})
	err = g.Wait()
	if committed.Load() && (err == nil || errors.Is(err, context.Canceled)) {
		// The reducer published the output: the job is done, whatever
		// stopped the rest (stopWork, or a signal that came after the
		// commit).
		return stats, nil
	}
	if cause := context.Cause(haltCtx); errors.Is(cause, ErrHalted) {
		return stats, cause
	}
	if err == nil {
		err = ctx.Err()
	}
	return stats, err
}

// obs is the job's observer, or one that ignores everything.
func (s *session) obs() observe.Observer { return s.cfg.Observer }

// haltFunc applies the --halt policy when the n-th task has failed: "now"
// stops the job at once; "soon" stops splitting and starting tasks (those
// queued or fetched ahead too), and settle halts the job once the running
// ones are done.
func (s *session) haltFunc(halt context.CancelCauseFunc, stopSplit chan struct{}, soon *soonHalt) func(n int) {
	h := s.cfg.Halt
	return func(n int) {
		soon.failed.Store(int64(n))
		if h.When == "" || h.When == HaltNever || n != max(h.Fail, 1) {
			return
		}
		s.cfg.Logger.Warn().Str("job", s.record.ID).Int("failed", n).Str("halt", h.When).Msg("halting")
		if h.When == HaltNow {
			halt(fmt.Errorf("%w: %d task(s) failed", ErrHalted, n))
			return
		}
		close(stopSplit)
		soon.trigger()
	}
}

// spillDir is where workers of this process put large outputs.
func (p *plan) spillDir() (string, error) {
	base := p.cfg.Broker.StoreDir
	if base == "" && p.cfg.Broker.URL == "" {
		var err error
		if base, err = broker.DefaultStoreDir(); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(base, "spill", p.record.ID)
	if base == "" {
		// Where workers of an external broker spill by default.
		dir = filepath.Join(mapper.DefaultSpillDir(), p.record.ID)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating spill directory %s: %w", dir, err)
	}
	return dir, nil
}

// keyedSink is the sink of a mapreduce job.
func (s *session) keyedSink(context.Context) (reducer.Sink, error) {
	if s.record.ReduceOnWorkers {
		return reducer.NewPartsSink(reducer.PartsConfig{
			JS: s.b.JS, Job: s.record, Counters: s.reduced,
			Sync: s.cfg.Broker.Sync == broker.SyncAlways, Replace: s.cfg.Force,
		})
	}
	sink, err := reducer.NewKeyedSink(reducer.KeyedConfig{
		Dir: s.record.Output, Job: s.record.ID, Partitions: s.record.Partitions,
		Fold: s.job.Combiner, ReduceCommand: s.record.ReduceCommand, CommandDir: s.job.Dir, OkExit: s.record.OkExit, ReduceFunc: s.job.Reduce,
		Keys: s.record.Keys(), MapOnly: s.record.Reduce == schema.ReduceNone, Counters: s.reduced,
		WorkDir: filepath.Join(s.spill, "runs"),
		Memory:  reduceShare(s.cfg.Memory),
		Sync:    s.cfg.Broker.Sync == broker.SyncAlways,
		Replace: s.cfg.Force,
		// Spilled runs are recorded for, and reused by, a resume of this
		// very job: its ID and creation time name it.
		Fingerprint: fmt.Sprintf("%s@%d", s.record.ID, s.record.Created),
		Resume:      s.cfg.Resume,
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.Resume {
		logReused(s.cfg.Logger, s.record.ID, sink.Reused())
	}
	return sink, nil
}

// logReused logs what a resumed keyed sink took over from the spilled
// runs of the interrupted run.
func logReused(log zerolog.Logger, job string, r reducer.RunsReused) {
	if r.Runs == 0 && len(r.Discarded) == 0 {
		return
	}
	log.Info().Str("job", job).Int("runs", r.Runs).Int("results", r.Results).Int("partial_results", r.Partial).
		Int("discarded", len(r.Discarded)).Msg("reusing spilled runs")
	for _, why := range r.Discarded {
		log.Info().Str("job", job).Str("reason", why).Msg("discarding a spilled run: its results are merged again")
	}
}

func (s *session) create(ctx context.Context) error {
	data, err := schema.EncodeJobRecord(s.record)
	if err != nil {
		return err
	}
	if _, err := s.jobs.Create(ctx, s.record.ID, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return jobExists(s.record.ID)
		}
		return fmt.Errorf("%w: recording job %s: %w", broker.ErrUnreachable, s.record.ID, err)
	}
	return nil
}

func jobExists(id string) error {
	return &errs.BadInputError{Setting: "Config.ID", Err: ErrJobExists,
		Msg: fmt.Sprintf("job %s already exists: add Config.Resume to continue it, choose another Config.ID, or drop it with jetmr discard %s", id, id)}
}

func (s *session) putRecord(ctx context.Context) error {
	data, err := schema.EncodeJobRecord(s.record)
	if err != nil {
		return err
	}
	if _, err := s.jobs.Put(ctx, s.record.ID, data); err != nil {
		return fmt.Errorf("recording job %s: %w", s.record.ID, err)
	}
	return nil
}

// end records how the run ended. A complete job's streams, checkpoints and
// spill files are deleted; a failed or stopped one keeps them for --resume.
// Once ctx has ended, the writes are bounded as [stopWrites] says.
func (s *session) end(ctx context.Context, stats *report.Stats, runErr error) error {
	ctx, cancel := s.stop.context(ctx, 10*time.Second)
	defer cancel()
	switch {
	case s.uploadPending:
		s.record.State = schema.StateCommitting
	case runErr != nil && !errors.Is(runErr, ErrHalted) && errors.Is(runErr, context.Canceled):
		s.record.State = schema.StateStopped
	case runErr != nil, stats != nil && len(stats.Dead) > 0:
		s.record.State = schema.StateFailed
	default:
		s.record.State = schema.StateDone
	}
	if stats != nil && (runErr == nil || s.uploadPending) {
		s.record.Tasks = uint64(stats.Tasks()) // every task completed
	}
	err := s.putRecord(ctx)
	if s.record.State != schema.StateDone {
		return err
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range []string{schema.CheckpointSplit, schema.CheckpointOutput} {
		if err := s.jobs.Delete(ctx, schema.CheckpointKey(s.record.ID, name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			errs = append(errs, err)
		}
	}
	if err := s.b.DeleteJob(ctx, s.record.ID); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(s.spill); err != nil {
		errs = append(errs, fmt.Errorf("removing spill files: %w", err))
	}
	return errors.Join(errs...)
}

// reduction is the session as one run's reducer sees it: the one narrow
// interface through which the reducer reaches the job.
type reduction struct {
	*session
	retired func(reducer.Span)
	retry   func(*schema.Result) error // nil: not a --retry-failed run
	failed  func(n int)
}

var _ reducer.Session = (*reduction)(nil)

func (r *reduction) Retired(sp reducer.Span) {
	r.retired(sp)
	r.spec.retired(sp)
}
func (r *reduction) Merged(res *schema.Result) {
	r.observeTask(res)
	r.spec.merged(res)
	r.unspool(res)
}
func (r *reduction) Failed(n int) { r.failed(n) }

func (r *reduction) Ended(res *schema.Result, bytesOut int64) {
	r.remote.decided(res, bytesOut)
}

func (r *reduction) Counted(counters []schema.Counter, status string) {
	r.counted(counters, status)
}

// counted tells the observers of counters.
func (s *session) counted(counters []schema.Counter, status string) {
	if o, ok := s.obs().(observe.CounterObserver); ok {
		o.Counted(s.record.ID, "", counters, status)
	}
}

// addReduced adds the counters of the reduce, which ran at the commit, to
// the job's and tells the observers, once the output is committed: a
// failed or interrupted commit's do not count. A status message the
// reduce set is the job's last, after those of the map tasks and
// combiners.
func (s *session) addReduced(stats *report.Stats) {
	list, status := s.reduced.List(), s.reduced.LastStatus()
	if len(list) == 0 && status == "" {
		return
	}
	s.counters.AddList(list)
	if status != "" && stats != nil {
		stats.Status = status
	}
	s.counted(list, status)
}

func (r *reduction) Fetch(ctx context.Context, res *schema.Result) error {
	return r.fetchOutput(ctx, res)
}

func (r *reduction) Retry(res *schema.Result) (bool, error) {
	if r.retry == nil {
		return false, nil
	}
	return true, r.retry(res)
}

func (r *reduction) Committing(ctx context.Context) error {
	r.record.State = schema.StateCommitting
	return r.putRecord(ctx)
}
