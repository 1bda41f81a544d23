package mapper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/gcfloor"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// PoolConfig configures a [Pool]. Zero fields take the documented defaults.
type PoolConfig struct {
	// Broker is the open connection to NATS. Required. Its connection
	// reconnects on its own when a server of a cluster fails over.
	Broker *broker.Broker
	// Registry resolves the functions jobs name. Default: the built-ins
	// ([NewRegistry]).
	Registry *Registry
	// Job restricts the pool to one job ID. Default: every running job.
	Job string
	// Slots is how many tasks of each job run at once: a pool running two
	// jobs runs up to 2×Slots tasks. Default: the number of CPUs.
	Slots int
	// SpillDir is where outputs too large for a message are written, in a
	// folder per job. A job with transport "object" ships them through
	// the object store; with transport "shared" the submitter reads them
	// there, so it must then be a directory the submitter sees at the same
	// path. Default: [DefaultSpillDir], which is where a submitter using an
	// external NATS without a store directory spills on the same machine.
	SpillDir string
	// InlineMax is the largest output sent inside a result message.
	// Default: the server's maximum payload less 64 KiB (at least 256 KiB),
	// so that as little as possible is spilled.
	InlineMax int
	// AckWait is passed to each job's [Worker]. Default 30s.
	AckWait time.Duration
	// Heartbeat is how often the pool refreshes its entry in the workers
	// bucket. Default 5s; the entry expires after [broker.WorkerTTL].
	Heartbeat time.Duration
	// DrainTimeout bounds how long running tasks may finish once Run's
	// context is cancelled; tasks still running then are handed back
	// unacknowledged. Default 30s.
	DrainTimeout time.Duration
	// Name identifies the pool in results, reports and jetmr status.
	// Default host:pid.
	Name string
	// Observer receives every task attempt's events. Optional.
	Observer observe.Observer
	// Logger receives the pool's logs. Zero value: none.
	Logger zerolog.Logger
	// HeapFloor, when positive, makes the garbage collector of this
	// process let the heap reach HeapFloor bytes before it collects, while
	// Run runs, unless GOGC or GOMEMLIMIT is set in the environment. A
	// worker process's live heap is a chunk or two and their tables: with
	// GOGC=100 alone the collector ran every task or two. It changes a
	// setting of the whole process: leave it 0 in a process that tunes its
	// collector itself. Default 0 (jetmr worker sets 64 MiB).
	HeapFloor int64

	// resync is how often the pool checks its watch of the jobs bucket.
	resync time.Duration
}

// DefaultSpillDir is $TMPDIR/jetmr-spill.
func DefaultSpillDir() string { return filepath.Join(os.TempDir(), "jetmr-spill") }

// Pool runs the tasks of every running job it finds in the jobs bucket (or
// of PoolConfig.Job only), with a [Worker] per job. It starts a job's
// worker when the job's record says it runs and stops it when the record
// says the job ended, or is deleted, or the job's task stream disappears.
// A job whose tasks run in its submitting process only
// (schema.JobRecord.LocalOnly: a SQLite migration) is left alone. A job
// naming a function the Registry lacks is refused: its tasks are left for
// other workers, the refusal is logged once and published in the
// pool's heartbeat so that the submitter can fail the job when no worker
// can run it.
//
// Run owns every goroutine the pool starts and returns after all of them
// ended. A Pool runs once.
type Pool struct {
	cfg   PoolConfig
	key   string // the pool's key in the workers bucket
	start time.Time
	log   zerolog.Logger

	mu      sync.Mutex
	running map[string]*jobRun
	refused map[string]string
	// left are the jobs whose tasks run in their submitting process only
	// (schema.JobRecord.LocalOnly): the pool never takes them.
	left map[string]bool
	// kick asks for a heartbeat now, so that a refusal is seen at once.
	kick chan struct{}
}

// jobRun is one job's worker in a pool.
type jobRun struct{ cancel context.CancelFunc }

// NewPool validates cfg and applies its defaults.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Broker == nil {
		return nil, errors.New("mapper.NewPool: Broker is required")
	}
	if cfg.Job != "" {
		if err := schema.ValidateJobID(cfg.Job); err != nil {
			return nil, err
		}
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.SpillDir == "" {
		cfg.SpillDir = DefaultSpillDir()
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = max(int(cfg.Broker.NC.MaxPayload())-64<<10, 256<<10)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = host + ":" + strconv.Itoa(os.Getpid())
	}
	return &Pool{
		cfg: cfg, key: nuid.Next(), log: cfg.Logger.With().Str("worker", cfg.Name).Logger(),
		running: map[string]*jobRun{}, refused: map[string]string{}, left: map[string]bool{}, kick: make(chan struct{}, 1),
	}, nil
}

