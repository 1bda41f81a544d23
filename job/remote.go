package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// remoteAttempts reports to the job's observers the attempts of its
// tasks that ran in other processes (jetmr worker), which the local
// worker's events do not cover. Their workers announce each attempt as it
// starts (schema.AttemptStart), which counts it running; it ends with the
// result the reducer merged, for the attempt that decided its task, or
// with what its worker announces on the job's attempt end subject for
// the others (retried failures, superseded attempts, failed backups). The
// local worker's attempts, which it reports itself, are recognised by its
// name and left out.
//
// The announcements are core NATS messages: a lost one must never leave
// an attempt running for ever. One whose end did not come is dropped
// (observe.DropObserver) when its task's result is merged, when a later
// delivery of its task or another attempt on its worker's slot starts,
// when its worker's heartbeat is gone from the workers bucket, and when
// the job ends. An end whose start did not come is reported as both.
//
// Goroutines: the NATS client calls started and ended on its own
// goroutines while the subscriptions last; close ends them, after which
// nothing is reported. watchWorkers runs in the job's errgroup.
type remoteAttempts struct {
	obs     observe.Observer
	rec     schema.JobRecord
	local   string // the local worker's name; "" without one
	command string
	each    *mapper.EachCommand // an each job's command; nil otherwise
	kv      func(context.Context) (jetstream.KeyValue, error)
	look    time.Duration // how often watchWorkers reads the workers bucket

	mu      sync.Mutex
	closed  bool
	subs    []*nats.Subscription
	running map[remoteKey]remoteRun
	// bySlot and byTask index running: a slot runs one attempt at a
	// time, a task a few.
	bySlot map[slotKey]remoteKey
	byTask map[uint64]map[remoteKey]struct{}
	// held are the attempts dropped before their task was merged (their
	// slot or task went on without their end), by task: the end of such
	// an attempt is not reported as started again, however long its task
	// takes (an each task's items end with its result). Merging the task
	// settles them.
	held     map[uint64]map[remoteKey]struct{}
	heldTask map[remoteKey]uint64
	// settled holds, for a while, the attempts that ended before their
	// start arrived and those dropped with their task merged: a start
	// that comes late is not counted running, and the end of a dropped
	// one is not reported as started again. Two generations, the older
	// dropped as a new one begins, bound it.
	settled, older map[remoteKey]settledHow
	// merged, likewise, holds the tasks merged lately: a start of one
	// of their attempts that comes late is not counted running.
	merged, mergedOlder map[uint64]struct{}
	generation          time.Time
	// seen are the workers whose heartbeat was seen in the workers
	// bucket, with the looks in a row that missed it since: only those
	// can be seen gone.
	seen map[string]int
}

// remoteKey names one attempt exactly: Start, on the worker's clock, tells
// apart two attempts with the same number on the same slot (an original
// and its backup).
type remoteKey struct {
	index   uint64
	attempt int
	worker  string
	slot    int
	start   int64
}

// remoteRun is an attempt counted running.
type remoteRun struct {
	a        observe.Attempt // as reported started
	task     uint64
	delivery int
	backup   bool
}

type settledHow uint8

const (
	endedFirst settledHow = iota + 1 // ended before its start arrived
	dropped                          // reported started, then dropped
)

// How long, and for how many attempts at most, a generation of settled
// attempts lasts: a start arriving later than that after its end would be
// counted running until dropped.
const (
	settledFor  = time.Minute
	settledMost = 100_000
)

// While remote attempts run, the workers bucket is read every
// remoteWorkerLook to drop the attempts of workers gone: missing from
// goneLooks looks in a row (a listing cut short misses a worker once).
const (
	remoteWorkerLook = 5 * time.Second
	goneLooks        = 2
)

// newRemoteAttempts subscribes to the attempt starts and ends of the
// job's workers. local names the worker of this process, "" when it runs
// none.
func newRemoteAttempts(s *session, local string) (*remoteAttempts, error) {
	return watchAttempts(s.b.JS, s.record, s.job.Each, s.obs(), local)
}

