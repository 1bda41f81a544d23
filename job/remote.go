package job

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// remoteAttempts reports to the job's observers the attempts of its
// tasks that ran in other processes (jetmr worker), which the local
// worker's events do not cover: the attempt that decided each task from
// the result the reducer merged, and the others (retried failures,
// superseded attempts, failed backups) from what their workers announce
// on the job's attempt end subject. The local worker's attempts, which it
// reports itself, are recognised by its name and left out.
//
// Goroutines: the NATS client calls ended on its own goroutine while the
// subscription lasts; close ends it, after which nothing is reported.
type remoteAttempts struct {
	obs     observe.Observer
	rec     schema.JobRecord
	local   string // the local worker's name; "" without one
	command string
	each    *mapper.EachCommand // an each job's command; nil otherwise

	mu     sync.Mutex
	closed bool
	sub    *nats.Subscription
}

// newRemoteAttempts subscribes to the attempt ends of the job's workers.
// local names the worker of this process, "" when it runs none.
func newRemoteAttempts(s *session, local string) (*remoteAttempts, error) {
	ra := &remoteAttempts{obs: s.obs(), rec: s.record, local: local, command: mapper.AttemptCommand(s.record), each: s.job.Each}
	sub, err := s.b.JS.Conn().Subscribe(schema.AttemptEndSubject(s.record.ID), ra.ended)
	if err != nil {
		return nil, fmt.Errorf("subscribing to the attempts of job %s: %w", s.record.ID, err)
	}
	ra.sub = sub
	return ra, nil
}

// close ends the subscription; events that arrive later are dropped.
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
	_ = ra.sub.Unsubscribe()
}

// report passes an attempt that has ended to the observers, as a start
// and an end, unless the subscription is closed.
func (ra *remoteAttempts) report(a observe.Attempt) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
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

// decided reports the attempt that decided a task, from its result:
// bytesOut is the output of the task's results merged.
func (ra *remoteAttempts) decided(res *schema.Result, bytesOut int64) {
	if ra == nil || res.Worker == ra.local {
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