// Run takes tasks until ctx is cancelled, then drains: it stops taking
// tasks, lets running ones finish for up to DrainTimeout, hands back the
// rest, removes its heartbeat and returns nil. Errors reaching the broker
// at the start wrap [broker.ErrUnreachable].
func (p *Pool) Run(ctx context.Context) error {
	p.start = time.Now()
	defer gcfloor.Start(p.cfg.HeapFloor, os.LookupEnv)()
	jobs, err := p.cfg.Broker.Jobs(ctx, 0)
	if err != nil {
		return p.startErr(ctx, err)
	}
	workers, err := p.cfg.Broker.Workers(ctx, 0)
	if err != nil {
		return p.startErr(ctx, err)
	}
	// Running tasks outlive ctx by up to DrainTimeout.
	taskCtx, cancelTasks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTasks()
	stopped := make(chan struct{})
	var timer sync.WaitGroup
	timer.Go(func() { p.drainTimer(ctx, stopped, cancelTasks) })

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.heartbeat(gctx, workers) })
	g.Go(func() error { return p.watch(gctx, taskCtx, jobs, g) })
	err = g.Wait()
	close(stopped)
	timer.Wait()
	p.log.Info().Msg("worker stopped")
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// drainTimer hands running tasks back (cancels them) DrainTimeout after
// ctx ends, unless the pool stopped first.
func (p *Pool) drainTimer(ctx context.Context, stopped <-chan struct{}, cancelTasks context.CancelFunc) {
	select {
	case <-stopped:
		return
	case <-ctx.Done():
	}
	p.log.Info().Dur("timeout", p.cfg.DrainTimeout).Msg("draining: no new tasks; waiting for running ones")
	t := time.NewTimer(p.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		p.log.Warn().Msg("drain timeout: handing running tasks back")
		cancelTasks()
	}
}

// startErr is the error of a pool that could not start: none when it was
// stopped meanwhile.
func (p *Pool) startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
}

// defaultResync is how often a pool checks its watch of the jobs bucket.
const defaultResync = 30 * time.Second

// watch follows the job records and starts and stops job workers; the
// job workers run in g.
//
// A watch that lost its consumer on the server may never deliver again:
// after the worker process was stopped (SIGSTOP) for minutes, or a
// failover, the server drops the consumer and the client's attempt to
// recreate it can fail for good. So the watch is started again when the
// connection was re-established (looked at every second), when its
// channel closed, or when the bucket holds a record the watch has not
// delivered, two listings in a row, one every resync period (see
// [Pool.missedRecord]): the new watch delivers every record again, and
// update does nothing for a job it already knows. A watch that cannot be
// started is tried again every resync period.
func (p *Pool) watch(ctx, taskCtx context.Context, jobs jetstream.KeyValue, g *errgroup.Group) error {
	keys := "*" // job records; checkpoints have dotted keys
	if p.cfg.Job != "" {
		keys = p.cfg.Job
	}
	reconnects := p.cfg.Broker.NC.Stats().Reconnects
	w, err := jobs.Watch(ctx, keys)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: watching the jobs bucket: %w", broker.ErrUnreachable, err)
	}
	defer func() { stopWatch(w) }()
	updates := w.Updates()
	p.log.Info().Str("jobs", keys).Int("slots", p.cfg.Slots).Msg("worker waiting for jobs")
	resync := p.cfg.resync
	if resync <= 0 {
		resync = defaultResync
	}
	// The connection is looked at every second, the bucket listed every
	// resync period.
	tick := time.NewTicker(min(resync, time.Second))
	defer tick.Stop()
	listed := time.Now()
	// seen is the revision of each record the watch delivered; missed
	// those the last check found in the bucket and not yet delivered.
	seen, missed := map[string]uint64{}, map[string]uint64{}
	closed, retry := false, time.Time{} // no watch; start one at retry
	for {
		select {
		case <-ctx.Done():
			p.stopAll()
			return nil
		case e, ok := <-updates:
			switch {
			case !ok:
				updates, closed = nil, true // started again at the next check
			case e != nil: // nil: the initial values are all delivered
				seen[e.Key()] = e.Revision()
				p.update(ctx, taskCtx, e, g)
			}
			continue
		case <-tick.C:
		}
		why := ""
		now := p.cfg.Broker.NC.Stats().Reconnects
		switch {
		case now != reconnects:
			why = "the connection to NATS was re-established"
		case closed && time.Now().Before(retry):
		case closed:
			why = "the watch stopped"
		case time.Since(listed) >= resync:
			why = p.missedRecord(ctx, jobs, keys, seen, missed)
			listed = time.Now()
		}
		if why == "" {
			continue
		}
		p.log.Info().Str("why", why).Msg("restarting the watch of the jobs bucket")
		stopWatch(w)
		w, updates, closed = nil, nil, false
		clear(missed)
		reconnects, listed = now, time.Now()
		if w, err = jobs.Watch(ctx, keys); err != nil {
			if ctx.Err() != nil {
				continue
			}
			p.log.Warn().Err(err).Dur("retry_in", resync).Msg("watching the jobs bucket")
			w, closed, retry = nil, true, time.Now().Add(resync)
			continue
		}
		updates = w.Updates()
	}
}

