package job

// Backup attempts of slow tasks (Config.Speculative): once no task waits
// in the queue and a slot is idle, a task that has run far longer than
// the median task gets a second attempt; the reducer merges whichever
// result comes first, by task index, and the other attempt is stopped.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// withArticle is word after "a", or "an" before a vowel: "an each", "a
// migrate".
func withArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// checkSpeculative refuses backups asked for a kind whose commands may
// have effects outside their output, unless declared idempotent.
func (cfg Config) checkSpeculative() error {
	switch cfg.Speculative {
	case SpeculateAuto, SpeculateOff:
		return nil
	case SpeculateOn:
		if cfg.Kind.Valid() && !cfg.Kind.Traits().Rerunnable && !cfg.Idempotent {
			return badSetting("Config.Speculative", "backup attempts run a slow task's command a second time, and %s job's command may act outside its output: declare it safe to run twice with Config.Idempotent, or drop Config.Speculative", withArticle(string(cfg.Kind)))
		}
		return nil
	}
	return badSetting("Config.Speculative", "Config.Speculative %d is not valid: use SpeculateAuto, SpeculateOff or SpeculateOn", cfg.Speculative)
}

// speculative says whether the job runs backup attempts.
func (cfg Config) speculative() bool {
	switch cfg.Speculative {
	case SpeculateOff:
		return false
	case SpeculateOn:
		return true
	}
	return cfg.Kind.Traits().Rerunnable || cfg.Idempotent
}

// When a running task is slow enough for a backup: past backupFactor
// times the median time of the merged tasks, and at least backupFloor.
const (
	backupFactor = 2
	backupFloor  = 100 * time.Millisecond
	backupLook   = 50 * time.Millisecond // how often the speculator looks
	// keptDurations bounds the task times the median is taken of: the
	// latest ones.
	keptDurations = 1024
)

// slotKey names one slot of one worker: it runs one attempt at a time.
type slotKey struct {
	worker string
	slot   int
}

// speculator launches the backup attempts of one run of a speculative
// job. It learns the tasks from the publisher (published), their attempts
// from the workers' notes (on schema.AttemptSubject) and their ends from
// the reducer (merged). Its methods are safe for concurrent use; run is
// its one goroutine.
type speculator struct {
	s   *session
	job string // the job's ID, read once: the reducer changes s.record

	mu        sync.Mutex
	tasks     map[uint64]schema.Task         // published by this run, not merged
	running   map[slotKey]schema.AttemptNote // the attempt each busy slot runs
	slots     map[string]int                 // slots of each worker seen
	durations []time.Duration                // of the merged tasks
	backups   map[uint64]uint64              // task index -> stream sequence of its backup
	adrift    map[uint64]time.Time           // tasks seen neither queued nor running, since when
	cancelled []uint64                       // backups to take out of the queue, once merged
	ran, won  int
}

func newSpeculator(s *session) *speculator {
	return &speculator{s: s, job: s.record.ID, tasks: make(map[uint64]schema.Task), running: make(map[slotKey]schema.AttemptNote),
		slots: make(map[string]int), backups: make(map[uint64]uint64), adrift: make(map[uint64]time.Time)}
}

// published records a task this run published, which a backup repeats.
func (sp *speculator) published(t schema.Task) {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.tasks[t.Index] = t
}

// merged is told each task merged in full: a task that had a backup has
// the attempt still running stopped.
func (sp *speculator) merged(res *schema.Result) {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	delete(sp.tasks, res.Index)
	delete(sp.adrift, res.Index)
	if len(sp.durations) >= keptDurations {
		sp.durations = slices.Delete(sp.durations, 0, keptDurations/2)
	}
	sp.durations = append(sp.durations, res.Duration())
	for k, n := range sp.running {
		if n.Index == res.Index {
			delete(sp.running, k) // its end may come late, or never (a stopped worker)
		}
	}
	if _, ok := sp.backups[res.Index]; !ok {
		return
	}
	if res.Backup {
		sp.won++
	}
	sp.cancelled = append(sp.cancelled, res.Index)
	nc := sp.s.b.JS.Conn()
	if err := nc.Publish(schema.CancelSubject(sp.job), fmt.Appendf(nil, "%d", res.Index)); err != nil {
		sp.s.cfg.Logger.Debug().Err(err).Uint64("task", res.Index).Msg("announcing a task merged")
	}
}

