package mapper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/internal/memory"
	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// Config configures a [Worker]. Zero fields take the documented defaults.
type Config struct {
	// JS is the JetStream connection. Required.
	JS jetstream.JetStream
	// Job is the job whose tasks this worker runs. Required.
	Job *Job
	// Slots is how many tasks run at once. Default: the number of CPUs.
	Slots int
	// SpillDir receives outputs larger than InlineMax. Required.
	SpillDir string
	// InlineMax is the largest output sent inside a result message; larger
	// ones are spilled. Default 256 KiB.
	InlineMax int
	// AckWait is how long the server waits for an ack before redelivering a
	// task; running tasks send a heartbeat every AckWait/3. Default 30s.
	AckWait time.Duration
	// SyncSpills fsyncs spilled outputs before their result is published,
	// for jobs whose broker fsyncs every write (sync policy "always"):
	// without it a power loss could keep a result whose file is gone.
	SyncSpills bool
	// Name identifies the worker in results and reports. Default host:pid.
	Name string
	// MemFree holds back new tasks while the available memory is below
	// it (--memfree); 0 starts tasks whenever a slot is free.
	MemFree int64
	// Memory reports the available memory for MemFree. Default: the
	// kernel's MemAvailable, or the cgroup's room when that is lower.
	Memory func() (int64, error)
	// Observer receives an event as each task attempt starts and ends
	// (progress, metrics, job log, trace). Optional.
	Observer observe.Observer
	// InProcess marks the worker that runs in the job's submitting
	// process, whose observers it reports to through Observer. Other
	// workers announce each attempt as it starts (schema.AttemptStart)
	// and each that ends without a result stored (schema.AttemptEnd) for
	// the submitter's observers; it announces none.
	InProcess bool
	// FailedForGood is called after the worker stored a task's failure
	// result (its dead letter), with the result's stream sequence, before
	// the slot takes another task: a job that halts on failures waits there
	// until it has counted the failure, so that no task starts after the
	// halt. Optional.
	FailedForGood func(ctx context.Context, seq uint64)
	// Fetcher fetches the chunks of fetched tasks from the job's
	// submitter. Zero value: its defaults.
	Fetcher transfer.Fetcher
	// Logger receives the worker's logs. Zero value: none.
	Logger zerolog.Logger
}

// Worker pulls a job's tasks from its shared durable consumer and runs up
// to Slots of them at once. Each task is acknowledged only after its results
// are stored in the results stream, so a worker that dies mid-task loses
// nothing: the server redelivers the task to another worker.
type Worker struct {
	cfg   Config
	proc  *processor
	start time.Time
	log   zerolog.Logger
	spec  *attempts // a speculative job's attempts; nil otherwise
}

// NewWorker validates cfg and applies its defaults.
func NewWorker(cfg Config) (*Worker, error) {
	if cfg.JS == nil || cfg.Job == nil {
		return nil, errors.New("mapper.NewWorker: JS and Job are required")
	}
	if cfg.SpillDir == "" {
		return nil, errors.New("mapper.NewWorker: SpillDir is required")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = 256 << 10
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = observe.Multi() // one that ignores every event
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = host + ":" + strconv.Itoa(os.Getpid())
	}
	if err := os.MkdirAll(cfg.SpillDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating spill directory: %w", err)
	}
	w := &Worker{cfg: cfg, log: cfg.Logger.With().Str("worker", cfg.Name).Str("job", cfg.Job.Record.ID).Logger()}
	w.proc = &processor{job: cfg.Job, spillDir: cfg.SpillDir, inlineMax: cfg.InlineMax, syncSpills: cfg.SyncSpills, nonce: nuid.Next(),
		obs: cfg.Observer, data: dataStore{js: cfg.JS, job: cfg.Job.Record.ID}, nc: cfg.JS.Conn(), fetcher: cfg.Fetcher}
	w.proc.combineLimit = CombineShare(cfg.Job.Record.Memory, cfg.Slots)
	// A task gives its chunk's buffer back before its results are
	// stored: at most Slots are in use at once.
	w.proc.bufs.keep = cfg.Slots
	if !cfg.InProcess {
		w.proc.announce = w.announceEnd
		w.proc.announceStart = w.announceStart
	}
	return w, nil
}

// Name is the name the worker gives itself in results and events.
func (w *Worker) Name() string { return w.cfg.Name }