// stopWatch stops w, if there is one.
func stopWatch(w jetstream.KeyWatcher) {
	if w != nil {
		_ = w.Stop()
	}
}

// missedRecord says which record the bucket holds at a revision the watch
// did not deliver, both now and at the last check (missed, which it
// updates), or "" when there is none. A record written between the two is
// on its way and is not counted.
func (p *Pool) missedRecord(ctx context.Context, jobs jetstream.KeyValue, keys string, seen, missed map[string]uint64) string {
	revs, err := listRevisions(ctx, jobs, keys)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Debug().Err(err).Msg("listing the jobs bucket")
		}
		return ""
	}
	why := ""
	for key, rev := range missed {
		if revs[key] == rev && seen[key] != rev {
			why = "the watch did not deliver the record of job " + key
		}
	}
	clear(missed)
	for key, rev := range revs {
		if seen[key] != rev {
			missed[key] = rev
		}
	}
	return why
}

// listRevisions returns the revision of every record matching keys that
// the bucket holds, reading their headers only.
func listRevisions(ctx context.Context, jobs jetstream.KeyValue, keys string) (map[string]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := jobs.Watch(ctx, keys, jetstream.MetaOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("listing the jobs bucket: %w", err)
	}
	defer stopWatch(w)
	revs := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("listing the jobs bucket: %w", ctx.Err())
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return nil, errors.New("listing the jobs bucket: the listing stopped")
			case e == nil:
				return revs, nil
			}
			revs[e.Key()] = e.Revision()
		}
	}
}

