package job

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
	"github.com/jetmr/jetmr/internal/testbuf"
)

// TestStopWrites: once the job's context ends, the stop's writes have
// their long deadlines while the server answers, and share one deadline
// of unreachableLinger, with a warning naming the server, as soon as it
// does not (here: silent, its connection up). A check that found the
// server answering (a write whose own context ended before the job
// stopped) does not stand for later writes; and the watch checks at the
// stop itself, before any write.
func TestStopWrites(t *testing.T) {
	t.Parallel()
	t.Run("each write checks", func(t *testing.T) {
		t.Parallel()
		w, relay, log := stopWritesThroughRelay(t)
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		ctx, done := w.context(ended, time.Minute)
		defer done()
		if dl, _ := ctx.Deadline(); time.Until(dl) < 30*time.Second {
			t.Errorf("a write with the server answering has %s, want its minute", time.Until(dl).Round(time.Second))
		}

		relay.Silence(false)
		ctx, done = w.context(ended, time.Minute)
		defer done()
		shared, _ := ctx.Deadline()
		if left := time.Until(shared); left > unreachableLinger {
			t.Errorf("a write with the server silent has %s, want at most %s", left.Round(time.Second), unreachableLinger)
		}
		ctx, done = w.context(ended, time.Minute)
		defer done()
		if dl, _ := ctx.Deadline(); !dl.Equal(shared) {
			t.Errorf("a later write's deadline is %s, want the shared %s", dl, shared)
		}
		if got := log.String(); !strings.Contains(got, "NATS is unreachable at nats://"+relay.Addr()) {
			t.Errorf("the log does not name the unreachable server:\n%s", got)
		}
	})
	t.Run("the stop checks at once", func(t *testing.T) {
		t.Parallel()
		w, relay, log := stopWritesThroughRelay(t)
		job, stop := context.WithCancel(context.Background())
		unwatch := w.watch(job)
		relay.Silence(false)
		stop()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(log.String(), "NATS is unreachable") {
			if time.Now().After(deadline) {
				t.Fatalf("no warning 10s after the stop, with no write:\n%s", log)
			}
			time.Sleep(10 * time.Millisecond)
		}
		unwatch()
	})
}

// stopWritesThroughRelay returns the stop writes of a job whose broker
// reaches a server through relay, and the log they write.
func stopWritesThroughRelay(t *testing.T) (*stopWrites, *nettest.Relay, *testbuf.Buffer) {
	t.Helper()
	relay := nettest.StartRelay(t, nettest.StockServer(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{URL: "nats://" + relay.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	log := &testbuf.Buffer{}
	return &stopWrites{b: b, log: zerolog.New(log), job: "stopping"}, relay, log
}