// ConsumerConfig is the configuration of the durable consumer that all
// workers of a job share; every worker creates or binds it identically.
func ConsumerConfig(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       schema.MapperConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	}
}

// ErrJobGone means the job's task stream or consumer was deleted while the
// worker ran: the job ended.
var ErrJobGone = errors.New("job's task stream is gone")

// Run takes and runs tasks until ctx is cancelled. It returns nil on
// cancellation after the tasks it started have finished or been handed back
// (a cancelled task is not acknowledged, so the server redelivers it).
func (w *Worker) Run(ctx context.Context) error { return w.RunDraining(ctx, ctx) }

// RunDraining takes tasks until pull is done, then waits for the tasks it
// started to finish; cancelling ctx hands them back unacknowledged
// instead. It returns nil then, and an error wrapping [ErrJobGone] when the
// job's task consumer is deleted under it (the job ended). A task stream
// that does not exist (yet) is an error wrapping
// jetstream.ErrStreamNotFound.
func (w *Worker) RunDraining(ctx, pull context.Context) error {
	w.start = time.Now()
	rec := w.cfg.Job.Record
	cons, err := bindConsumer(pull, w.cfg.JS, schema.TaskStream(rec.ID), ConsumerConfig(w.cfg.AckWait))
	if err != nil {
		if pull.Err() != nil {
			return nil
		}
		return fmt.Errorf("binding to the task consumer of job %s: %w", rec.ID, err)
	}
	if w.spec, err = newAttempts(w.cfg.JS.Conn(), rec, w.cfg.Name, w.cfg.Slots, w.log); err != nil {
		return err
	}
	defer w.spec.close()
	iter, err := cons.Messages(jetstream.PullMaxMessages(w.prefetch()))
	if err != nil {
		return fmt.Errorf("pulling tasks of job %s: %w", rec.ID, err)
	}
	// Once pull ends, tasks already fetched into the client buffer are
	// handed back at once (see handBack) rather than after AckWait.
	stop := context.AfterFunc(pull, iter.Drain)
	defer stop()
	defer iter.Stop()

	// The free slots, by number: taking one bounds the running tasks to
	// Slots and names the slot the task runs in.
	slots := make(chan int, w.cfg.Slots)
	for i := range w.cfg.Slots {
		slots <- i
	}
	// A token for each task whose results are being stored after its
	// slot was freed: at most Slots, so that no more than twice Slots
	// tasks' outputs are held at once.
	settling := make(chan struct{}, w.cfg.Slots)
	g, gctx := errgroup.WithContext(ctx)
	var gone error
	for {
		var slot int
		select {
		case slot = <-slots:
		case <-pull.Done():
		}
		if pull.Err() != nil {
			break
		}
		if err := w.waitForMemory(pull); err != nil {
			slots <- slot
			break
		}
		msg, err := iter.Next(jetstream.NextContext(pull))
		if err != nil {
			slots <- slot
			if pull.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				break
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				gone = fmt.Errorf("pulling tasks of job %s: %w", rec.ID, ErrJobGone)
				break
			}
			w.log.Warn().Err(err).Msg("pulling a task")
			continue
		}
		g.Go(func() error {
			var once sync.Once
			free := func() { once.Do(func() { slots <- slot }) }
			defer free()
			w.handle(gctx, msg, slot, func() (settled func()) {
				// Storing the results waits on the server: the slot takes
				// the next task meanwhile, while fewer than Slots tasks are
				// being settled so.
				select {
				case settling <- struct{}{}:
					free()
					return func() { <-settling }
				default:
					return func() {}
				}
			})
			return nil
		})
	}
	if pull.Err() != nil {
		w.handBack(iter)
	}
	err = g.Wait()
	w.proc.migrator.close()
	w.proc.files.close()
	return errors.Join(err, gone)
}