// update applies one change of a job record.
func (p *Pool) update(ctx, taskCtx context.Context, e jetstream.KeyValueEntry, g *errgroup.Group) {
	id := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		p.stop(id, "its record was deleted")
		return
	}
	rec, err := schema.DecodeJobRecord(e.Value())
	if err != nil {
		p.refuse(id, err)
		return
	}
	if rec.LocalOnly {
		p.leave(id)
		return
	}
	// A job that reduces its partitions on workers needs them while it
	// commits: its reduce tasks are published then.
	if rec.State != schema.StateRunning && !(rec.ReduceOnWorkers && rec.State == schema.StateCommitting) {
		p.stop(id, "it is "+rec.State)
		if rec.State == schema.StateDone {
			p.dropSpill(id) // a failed or stopped job keeps them for a resume
		}
		return
	}
	job, err := ResolveJob(rec, p.cfg.Registry)
	if err != nil {
		p.refuse(id, err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.running[id]; ok {
		return
	}
	delete(p.refused, id)
	jobCtx, cancel := context.WithCancel(ctx)
	run := &jobRun{cancel: cancel}
	p.running[id] = run
	p.beatSoon()
	if job.MissingDir != "" {
		p.log.Warn().Str("job", id).Str("dir", job.MissingDir).
			Msg("the submitter's directory does not exist on this machine: the job's commands run in this worker's directory, where relative paths in its items and commands may name other files or none")
	}
	g.Go(func() error {
		defer p.forget(id, run)
		p.runJob(taskCtx, jobCtx, job)
		return nil
	})
	if rec.ReduceOnWorkers {
		g.Go(func() error {
			p.runReduce(jobCtx, job)
			return nil
		})
	}
}

// runReduce takes a job's reduce tasks until the job stops or its reduce
// stream is deleted, binding again after transient failures.
func (p *Pool) runReduce(jobCtx context.Context, job *Job) {
	log := p.log.With().Str("job", job.Record.ID).Logger()
	ackWait := p.cfg.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second // as each job's Worker
	}
	w := &reduceWorker{js: p.cfg.Broker.JS, job: job, name: p.cfg.Name, ackWait: ackWait,
		memory: job.Record.Memory * 3 / 8, log: log}
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := w.run(jobCtx)
		if jobCtx.Err() != nil || errors.Is(err, ErrJobGone) {
			return
		}
		log.Debug().Err(err).Dur("retry_in", wait).Msg("reduce worker stopped; binding again")
		select {
		case <-jobCtx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// runJob runs a job's worker until the job stops or its task consumer is
// deleted, binding again after transient failures (the task stream is
// created just after the record).
func (p *Pool) runJob(taskCtx, jobCtx context.Context, job *Job) {
	id := job.Record.ID
	log := p.log.With().Str("job", id).Logger()
	log.Info().Msg("taking tasks of job")
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		w, err := NewWorker(Config{
			JS: p.cfg.Broker.JS, Job: job, Slots: p.cfg.Slots, SpillDir: p.spillDir(id),
			InlineMax: p.cfg.InlineMax, AckWait: p.cfg.AckWait, Name: p.cfg.Name,
			Observer: p.cfg.Observer, Logger: p.cfg.Logger,
		})
		if err == nil {
			err = w.RunDraining(taskCtx, jobCtx)
		}
		if jobCtx.Err() != nil {
			log.Info().Msg("stopped taking tasks of job")
			return
		}
		if errors.Is(err, ErrJobGone) {
			// The submitter deletes a job's streams once its output is
			// complete.
			log.Info().Msg("the job's task consumer was deleted: stopped taking its tasks")
			p.dropSpill(id)
			return
		}
		level := zerolog.WarnLevel
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			level = zerolog.DebugLevel // the submitter creates it just after the record
		}
		log.WithLevel(level).Err(err).Dur("retry_in", wait).Msg("job worker stopped; binding again")
		select {
		case <-jobCtx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// spillDir is where this pool's worker of job id spills outputs.
func (p *Pool) spillDir(id string) string { return filepath.Join(p.cfg.SpillDir, id) }

// dropSpill removes the spill files of a job whose output is complete: no
// reducer reads them any more.
func (p *Pool) dropSpill(id string) {
	if err := os.RemoveAll(p.spillDir(id)); err != nil {
		p.log.Warn().Err(err).Str("job", id).Msg("removing the job's spill files")
	}
}

// stop stops a job's worker, if it runs, and forgets a refusal of the job.
func (p *Pool) stop(id, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.left, id)
	if _, ok := p.refused[id]; ok {
		delete(p.refused, id)
		p.beatSoon()
	}
	if run, ok := p.running[id]; ok {
		p.beatSoon()
		p.log.Info().Str("job", id).Str("why", why).Msg("stopping job worker")
		run.cancel()
		delete(p.running, id)
	}
}

// forget removes a job worker that ended on its own.
func (p *Pool) forget(id string, run *jobRun) {
	p.mu.Lock()
	defer p.mu.Unlock()
	run.cancel()
	if p.running[id] == run {
		delete(p.running, id)
	}
}

func (p *Pool) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, run := range p.running {
		run.cancel()
		delete(p.running, id)
	}
}

// refuse records, and logs once, that this pool cannot run a job.
func (p *Pool) refuse(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.refused[id]; ok {
		return
	}
	p.refused[id] = err.Error()
	p.beatSoon()
	p.log.Warn().Str("job", id).Err(err).Msg("cannot run job: leaving its tasks for other workers")
}

// leave logs, once, that the pool does not take a job whose tasks run in
// its submitting process only. It is neither run nor refused: the
// submitter's own workers run it.
func (p *Pool) leave(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left[id] {
		return
	}
	p.left[id] = true
	p.log.Info().Str("job", id).Msg("leaving job: its tasks run in the process that submitted it only")
}

// beatSoon asks for a heartbeat now, after a change others should see.
func (p *Pool) beatSoon() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// heartbeat keeps the pool's entry in the workers bucket fresh until ctx
// ends, then removes it.
func (p *Pool) heartbeat(ctx context.Context, kv jetstream.KeyValue) error {
	t := time.NewTicker(p.cfg.Heartbeat)
	defer t.Stop()
	for {
		if err := p.beat(ctx, kv); err != nil && ctx.Err() == nil {
			p.log.Debug().Err(err).Msg("refreshing the worker heartbeat")
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = kv.Delete(dctx, p.key)
			return nil
		case <-t.C:
		case <-p.kick:
		}
	}
}

func (p *Pool) beat(ctx context.Context, kv jetstream.KeyValue) error {
	data, err := schema.EncodeWorkerStatus(p.status())
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, p.key, data)
	return err
}

// status is the pool's heartbeat now.
func (p *Pool) status() schema.WorkerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := schema.WorkerStatus{Name: p.cfg.Name, Slots: p.cfg.Slots, Started: p.start.UnixNano(), Seen: time.Now().UnixNano()}
	for id := range p.running {
		s.Jobs = append(s.Jobs, id)
	}
	slices.Sort(s.Jobs)
	if len(p.refused) > 0 {
		s.Refused = make(map[string]string, len(p.refused))
		for id, why := range p.refused {
			s.Refused[id] = why
		}
	}
	return s
}
