package job

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
const unreachableLinger = 5 * time.Second

// probeTimeout bounds the round trip that checks, at the stop, that a
// connection that looks up still reaches its server (a dead machine is
// noticed by pings only after some seconds).
const probeTimeout = time.Second

// stopWrites gives the contexts of a job's writes once it has stopped.
type stopWrites struct {
	nc  *nats.Conn // nil: no connection to check
	log zerolog.Logger
	job string

	once  sync.Once
	until time.Time // zero: the broker was reachable at the stop
}

// context is the context of one write after the job's context ctx ended:
// long from now with the broker reachable, else until the deadline the
// stop's writes share. The first call after the stop checks the
// connection and, when it is down, says at once what the stop waits for.
// Before the stop (a job that ends on its own) it is long from now.
func (w *stopWrites) context(ctx context.Context, long time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithTimeout(context.WithoutCancel(ctx), long)
	}
	w.once.Do(func() {
		if w.nc == nil || w.nc.IsConnected() && w.nc.FlushTimeout(probeTimeout) == nil {
			return
		}
		w.until = time.Now().Add(unreachableLinger)
		w.log.Warn().Str("job", w.job).Dur("at_most", unreachableLinger).
			Msgf("NATS is unreachable: waiting at most %s to record where the job stopped, then exiting; its resume goes on from the last state recorded", unreachableLinger)
	})
	if !w.until.IsZero() {
		return context.WithDeadline(context.WithoutCancel(ctx), w.until)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), long)
}