// handBack naks the tasks left in a drained iterator's buffer, so that
// other workers get them now.
func (w *Worker) handBack(iter jetstream.MessagesContext) {
	iter.Drain()
	for {
		msg, err := iter.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// waitForMemory holds the next task back while less than MemFree is
// available, checking every half second.
func (w *Worker) waitForMemory(ctx context.Context) error {
	if w.cfg.MemFree <= 0 {
		return nil
	}
	read := w.cfg.Memory
	if read == nil {
		read = memory.Available
	}
	var since time.Time // when the wait began; zero while not waiting
	for {
		avail, err := read()
		if err != nil || avail >= w.cfg.MemFree {
			if !since.IsZero() {
				w.log.Info().Int64("available", avail).Dur("paused", time.Since(since)).Msg("enough free memory: tasks start again")
				w.paused("")
			}
			return nil
		}
		if since.IsZero() {
			since = time.Now()
			w.log.Warn().Int64("available", avail).Int64("memfree", w.cfg.MemFree).Msg("paused: waiting for --memfree of free memory before the next task")
			w.paused(fmt.Sprintf("--memfree %s, %s available", humanize.IBytes(uint64(w.cfg.MemFree)), humanize.IBytes(uint64(max(avail, 0)))))
		}
		select {
		case <-ctx.Done():
			w.paused("")
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// paused tells the observers that no task starts for lack of memory, or
// that tasks start again when reason is "".
func (w *Worker) paused(reason string) {
	if o, ok := w.observer().(observe.PauseObserver); ok {
		o.Paused(w.cfg.Job.Record.ID, "", "memfree", reason)
	}
}

// prefetch is how many tasks the client buffers. A buffered task's ack
// timer runs while it waits, so only small tasks, which never wait long,
// are fetched ahead of the free slots; it saves a round trip per task.
func (w *Worker) prefetch() int {
	rec := w.cfg.Job.Record
	// A migrate batch or an each task (a batch of commands) may be slow:
	// only small chunks of files are small tasks.
	if rec.Kind.Traits().Split == schema.SplitFiles && rec.ChunkSize > 0 && rec.ChunkSize <= 64<<10 {
		return max(2*w.cfg.Slots, 16)
	}
	return w.cfg.Slots
}

// handle runs one delivery of a task and settles it: results stored then
// ack, or a nak with backoff for another attempt, or a failure result.
// Before it stores a successful attempt's results, it calls release,
// which may free the task's slot for the next task, and calls what
// release returns once the task is settled.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg, slot int, release func() (settled func())) {
	task, err := schema.DecodeTask(msg.Data())
	if err != nil {
		w.rejectTask(msg, err)
		return
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	if w.spec.merged(task.Index) { // merged from another attempt already
		_ = msg.Ack()
		return
	}
	runCtx, cancelRun := w.attemptContext(ctx)
	defer cancelRun()
	start := time.Now()
	runCtx, endAttempt := w.spec.start(runCtx, task, slot, start)
	// The heartbeat outlives the attempt's timeout: a bisection follows
	// the last attempt's failure.
	stopBeat := w.heartbeat(ctx, msg)
	ev := w.attemptEvent(task, attempt, slot, start)
	perItem := w.cfg.Job.Record.Kind.Traits().PerItem // its items report their own attempts
	if !perItem {
		w.observer().AttemptStarted(ev)
		if !w.cfg.InProcess {
			w.announceStart(ev, task, attempt)
		}
	}
	outs, bytesIn, perr := w.proc.process(runCtx, task, attempt, ev)
	lost := superseded(runCtx)
	endAttempt() // a bisection that follows is not an attempt to back up
	var iso *isolated
	if perr != nil && ctx.Err() == nil && !task.Backup && !lost && w.lastAttempt(attempt, perr) {
		if iso = w.proc.isolate(ctx, task, attempt, ev, perr); iso != nil && iso.outs != nil {
			outs, perr = iso.outs, nil // the task read its whole input: bytesIn stays
		}
	}
	end := time.Now()
	stale := stopBeat()
	stopped := ctx.Err() != nil // decided now: the job may end while results are stored
	stored := false             // a result the job merges tells it of the attempt
	if !perItem {
		defer func() { w.attemptEnded(ev, end, bytesIn, outs, perr, stopped, lost, stored) }()
	}

	if stopped { // stopping: hand the task back untouched
		for _, o := range outs {
			removeSpill(o)
		}
		err := msg.Nak()
		w.log.Debug().Err(err).Uint64("task", task.Index).Msg("handing a task back")
		return
	}
	if lost || (perr != nil && task.Backup) {
		// The task was merged from another attempt, or this backup
		// failed: the original attempt decides the task's fate.
		for _, o := range outs {
			removeSpill(o)
		}
		w.log.Debug().Err(perr).Uint64("task", task.Index).Bool("backup", task.Backup).Bool("superseded", lost).Msg("dropping an attempt")
		_ = msg.Ack()
		return
	}
	base := schema.Result{
		Job: task.Job, Index: task.Index, Attempt: attempt, Round: w.cfg.Job.Record.Round,
		Worker: w.cfg.Name, Slot: slot, Slots: w.cfg.Slots, WorkerStart: w.start.UnixNano(),
		Start: start.UnixNano(), End: end.UnixNano(), BytesIn: bytesIn, Backup: task.Backup,
	}
	if perr != nil && stale {
		// The server may have handed the task to another delivery, whose
		// outcome is the one that counts: this late failure must not make
		// the task a dead letter, or use up its retries. Leave the task to
		// that delivery, or to the redelivery that follows the ack wait.
		w.log.Warn().Uint64("task", task.Index).Int("attempt", attempt).Str("error", asTaskError(perr).Message).
			Msg("the attempt went longer than the ack wait without a heartbeat (was the process paused?); leaving its failure to the task's next delivery")
		return
	}
	if errors.Is(perr, transfer.ErrUnavailable) {
		// The submitter that serves the chunk is not running: no
		// attempt of the task can succeed until it serves its job again,
		// which is not the task's failure.
		w.log.Warn().Err(perr).Uint64("task", task.Index).Msg("the job's submitter does not serve the task's chunk; handing the task back until it does")
		_ = msg.NakWithDelay(unavailableDelay)
		return
	}
	if perr != nil {
		var kf *keyFailed
		if errors.As(perr, &kf) {
			base.Isolation = &kf.iso
		}
		if iso != nil {
			base.Isolation = &iso.iso
			w.log.Info().Uint64("task", task.Index).Str("outcome", iso.iso.Outcome).Int("records", len(iso.iso.Records)).
				Int("runs", iso.iso.Attempts).Msg("bisected the input of a failed task")
		}
		stored = w.failAttempt(ctx, msg, task, base, perr)
		return
	}
	if iso != nil {
		// Skip mode: the outputs leave the bad records out; every
		// partition's result names them, and the reducer counts them once.
		// The task's input, as in a failure: the reducer makes the task a
		// dead letter when its records are more than the job may skip,
		// and --retry-failed publishes it again from these.
		base.Skipped, base.Path, base.Offset, base.Length, base.TaskHeader = iso.iso.Records, task.Path, task.Offset, task.Length, task.Header
		if task.Path == "" && len(task.Inline) <= maxRetryData {
			base.TaskData = task.Inline
		}
		base.Isolation = &schema.Isolation{Attempts: iso.iso.Attempts, Outcome: iso.iso.Outcome}
		w.log.Info().Uint64("task", task.Index).Int("records", len(iso.iso.Records)).Int("runs", iso.iso.Attempts).
			Msg("skipped bad records of a task")
	}
	if len(outs) > 0 {
		base.Exit = outs[0].exit // a status --ok-exit accepted
	}
	crashpoint.Hit("task.processed")
	defer release()()
	if stored, err = w.publishOutputs(ctx, base, outs); err != nil {
		stored = false // the task runs again: this attempt's results may be incomplete
		// The spill files stay: a publish that failed on the client's side
		// (the job stopping, a lost ack) may have been stored, and so may
		// the partitions published before it; a result must never name a
		// file that is gone. The job's spill folder goes when its output
		// is complete or it is discarded.
		w.log.Warn().Err(err).Uint64("task", task.Index).Msg("storing results failed; the task will be redelivered")
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if !stored && len(outs) > 0 && w.spec != nil {
		// Every result was stored before by the task's other attempt (a
		// backup, or the original a backup overtook): that one counts,
		// and this one is reported superseded.
		lost = true
	}
	crashpoint.Hit("task.published")
	// A plain ack: were it lost, the redelivered task's results would be
	// dropped as duplicates, so waiting for the server's confirmation
	// would only slow small tasks down.
	if err := msg.Ack(); err != nil {
		w.log.Debug().Err(err).Uint64("task", task.Index).Msg("acknowledging task")
	}
}

// attemptContext bounds an attempt by the job's timeout.
func (w *Worker) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	// A migrate batch's --timeout limits each of its transactions, an each
	// job's each item: not the whole task.
	if t := time.Duration(w.cfg.Job.Record.TimeoutNanos); t > 0 && w.cfg.Job.Record.Kind.Traits().WholeTimeout {
		return context.WithTimeoutCause(ctx, t, fmt.Errorf("timed out after %s", t))
	}
	return context.WithCancel(ctx)
}

// heartbeat tells the server every AckWait/3 that the task is still being
// worked on, so that a slow but healthy task is not redelivered. stop ends
// it and reports whether the delivery went stale: at some point more than
// AckWait passed without a heartbeat (the process was paused, or starved),
// so the server may have handed the task to another delivery.
func (w *Worker) heartbeat(ctx context.Context, msg jetstream.Msg) (stop func() (stale bool)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var maxGap time.Duration
	last := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(w.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				now = time.Now() // a tick that waited through a pause comes late
				maxGap, last = max(maxGap, now.Sub(last)), now
				if err := msg.InProgress(); err != nil {
					w.log.Debug().Err(err).Msg("sending task heartbeat")
				}
			}
		}
	}()
	return func() bool {
		cancel()
		<-done
		return max(maxGap, time.Since(last)) > w.cfg.AckWait
	}
}

// publishOutputs stores a result per partition and reports whether one
// of them was new: not stored before by another attempt of the task.
func (w *Worker) publishOutputs(ctx context.Context, base schema.Result, outs []output) (stored bool, err error) {
	for part, o := range outs {
		r := base
		r.Partition, r.Payload, r.Spill, r.Object, r.BytesOut = part, o.payload, o.spill, o.object, o.size
		r.Counters, r.Status = o.counters, o.status // partition 0's only
		id := schema.ResultMsgID(r.Job, r.Index, part)
		if len(r.Skipped) > 0 {
			id = schema.SkippedMsgID(r.Job, r.Index, part, r.Round)
		}
		dup, err := w.publishResult(ctx, r, id)
		if err != nil {
			return stored, err
		}
		stored = stored || !dup
		if part < len(outs)-1 {
			crashpoint.Hit("result.partial") // some partitions stored, not all
		}
		if dup {
			// Another attempt stored this result first (a redelivery, or
			// a backup and its original): nothing reads this output.
			removeSpill(o)
		}
	}
	return stored, nil
}

// publishResult stores a result and reports whether the server had one
// under msgID already, which it keeps instead.
func (w *Worker) publishResult(ctx context.Context, r schema.Result, msgID string) (duplicate bool, err error) {
	data, err := schema.EncodeResult(r)
	if err != nil {
		return false, fmt.Errorf("encoding result of task %d: %w", r.Index, err)
	}
	m := &nats.Msg{Subject: schema.ResultSubject(r.Job, r.Partition), Data: data}
	ack, err := w.cfg.JS.PublishMsg(ctx, m, jetstream.WithMsgID(msgID))
	if err != nil {
		return false, fmt.Errorf("publishing result of task %d: %w", r.Index, err)
	}
	return ack.Duplicate, nil
}

func (w *Worker) publish(ctx context.Context, r schema.Result, msgID string) error {
	_, err := w.publishSeq(ctx, r, msgID)
	return err
}

// publishSeq stores a result and returns its stream sequence.
func (w *Worker) publishSeq(ctx context.Context, r schema.Result, msgID string) (uint64, error) {
	data, err := schema.EncodeResult(r)
	if err != nil {
		return 0, fmt.Errorf("encoding result of task %d: %w", r.Index, err)
	}
	m := &nats.Msg{Subject: schema.ResultSubject(r.Job, r.Partition), Data: data}
	if r.Err != nil {
		m.Header = nats.Header{schema.FailedHeader: []string{strconv.Itoa(r.Round)}}
	}
	ack, err := w.cfg.JS.PublishMsg(ctx, m, jetstream.WithMsgID(msgID))
	if err != nil {
		return 0, fmt.Errorf("publishing result of task %d: %w", r.Index, err)
	}
	return ack.Sequence, nil
}

// lastAttempt reports whether a failed attempt is the task's last: its
// attempts ran out, or no retry can fix its failure.
func (w *Worker) lastAttempt(attempt int, perr error) bool {
	return attempt >= w.cfg.Job.Record.Retries+1 || asTaskError(perr).Permanent
}

// failAttempt retries a failed task with backoff while attempts remain,
// and otherwise stores a failure result (the task's dead letter) and acks.
// It reports whether it stored the failure.
func (w *Worker) failAttempt(ctx context.Context, msg jetstream.Msg, task schema.Task, base schema.Result, perr error) (stored bool) {
	te := asTaskError(perr)
	if !w.lastAttempt(base.Attempt, perr) {
		delay := retryDelay(base.Attempt)
		w.log.Info().Uint64("task", base.Index).Int("attempt", base.Attempt).Str("error", te.Message).
			Dur("retry_in", delay).Msg("task failed; retrying")
		_ = msg.NakWithDelay(delay)
		return false
	}
	base.Err = te
	var items *itemsFailed
	if errors.As(perr, &items) { // the outcome of every item of the batch
		base.Payload, base.Spill, base.Object, base.BytesOut = items.out.payload, items.out.spill, items.out.object, items.out.size
	}
	base.Path, base.Offset, base.Length, base.TaskHeader = task.Path, task.Offset, task.Length, task.Header
	if task.Path == "" && len(task.Inline) <= maxRetryData {
		base.TaskData = task.Inline // a file's chunk is read again from its path
	}
	seq, err := w.publishSeq(ctx, base, schema.FailureMsgID(base.Job, base.Index, base.Round))
	if err != nil {
		w.log.Warn().Err(err).Uint64("task", base.Index).Msg("storing a failure result")
		_ = msg.NakWithDelay(time.Second)
		return false
	}
	_ = msg.DoubleAck(ctx)
	if w.cfg.FailedForGood != nil {
		w.cfg.FailedForGood(ctx, seq)
	}
	return true
}

func (w *Worker) observer() observe.Observer { return w.cfg.Observer }

func (w *Worker) attemptEvent(t schema.Task, attempt, slot int, start time.Time) observe.Attempt {
	rec := w.cfg.Job.Record
	return observe.Attempt{
		Job: rec.ID, Index: t.Index, Attempt: attempt, Worker: w.cfg.Name, Slot: slot, Slots: w.cfg.Slots,
		Start: start, BytesIn: taskLength(t), Command: AttemptCommand(rec),
	}
}

// AttemptCommand is what the job log's Command column says of an
// attempt of a task of job rec: its command line, or the name of its
// built-in function.
func AttemptCommand(rec schema.JobRecord) string {
	cmd := rec.Command
	if len(cmd) == 0 {
		cmd = rec.MapCommand
	}
	name := command.Quote(cmd)
	if name == "" {
		name = cmp.Or(rec.Map, rec.Builtin)
	}
	return name
}

// attemptEnded reports the end of an attempt: failed ones say whether
// another attempt follows; an attempt cut short by a stop is handed back;
// one stopped because its task's result came from another attempt
// (superseded) is neither failed nor retried. An attempt that stored no
// result the job merges (stored false) is announced to the job's
// submitter too, by a worker in another process.
func (w *Worker) attemptEnded(ev observe.Attempt, end time.Time, bytesIn int64, outs []output, perr error, stopped, superseded, stored bool) {
	ev.End, ev.BytesIn = end, bytesIn
	for _, o := range outs {
		ev.BytesOut += o.size
		ev.Rows += o.rows
	}
	if len(outs) > 0 {
		ev.ExitCode = outs[0].exit // a status --ok-exit accepted
	}
	if superseded {
		ev.Superseded = true
	} else if perr != nil || stopped {
		ev.Failed = true
		te := &schema.TaskError{Message: "stopped", Signal: "KILL"}
		if perr != nil {
			te = asTaskError(perr)
		}
		ev.ExitCode, ev.Signal = te.ExitStatus, te.Signal
		ev.Retried = stopped || ev.Attempt < w.cfg.Job.Record.Retries+1
		ev.Stopped = stopped
	}
	w.observer().AttemptEnded(ev)
	if !stored && !w.cfg.InProcess {
		w.announceEnd(ev)
	}
}

// announceEnd publishes an attempt's end on the job's attempt end
// subject, for the observers of its submitter; a lost one costs a line
// of its job log, never a result.
func (w *Worker) announceEnd(ev observe.Attempt) {
	e := schema.AttemptEnd{
		Index: ev.Index, Attempt: ev.Attempt, Round: w.cfg.Job.Record.Round, Worker: ev.Worker, Slot: ev.Slot, Slots: ev.Slots,
		Start: ev.Start.UnixNano(), End: max(ev.End.UnixNano(), ev.Start.UnixNano()), BytesIn: ev.BytesIn, BytesOut: ev.BytesOut, Rows: ev.Rows,
		Exit: ev.ExitCode, Signal: ev.Signal, Failed: ev.Failed, Retried: ev.Retried, Superseded: ev.Superseded, Stopped: ev.Stopped,
	}
	if w.cfg.Job.Record.Kind.Traits().PerItem {
		e.Command = ev.Command
	}
	data, err := schema.EncodeAttemptEnd(e)
	if err == nil {
		err = w.cfg.JS.Conn().Publish(schema.AttemptEndSubject(ev.Job), data)
	}
	if err != nil {
		w.log.Debug().Err(err).Uint64("task", ev.Index).Msg("announcing the end of an attempt")
	}
}

// announceStart publishes the start of an attempt of task t, at its
// delivery, on the job's attempt start subject, for the observers of its
// submitter; a lost one costs the attempt's place among the running ones
// there, never a result.
func (w *Worker) announceStart(ev observe.Attempt, t schema.Task, delivery int) {
	s := schema.AttemptStart{
		Index: ev.Index, Attempt: ev.Attempt, Task: t.Index, Delivery: delivery, Round: w.cfg.Job.Record.Round,
		Worker: ev.Worker, Slot: ev.Slot, Slots: ev.Slots, Start: ev.Start.UnixNano(), BytesIn: max(ev.BytesIn, 0), Backup: t.Backup,
	}
	if w.cfg.Job.Record.Kind.Traits().PerItem {
		s.Command = ev.Command
	}
	data, err := schema.EncodeAttemptStart(s)
	if err == nil {
		err = w.cfg.JS.Conn().Publish(schema.AttemptStartSubject(ev.Job), data)
	}
	if err != nil {
		w.log.Debug().Err(err).Uint64("task", ev.Index).Msg("announcing the start of an attempt")
	}
}

// unavailableDelay is how long a task whose chunk the submitter did not
// serve waits before it is delivered again.
const unavailableDelay = 5 * time.Second

// maxRetryData bounds the inline task data a failure result repeats.
const maxRetryData = 64 << 10

// retryDelay is the backoff before attempt n+1: 100ms doubling, capped at 10s.
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt-1, 7)
	return min(d, 10*time.Second)
}

func asTaskError(err error) *schema.TaskError {
	var te *schema.TaskError
	if errors.As(err, &te) {
		return te
	}
	return &schema.TaskError{Message: err.Error(), Permanent: errors.Is(err, schema.ErrPermanent), InputChanged: errors.Is(err, objstore.ErrChanged)}
}

// rejectTask handles a task message that does not decode. A task from a
// newer jetmr is left for a worker that understands it; garbage is removed
// so that it cannot block the job, after logging what it was.
func (w *Worker) rejectTask(msg jetstream.Msg, err error) {
	if errors.Is(err, schema.ErrNewerVersion) {
		w.log.Warn().Err(err).Msg("leaving a task from a newer jetmr for another worker")
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	w.log.Error().Err(err).Int("bytes", len(msg.Data())).Msg("dead-lettering a malformed task message")
	report := fmt.Sprintf("task message of %d bytes on %s: %v", len(msg.Data()), msg.Subject(), err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subject := schema.MalformedSubject(w.cfg.Job.Record.ID)
	if _, perr := w.cfg.JS.Publish(ctx, subject, []byte(report)); perr != nil {
		// Keep the message until its dead letter is recorded.
		w.log.Warn().Err(perr).Msg("recording a malformed task message")
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Term() // Term removes it from the work queue, after its record is stored
}

// bindTries bounds the creations of a consumer that the server failed
// with an internal error.
const bindTries = 4

// bindConsumer creates or updates the durable consumer cfg of stream,
// again after a short wait when the server answers with an internal
// error: a consumer deleted just before (a resume resets the task
// consumer of an embedded server) can still be having its files removed,
// and a consumer of the same name created meanwhile then fails to write
// its state ("rename .../o.dat.tmp: no such file or directory").
func bindConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	for try := 1; ; try++ {
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
		var apiErr *jetstream.APIError
		if err == nil || try == bindTries || !errors.As(err, &apiErr) || apiErr.Code < 500 {
			return cons, err
		}
		select {
		case <-time.After(time.Duration(try) * 100 * time.Millisecond):
		case <-ctx.Done():
			return nil, err
		}
	}
}