// watchAttempts subscribes to the attempt starts and ends of the workers
// of job rec, reporting them to obs. each is an each job's command.
func watchAttempts(js jetstream.JetStream, rec schema.JobRecord, each *mapper.EachCommand, obs observe.Observer, local string) (*remoteAttempts, error) {
	ra := &remoteAttempts{
		obs: obs, rec: rec, local: local, command: mapper.AttemptCommand(rec), each: each, look: remoteWorkerLook,
		kv:      func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, schema.WorkersBucket) },
		running: make(map[remoteKey]remoteRun), bySlot: make(map[slotKey]remoteKey), byTask: make(map[uint64]map[remoteKey]struct{}),
		held: make(map[uint64]map[remoteKey]struct{}), heldTask: make(map[remoteKey]uint64),
		settled: make(map[remoteKey]settledHow), merged: make(map[uint64]struct{}), generation: time.Now(), seen: make(map[string]int),
	}
	nc := js.Conn()
	for _, sub := range []struct {
		subject string
		handle  nats.MsgHandler
	}{
		{schema.AttemptStartSubject(rec.ID), ra.started},
		{schema.AttemptEndSubject(rec.ID), ra.ended},
	} {
		s, err := nc.Subscribe(sub.subject, sub.handle)
		if err != nil {
			ra.close()
			return nil, fmt.Errorf("subscribing to the attempts of job %s: %w", rec.ID, err)
		}
		ra.subs = append(ra.subs, s)
	}
	return ra, nil
}

// close ends the subscriptions and drops the attempts still counted
// running: the job has ended. Events that arrive later are dropped.
func (ra *remoteAttempts) close() {
	if ra == nil {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
	ra.closed = true
	for _, sub := range ra.subs {
		_ = sub.Unsubscribe()
	}
	ra.dropWhere(true, func(remoteKey, remoteRun) bool { return true })
}

// started takes in an attempt start a worker announced.
func (ra *remoteAttempts) started(m *nats.Msg) {
	st, err := schema.DecodeAttemptStart(m.Data)
	if err != nil || st.Worker == ra.local || st.Round != ra.rec.Round {
		return // the local worker reports its own; an earlier round's is not this run's
	}
	k := remoteKey{st.Index, st.Attempt, st.Worker, st.Slot, st.Start}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed || ra.settledAs(k) != 0 {
		return // it ended, or was dropped, already
	}
	if _, ok := ra.merged[st.Task]; ok {
		return // its task is merged: it is over, or about to be stopped
	}
	if _, ok := ra.mergedOlder[st.Task]; ok {
		return
	}
	if _, ok := ra.running[k]; ok {
		return
	}
	// A slot runs one attempt at a time, and a task is delivered again
	// only once its earlier delivery is over: those attempts have ended,
	// whether their end arrived or not.
	if o, ok := ra.bySlot[slotKey{k.worker, k.slot}]; ok {
		ra.drop(o, false)
	}
	for o := range ra.byTask[st.Task] {
		if r := ra.running[o]; r.backup == st.Backup && r.delivery < st.Delivery {
			ra.drop(o, false)
		}
	}
	a := observe.Attempt{
		Job: ra.rec.ID, Index: st.Index, Attempt: st.Attempt, Worker: st.Worker, Slot: st.Slot, Slots: st.Slots,
		Start: time.Unix(0, st.Start), BytesIn: st.BytesIn, Command: ra.command,
	}
	if ra.each != nil {
		a.Command = st.Command
	}
	ra.add(k, remoteRun{a: a, task: st.Task, delivery: st.Delivery, backup: st.Backup})
	ra.obs.AttemptStarted(a)
}

// add counts attempt k running; ra.mu is held.
func (ra *remoteAttempts) add(k remoteKey, r remoteRun) {
	ra.running[k] = r
	ra.bySlot[slotKey{k.worker, k.slot}] = k
	if ra.byTask[r.task] == nil {
		ra.byTask[r.task] = make(map[remoteKey]struct{})
	}
	ra.byTask[r.task][k] = struct{}{}
}

// remove stops counting attempt k running; ra.mu is held.
func (ra *remoteAttempts) remove(k remoteKey) (remoteRun, bool) {
	r, ok := ra.running[k]
	if !ok {
		return remoteRun{}, false
	}
	delete(ra.running, k)
	if sk := (slotKey{k.worker, k.slot}); ra.bySlot[sk] == k {
		delete(ra.bySlot, sk)
	}
	delete(ra.byTask[r.task], k)
	if len(ra.byTask[r.task]) == 0 {
		delete(ra.byTask, r.task)
	}
	return r, true
}

// settledAs says whether attempt k ended before its start arrived or was
// dropped, lately; ra.mu is held.
func (ra *remoteAttempts) settledAs(k remoteKey) settledHow {
	if _, ok := ra.heldTask[k]; ok {
		return dropped
	}
	if how, ok := ra.settled[k]; ok {
		return how
	}
	return ra.older[k]
}

// settle remembers attempt k as ended first or dropped; ra.mu is held.
func (ra *remoteAttempts) settle(k remoteKey, how settledHow) {
	ra.age()
	ra.settled[k] = how
}

// age begins a new generation of settled attempts and merged tasks when
// the current one is old or large enough; ra.mu is held.
func (ra *remoteAttempts) age() {
	if len(ra.settled)+len(ra.merged) < settledMost && time.Since(ra.generation) < settledFor {
		return
	}
	ra.older, ra.settled = ra.settled, make(map[remoteKey]settledHow)
	ra.mergedOlder, ra.merged = ra.merged, make(map[uint64]struct{})
	ra.generation = time.Now()
}

// dropWhere drops the attempts counted running that drop says, whose
// tasks are merged when merged says so; ra.mu is held.
func (ra *remoteAttempts) dropWhere(merged bool, drop func(remoteKey, remoteRun) bool) {
	for k, r := range ra.running {
		if drop(k, r) {
			ra.drop(k, merged)
		}
	}
}

// drop stops counting attempt k running, whose end did not come, and
// tells the observers; its task is merged when merged says so. ra.mu is
// held.
func (ra *remoteAttempts) drop(k remoteKey, merged bool) {
	r, ok := ra.remove(k)
	if !ok {
		return
	}
	if merged {
		ra.settle(k, dropped)
	} else {
		if ra.held[r.task] == nil {
			ra.held[r.task] = make(map[remoteKey]struct{})
		}
		ra.held[r.task][k] = struct{}{}
		ra.heldTask[k] = r.task
	}
	if d, ok := ra.obs.(observe.DropObserver); ok {
		d.AttemptDropped(r.a)
	}
}

// unhold forgets a held attempt; ra.mu is held.
func (ra *remoteAttempts) unhold(k remoteKey) {
	task, ok := ra.heldTask[k]
	if !ok {
		return
	}
	delete(ra.heldTask, k)
	delete(ra.held[task], k)
	if len(ra.held[task]) == 0 {
		delete(ra.held, task)
	}
}

// report passes an attempt that has ended to the observers, unless the
// subscriptions are closed: only its end when its start was reported,
// else its start and its end. The end of an attempt ended already is
// not reported again.
func (ra *remoteAttempts) report(a observe.Attempt) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
	k := remoteKey{a.Index, a.Attempt, a.Worker, a.Slot, a.Start.UnixNano()}
	if _, ok := ra.remove(k); ok {
		ra.obs.AttemptEnded(a)
		return
	}
	switch ra.settledAs(k) {
	case endedFirst:
		return // reported already
	case dropped:
		ra.unhold(k)
		ra.settle(k, endedFirst)
		ra.obs.AttemptEnded(a)
		return
	}
	ra.settle(k, endedFirst)
	started := a
	started.End = time.Time{}
	ra.obs.AttemptStarted(started)
	ra.obs.AttemptEnded(a)
}