// retired is told the tasks a merge or a failure retired: a task that
// failed for good gets no backup.
func (sp *speculator) retired(span reducer.Span) {
	if sp == nil || span.To <= span.From {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if span.To-span.From <= uint64(len(sp.tasks)) {
		for i := span.From; i < span.To; i++ {
			delete(sp.tasks, i)
			delete(sp.adrift, i)
		}
		return
	}
	for i := range sp.tasks {
		if i >= span.From && i < span.To {
			delete(sp.tasks, i)
			delete(sp.adrift, i)
		}
	}
}

// noted takes in a worker's attempt note.
func (sp *speculator) noted(m *nats.Msg) {
	n, err := schema.DecodeAttemptNote(m.Data)
	if err != nil {
		sp.s.cfg.Logger.Debug().Err(err).Msg("ignoring an attempt note")
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.slots[n.Worker] = n.Slots
	k := slotKey{n.Worker, n.Slot}
	switch {
	case !n.Ended:
		if _, ok := sp.tasks[n.Index]; ok {
			sp.running[k] = n
		}
	case sp.running[k].Start == n.Start && sp.running[k].Index == n.Index:
		delete(sp.running, k)
	}
}

// counts returns the backups launched and those whose result was merged.
func (sp *speculator) counts() (ran, won int) {
	if sp == nil {
		return 0, 0
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.ran, sp.won
}

// run launches backups until ctx ends, once splitting is done (split is
// closed).
func (sp *speculator) run(ctx context.Context, split <-chan struct{}) error {
	nc := sp.s.b.JS.Conn()
	sub, err := nc.Subscribe(schema.AttemptSubject(sp.job), sp.noted)
	if err != nil {
		return fmt.Errorf("subscribing to the attempts of job %s: %w", sp.job, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	select {
	case <-split:
	case <-ctx.Done():
		return nil
	}
	t := time.NewTicker(backupLook)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		sp.unqueue(ctx)
		if !sp.ready() || !sp.queueEmpty(ctx) {
			continue
		}
		slow := sp.candidates(time.Now())
		for _, task := range slow {
			if err := sp.launch(ctx, task); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				sp.s.cfg.Logger.Warn().Err(err).Uint64("task", task.Index).Msg("publishing a backup attempt")
			}
		}
	}
}

// ready reports whether backups may be due: a task was merged, which
// gives a median, and a slot is idle.
func (sp *speculator) ready() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.durations) > 0 && sp.idle() > 0
}

// idle is the number of idle slots of the workers seen.
func (sp *speculator) idle() int {
	total := 0
	for _, n := range sp.slots {
		total += n
	}
	return total - len(sp.running)
}

// candidates returns the tasks to back up now that no task is queued,
// slowest first, no more than the idle slots: tasks without a backup
// whose oldest attempt has run longer than backupFactor times the median,
// or that have been adrift that long: taken by no attempt, which happens
// to a task fetched ahead by a worker that stopped (SIGSTOP, a frozen VM),
// until its ack wait ends.
func (sp *speculator) candidates(now time.Time) []schema.Task {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.durations) == 0 {
		return nil
	}
	idle := sp.idle()
	if idle <= 0 {
		return nil
	}
	after := max(backupFactor*median(sp.durations), backupFloor)
	since := make(map[uint64]time.Time) // the start of each task's oldest attempt
	for _, n := range sp.running {
		start := time.Unix(0, n.Start)
		if old, ok := since[n.Index]; !ok || start.Before(old) {
			since[n.Index] = start
		}
	}
	for i := range sp.tasks {
		if _, ok := since[i]; ok {
			delete(sp.adrift, i)
			continue
		}
		if _, ok := sp.adrift[i]; !ok {
			sp.adrift[i] = now
		}
		since[i] = sp.adrift[i]
	}
	var slow []uint64
	for i, start := range since {
		_, backed := sp.backups[i]
		if _, known := sp.tasks[i]; known && !backed && now.Sub(start) > after {
			slow = append(slow, i)
		}
	}
	slices.SortFunc(slow, func(a, b uint64) int { return since[a].Compare(since[b]) })
	out := make([]schema.Task, 0, min(len(slow), idle))
	for _, i := range slow[:min(len(slow), idle)] {
		out = append(out, sp.tasks[i])
	}
	return out
}

// median returns the median of d.
func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// queueEmpty reports whether no task waits for a worker. When the broker
// cannot tell, it says no.
func (sp *speculator) queueEmpty(ctx context.Context) bool {
	cons, err := sp.s.b.JS.Consumer(ctx, schema.TaskStream(sp.job), schema.MapperConsumer)
	if err != nil {
		return false
	}
	return cons.CachedInfo().NumPending == 0
}

// launch publishes the backup attempt of task.
func (sp *speculator) launch(ctx context.Context, task schema.Task) error {
	task.Backup = true
	data, err := schema.EncodeTask(task)
	if err != nil {
		return fmt.Errorf("encoding the backup of task %d: %w", task.Index, err)
	}
	msg := &nats.Msg{Subject: schema.TaskSubject(sp.job), Data: data}
	ack, err := sp.s.b.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(schema.BackupMsgID(sp.job, task.Index)))
	if err != nil {
		return fmt.Errorf("publishing the backup of task %d: %w", task.Index, err)
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.backups[task.Index] = ack.Sequence
	if _, ok := sp.tasks[task.Index]; !ok { // merged meanwhile
		sp.cancelled = append(sp.cancelled, task.Index)
		_ = sp.s.b.JS.Conn().Publish(schema.CancelSubject(sp.job), fmt.Appendf(nil, "%d", task.Index))
	}
	sp.ran++
	sp.s.cfg.Logger.Info().Str("job", sp.job).Uint64("task", task.Index).Msg("a slow task gets a backup attempt")
	return nil
}

// unqueue takes the backups of merged tasks that no worker took yet out
// of the task queue.
func (sp *speculator) unqueue(ctx context.Context) {
	sp.mu.Lock()
	var seqs []uint64
	for _, i := range sp.cancelled {
		seqs = append(seqs, sp.backups[i])
	}
	sp.cancelled = nil
	sp.mu.Unlock()
	if len(seqs) == 0 {
		return
	}
	stream, err := sp.s.b.JS.Stream(ctx, schema.TaskStream(sp.job))
	if err != nil {
		return
	}
	for _, seq := range seqs {
		// Gone already when a worker took and acknowledged it.
		_ = stream.DeleteMsg(ctx, seq)
	}
}
