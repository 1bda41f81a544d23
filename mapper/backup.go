package mapper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/schema"
)

// ErrSuperseded is the cause of an attempt stopped because its task was
// merged from another attempt (a backup, or the original a backup
// overtook): its output is not needed.
var ErrSuperseded = errors.New("the task's result came from another attempt")

// attempts is what a worker of a speculative job (schema.JobRecord's
// Speculative) knows of the job's attempts: it announces its own as they
// start and end on the job's attempt subject, and stops those whose task
// the job announces on its cancel subject, remembering those tasks so that
// an attempt taken later is dropped at once. A nil *attempts (a job
// without backups) does nothing. It is safe for concurrent use.
type attempts struct {
	nc     *nats.Conn
	job    string
	worker string
	slots  int
	log    zerolog.Logger

	mu      sync.Mutex
	running map[uint64]map[*runningAttempt]struct{}
	done    map[uint64]struct{} // tasks announced on the cancel subject
	sub     *nats.Subscription
}

// runningAttempt is one attempt in progress, stopped by cancel.
type runningAttempt struct {
	cancel context.CancelCauseFunc
}

// newAttempts subscribes to the job's cancel subject, or returns nil for
// a job without backups.
func newAttempts(nc *nats.Conn, rec schema.JobRecord, worker string, slots int, log zerolog.Logger) (*attempts, error) {
	if !rec.Speculative || nc == nil {
		return nil, nil
	}
	a := &attempts{nc: nc, job: rec.ID, worker: worker, slots: slots, log: log,
		running: make(map[uint64]map[*runningAttempt]struct{}), done: make(map[uint64]struct{})}
	sub, err := nc.Subscribe(schema.CancelSubject(rec.ID), a.cancelled)
	if err != nil {
		return nil, fmt.Errorf("subscribing to the cancellations of job %s: %w", rec.ID, err)
	}
	a.sub = sub
	return a, nil
}

// close ends the subscription.
func (a *attempts) close() {
	if a == nil {
		return
	}
	if err := a.sub.Unsubscribe(); err != nil {
		a.log.Debug().Err(err).Msg("unsubscribing from task cancellations")
	}
}

// cancelled stops the running attempts of the task a message names.
func (a *attempts) cancelled(m *nats.Msg) {
	index, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		a.log.Warn().Str("data", string(m.Data)).Msg("ignoring a malformed task cancellation")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[index] = struct{}{}
	for r := range a.running[index] {
		r.cancel(ErrSuperseded)
	}
}

// merged reports whether the job announced task index merged already.
func (a *attempts) merged(index uint64) bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.done[index]
	return ok
}

// start registers an attempt of t and announces it. The returned context
// is cancelled with cause [ErrSuperseded] when the job merges the task
// from another attempt; end unregisters it and announces its end.
func (a *attempts) start(ctx context.Context, t schema.Task, slot int, at time.Time) (context.Context, func()) {
	if a == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r := &runningAttempt{cancel: cancel}
	a.mu.Lock()
	set := a.running[t.Index]
	if set == nil {
		set = make(map[*runningAttempt]struct{})
		a.running[t.Index] = set
	}
	set[r] = struct{}{}
	if _, ok := a.done[t.Index]; ok {
		cancel(ErrSuperseded)
	}
	a.mu.Unlock()
	note := schema.AttemptNote{Index: t.Index, Worker: a.worker, Slot: slot, Slots: a.slots, Start: at.UnixNano(), Backup: t.Backup}
	a.announce(note)
	return ctx, func() {
		a.mu.Lock()
		delete(set, r)
		if len(set) == 0 {
			delete(a.running, t.Index)
		}
		a.mu.Unlock()
		cancel(nil)
		note.Ended = true
		a.announce(note)
	}
}

// announce publishes a note; a lost one only means a backup less.
func (a *attempts) announce(n schema.AttemptNote) {
	data, err := schema.EncodeAttemptNote(n)
	if err == nil {
		err = a.nc.Publish(schema.AttemptSubject(a.job), data)
	}
	if err != nil {
		a.log.Debug().Err(err).Uint64("task", n.Index).Msg("announcing an attempt")
	}
}

// superseded reports whether ctx, from start, was stopped because the
// task was merged from another attempt.
func superseded(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrSuperseded)
}