// ended takes in an attempt end a worker announced.
func (ra *remoteAttempts) ended(m *nats.Msg) {
	e, err := schema.DecodeAttemptEnd(m.Data)
	if err != nil || e.Worker == ra.local || e.Round != ra.rec.Round {
		return // the local worker reports its own; an earlier round's is not this run's
	}
	a := observe.Attempt{
		Job: ra.rec.ID, Index: e.Index, Attempt: e.Attempt, Worker: e.Worker, Slot: e.Slot, Slots: e.Slots,
		Start: time.Unix(0, e.Start), End: time.Unix(0, e.End), BytesIn: e.BytesIn, BytesOut: e.BytesOut, Rows: e.Rows,
		ExitCode: e.Exit, Signal: e.Signal, Failed: e.Failed, Retried: e.Retried, Superseded: e.Superseded,
		Command: ra.command,
	}
	// An attempt its worker stopped (it drains, or lost the job) is
	// handed back: the job goes on and runs the task again, so it is a
	// retried failure here, not one the job's own stop cut short.
	if e.Stopped {
		a.Failed, a.Retried = true, true
	}
	if ra.each != nil {
		a.Command = e.Command
	}
	ra.report(a)
}

// watchWorkers drops, until ctx ends, the attempts counted running whose
// worker's heartbeat is gone from the workers bucket (a worker killed
// before it announced their end) for goneLooks looks in a row. Only
// workers seen there before are judged: a worker without a heartbeat (a
// library's mapper.Worker) is never taken for gone.
func (ra *remoteAttempts) watchWorkers(ctx context.Context) error {
	t := time.NewTicker(ra.look)
	defer t.Stop()
	var kv jetstream.KeyValue
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ra.mu.Lock()
		idle := len(ra.running) == 0
		ra.mu.Unlock()
		if idle {
			continue
		}
		if kv == nil {
			var err error
			if kv, err = ra.kv(ctx); err != nil {
				continue // no worker ever ran, or the broker does not answer
			}
		}
		live, err := liveWorkerNames(ctx, kv)
		if err != nil {
			continue
		}
		ra.mu.Lock()
		for name := range ra.seen {
			if !live[name] {
				ra.seen[name]++
			}
		}
		for name := range live {
			ra.seen[name] = 0
		}
		ra.dropWhere(false, func(k remoteKey, _ remoteRun) bool { return ra.seen[k.worker] >= goneLooks })
		ra.mu.Unlock()
	}
}

