package job

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Once a job stops (its context ended: a signal, a halt) it still
// records what a resume needs: the output and split checkpoints, its
// record and its last snapshot. With the broker reachable each write has
// the long deadline its caller gives; with it unreachable the writes
// share one deadline of unreachableLinger from the stop, since they
// would only wait for a server that is gone. A write left undone costs a
// resume nothing but time: it goes on from the last state recorded, as
// after a crash.
//
// Unreachable is any state but a connection that answers: closed, lost
// and being set up again (perhaps to a server whose process is
// suspended, which takes the connection and never answers), or up but
// silent. The check is made as soon as the job's context ends, before
// its workers and reducer wind down, and the broker is then hurried
// (broker.Broker.Hurry), so that winding down does not wait for the
// connection either.
const unreachableLinger = 5 * time.Second

// probeTimeout bounds the round trip that checks, at the stop, that a
// connection that looks up still reaches its server (a dead machine is
// noticed by pings only after some seconds).
const probeTimeout = time.Second

// liveness is the broker as the stop sees it (a *broker.Broker).
type liveness interface {
	Answering(timeout time.Duration) bool
	Hurry()
	Where() string
}

// stopWrites gives the contexts of a job's writes once it has stopped.
type stopWrites struct {
	b   liveness // nil: no connection to check (an embedded server)
	log zerolog.Logger
	job string

	mu    sync.Mutex // held through a check
	until time.Time  // zero: the broker answered when last checked
}

// watch checks the broker as soon as ctx ends, and returns the function
// that stops watching, which waits for a check under way to finish.
func (w *stopWrites) watch(ctx context.Context) (stop func()) {
	checked := make(chan struct{})
	unwatch := context.AfterFunc(ctx, func() {
		defer close(checked)
		w.check()
	})
	return func() {
		if !unwatch() {
			<-checked
		}
	}
}

// check returns the deadline the stop's writes share: zero while the
// broker answers. The first time it finds the broker unreachable it sets
// that deadline, says at once what the stop waits for and hurries the
// broker; a broker that answered is checked again next time (a write's
// context may end before the job stops: a split that ended, a halt).
func (w *stopWrites) check() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.until.IsZero() || w.b == nil || w.b.Answering(probeTimeout) {
		return w.until
	}
	w.until = time.Now().Add(unreachableLinger)
	w.log.Warn().Str("job", w.job).Dur("at_most", unreachableLinger).
		Msgf("NATS is unreachable at %s: waiting at most %s to record where the job stopped, then exiting; its resume goes on from the last state recorded",
			w.b.Where(), unreachableLinger)
	w.b.Hurry()
	return w.until
}

// context is the context of one write after the job's context ctx ended:
// long from now with the broker answering, else until the deadline the
// stop's writes share. Before the stop (a job that ends on its own) it is
// long from now.
func (w *stopWrites) context(ctx context.Context, long time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithTimeout(context.WithoutCancel(ctx), long)
	}
	if until := w.check(); !until.IsZero() {
		return context.WithDeadline(context.WithoutCancel(ctx), until)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), long)
}