// dropTask drops the attempts of task index still counted running, and
// settles those held: the task is merged.
func (ra *remoteAttempts) dropTask(index uint64) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	ra.age()
	ra.merged[index] = struct{}{}
	for k := range ra.byTask[index] {
		ra.drop(k, true)
	}
	for k := range ra.held[index] {
		delete(ra.heldTask, k)
		ra.settle(k, dropped)
	}
	delete(ra.held, index)
}

// liveWorkerNames names the workers whose heartbeat is in the workers
// bucket.
func liveWorkerNames(ctx context.Context, kv jetstream.KeyValue) (map[string]bool, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the workers: %w", err)
	}
	live := make(map[string]bool)
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue // it stopped meanwhile
			}
			return nil, fmt.Errorf("reading the heartbeat of worker %s: %w", key, err)
		}
		if st, err := schema.DecodeWorkerStatus(e.Value()); err == nil {
			live[st.Name] = true
		}
	}
	return live, nil
}

// decided reports the attempt that decided a task, from its result:
// bytesOut is the output of the task's results merged.
// Whichever worker ran it, the other attempts of the task still counted
// running are dropped then: it is merged.
func (ra *remoteAttempts) decided(res *schema.Result, bytesOut int64) {
	if ra == nil {
		return
	}
	defer ra.dropTask(res.Index)
	if res.Worker == ra.local {
		return
	}
	a := observe.Attempt{
		Job: ra.rec.ID, Index: res.Index, Attempt: max(res.Attempt, 1), Worker: res.Worker, Slot: res.Slot, Slots: res.Slots,
		Start: time.Unix(0, res.Start), End: time.Unix(0, max(res.End, res.Start)), BytesIn: res.BytesIn, BytesOut: bytesOut,
		Command: ra.command,
	}
	if res.Err != nil {
		a.Failed, a.ExitCode, a.Signal = true, res.Err.ExitStatus, res.Err.Signal
	} else {
		a.ExitCode = res.Exit // a status --ok-exit accepted, or 0
	}
	if ra.rec.Kind.Traits().PerItem {
		ra.items(res)
		return
	}
	if ra.rec.Kind.Traits().Rows && res.Err == nil {
		var out mapper.BatchOutcome
		if msgpack.Unmarshal(res.Payload, &out) == nil {
			a.Rows = out.Rows + out.Earlier
		}
	}
	ra.report(a)
}

// items reports the last attempt of each item of an each task, from the
// task's result (its earlier, retried attempts are announced by their
// worker).
func (ra *remoteAttempts) items(res *schema.Result) {
	data := res.Payload
	if res.Spill != "" {
		var err error
		if data, err = os.ReadFile(res.Spill); err != nil {
			return
		}
	}
	if len(data) == 0 {
		return
	}
	items, err := schema.DecodeItemResults(data)
	if err != nil {
		return
	}
	for _, it := range items.Items {
		a := observe.Attempt{
			Job: ra.rec.ID, Index: it.Seq, Attempt: max(it.Attempts, 1), Worker: res.Worker, Slot: res.Slot, Slots: res.Slots,
			Start: time.Unix(0, it.Start), End: time.Unix(0, max(it.End, it.Start)),
			BytesIn: int64(len(it.Item)), BytesOut: int64(len(it.Output)),
			ExitCode: it.Exit, Signal: it.Signal, Failed: it.Failed(),
		}
		if !a.Failed {
			a.ExitCode = it.Accepted // a status --ok-exit accepted, or 0
		}
		if ra.each != nil {
			a.Command = ra.each.ItemCommand(it.Item, it.Seq)
		}
		ra.report(a)
	}
}
