package job

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// remoteBench is a remoteAttempts on a real embedded server, with the
// metrics and the recorder it reports to: the test announces attempts
// as workers in other processes do, on the same subjects.
type remoteBench struct {
	t   *testing.T
	b   *broker.Broker
	ra  *remoteAttempts
	reg *prometheus.Registry
	rec *observe.Recorder
	job string
	// probes counts the probe attempts of sync.
	probes int
}

func newRemoteBench(t *testing.T) *remoteBench {
	t.Helper()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rb := &remoteBench{t: t, b: b, reg: prometheus.NewRegistry(), rec: observe.NewRecorder(100), job: "remote-bench"}
	obs := observe.Multi(observe.NewMetrics(rb.reg), rb.rec)
	obs.JobStarted(rb.job, "", 10, 0, 2)
	rec := schema.JobRecord{ID: rb.job, Kind: schema.KindPipe, Command: []string{"cat"}, Round: 1}
	if rb.ra, err = watchAttempts(b.JS, rec, nil, obs, "local:1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rb.ra.close)
	return rb
}

// start announces an attempt's start: task, delivery, worker and slot;
// its Start is derived from them, so that its end names it alike.
func (rb *remoteBench) start(task uint64, delivery int, worker string, slot int, backup bool) {
	rb.t.Helper()
	rb.publish(schema.AttemptStartSubject(rb.job), schema.AttemptStart{
		Index: task, Attempt: delivery, Task: task, Delivery: delivery, Round: 1,
		Worker: worker, Slot: slot, Slots: 2, Start: startOf(task, delivery, worker, slot), Backup: backup,
	})
}

// end announces the end of an attempt that stored no result the job
// merges.
func (rb *remoteBench) end(task uint64, delivery int, worker string, slot int, how func(*schema.AttemptEnd)) {
	rb.t.Helper()
	start := startOf(task, delivery, worker, slot)
	e := schema.AttemptEnd{Index: task, Attempt: delivery, Round: 1, Worker: worker, Slot: slot, Slots: 2, Start: start, End: start + 1e6}
	if how != nil {
		how(&e)
	}
	rb.publish(schema.AttemptEndSubject(rb.job), e)
}

// decided merges the task's result from an attempt, as the reducer does,
// once the notes announced before are taken in.
func (rb *remoteBench) decided(task uint64, delivery int, worker string, slot int) {
	rb.t.Helper()
	rb.sync()
	rb.merge(task, delivery, worker, slot)
}

// merge merges the task's result from an attempt at once.
func (rb *remoteBench) merge(task uint64, delivery int, worker string, slot int) {
	start := startOf(task, delivery, worker, slot)
	rb.ra.decided(&schema.Result{Job: rb.job, Index: task, Attempt: delivery, Round: 1, Worker: worker, Slot: slot, Slots: 2,
		Start: start, End: start + 2e6}, 10)
}

func startOf(task uint64, delivery int, worker string, slot int) int64 {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() + int64(task)*1e9 + int64(delivery)*1e7 + int64(len(worker))*1e5 + int64(slot)*1e3
}

func (rb *remoteBench) publish(subject string, v any) {
	rb.t.Helper()
	var data []byte
	var err error
	switch m := v.(type) {
	case schema.AttemptStart:
		data, err = schema.EncodeAttemptStart(m)
	case schema.AttemptEnd:
		data, err = schema.EncodeAttemptEnd(m)
	}
	if err == nil {
		err = rb.b.JS.Conn().Publish(subject, data)
	}
	if err != nil {
		rb.t.Fatal(err)
	}
}

// sync waits until every note published so far was taken in: each
// subscription takes its messages in order, so once a probe attempt's
// start counts it running, and then its end is reported, the notes
// before them on both subjects were.
func (rb *remoteBench) sync() {
	rb.t.Helper()
	rb.probes++
	n := 1000 + uint64(rb.probes)
	rb.start(n, 1, "probe", 0, false)
	k := remoteKey{n, 1, "probe", 0, startOf(n, 1, "probe", 0)}
	waitFor(rb.t, "the probe's start taken in", func() bool {
		rb.ra.mu.Lock()
		defer rb.ra.mu.Unlock()
		_, ok := rb.ra.running[k]
		return ok
	})
	rb.end(n, 1, "probe", 0, nil)
	waitFor(rb.t, "the probe's end taken in", func() bool {
		rb.ra.mu.Lock()
		defer rb.ra.mu.Unlock()
		_, ok := rb.ra.running[k]
		return !ok
	})
}

// gauge reads a metric of the job: jetmr_tasks_in_flight, or the
// jetmr_tasks_total series of state.
func (rb *remoteBench) gauge(name, state string) float64 {
	rb.t.Helper()
	fams, err := rb.reg.Gather()
	if err != nil {
		rb.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "state" && l.GetValue() != state {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return 0
}

// ended lists, sorted, the ended attempts the recorder kept as
// WORKER/TASK/ATTEMPT, but the probes'.
func (rb *remoteBench) ended() []string {
	out := []string{}
	for _, a := range rb.rec.Attempts() {
		if a.Worker != "probe" {
			out = append(out, fmt.Sprintf("%s/%d/%d", a.Worker, a.Index, a.Attempt))
		}
	}
	slices.Sort(out)
	return out
}

// check compares what the observers heard with what is wanted: the
// attempts in flight, the starts counted (each attempt's once, the
// probes' left out) and the ended attempts reported.
func (rb *remoteBench) check(inFlight, starts float64, ended ...string) {
	rb.t.Helper()
	rb.sync()
	probes := float64(rb.probes)
	if got := rb.gauge("jetmr_tasks_in_flight", ""); got != inFlight {
		rb.t.Errorf("jetmr_tasks_in_flight = %g, want %g", got, inFlight)
	}
	if got := rb.gauge("jetmr_tasks_total", observe.StateRunning) - probes; got != starts {
		rb.t.Errorf(`jetmr_tasks_total{state="running"} = %g (probes left out), want %g: each attempt's start once`, got, starts)
	}
	if ended == nil {
		ended = []string{}
	}
	if got := rb.ended(); !slices.Equal(got, ended) {
		rb.t.Errorf("ended attempts %v, want %v", got, ended)
	}
}

// TestRemoteAttemptsInFlight announces attempts as workers in other
// processes do, losing some of the announcements: every attempt counts
// in flight from its start to its end, once, and one whose end is lost
// is dropped when its task is merged or delivered again, when its slot
// starts another attempt, when its worker is gone, or when the job ends.
func TestRemoteAttemptsInFlight(t *testing.T) {
	t.Parallel()
	retried := func(e *schema.AttemptEnd) { e.Failed, e.Retried, e.Exit = true, true, 3 }
	superseded := func(e *schema.AttemptEnd) { e.Superseded = true }
	for _, tc := range []struct {
		name string
		run  func(rb *remoteBench)
	}{
		{"start then result", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.check(1, 1)
			rb.decided(1, 1, "w1", 0)
			rb.check(0, 1, "w1/1/1")
		}},
		{"retried failure then result", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.end(1, 1, "w1", 0, retried)
			rb.check(0, 1, "w1/1/1")
			rb.start(1, 2, "w1", 0, false)
			rb.check(1, 2, "w1/1/1")
			rb.decided(1, 2, "w1", 0)
			rb.check(0, 2, "w1/1/1", "w1/1/2")
		}},
		{"start arrives after the end", func(rb *remoteBench) {
			rb.end(1, 1, "w1", 0, retried)
			rb.decided(2, 1, "w1", 1)
			rb.start(1, 1, "w1", 0, false)
			rb.start(2, 1, "w1", 1, false)
			rb.check(0, 2, "w1/1/1", "w1/2/1")
		}},
		{"starts arrive after the task merged", func(rb *remoteBench) {
			rb.merge(1, 1, "w1", 0)
			rb.start(1, 1, "w1", 0, false)
			rb.start(1, 1, "w2", 0, true) // its backup
			rb.check(0, 1, "w1/1/1")
		}},
		{"a worker that announces no start", func(rb *remoteBench) {
			rb.decided(1, 1, "old", 0)
			rb.check(0, 1, "old/1/1")
		}},
		{"end lost, the task delivered again", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.start(1, 2, "w2", 0, false) // w1's retried end was lost
			rb.check(1, 2)
			rb.decided(1, 2, "w2", 0)
			rb.check(0, 2, "w2/1/2")
			rb.end(1, 1, "w1", 0, retried) // it comes after all: reported, not started again
			rb.check(0, 2, "w1/1/1", "w2/1/2")
		}},
		{"end lost, the slot runs another task", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.start(2, 1, "w1", 0, false)
			rb.check(1, 2)
			rb.decided(1, 1, "w1", 0) // the first one's result, stored after its slot moved on
			rb.decided(2, 1, "w1", 0)
			rb.check(0, 2, "w1/1/1", "w1/2/1")
		}},
		{"a backup beside its original", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.start(1, 1, "w2", 0, true)
			rb.check(2, 2)
			rb.decided(1, 1, "w2", 0) // the backup won; the original is stopped
			rb.check(0, 2, "w2/1/1")
			rb.end(1, 1, "w1", 0, superseded)
			rb.check(0, 2, "w1/1/1", "w2/1/1")
		}},
		{"end lost, the task merged", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.start(1, 1, "w2", 1, true)
			rb.decided(1, 1, "w1", 0) // the backup's superseded end is lost
			rb.check(0, 2, "w1/1/1")
		}},
		{"merged by the local worker", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.decided(1, 2, "local:1", 0) // w1 died; the local worker ran it again
			rb.check(0, 1)
		}},
		{"the local worker's and other rounds' notes", func(rb *remoteBench) {
			rb.start(1, 1, "local:1", 0, false)
			rb.publish(schema.AttemptStartSubject(rb.job), schema.AttemptStart{Index: 2, Attempt: 1, Task: 2, Delivery: 1, Round: 0, Worker: "w1", Start: 1})
			if err := rb.b.JS.Conn().Publish(schema.AttemptStartSubject(rb.job), []byte{0xc1}); err != nil {
				t.Fatal(err)
			}
			rb.check(0, 0)
		}},
		{"the job ends", func(rb *remoteBench) {
			rb.start(1, 1, "w1", 0, false)
			rb.start(2, 1, "w1", 1, false)
			rb.check(2, 2)
			rb.ra.close()
			if got := rb.gauge("jetmr_tasks_in_flight", ""); got != 0 {
				t.Errorf("jetmr_tasks_in_flight = %g once the job ended, want 0", got)
			}
			for _, sub := range rb.ra.subs {
				if sub.IsValid() {
					t.Errorf("the subscription to %s outlives the job", sub.Subject)
				}
			}
			// A start already on its way as the job ended.
			data, err := schema.EncodeAttemptStart(schema.AttemptStart{Index: 3, Attempt: 1, Task: 3, Delivery: 1, Round: 1, Worker: "w1", Start: 1})
			if err != nil {
				t.Fatal(err)
			}
			rb.ra.started(&nats.Msg{Data: data})
			if got := rb.gauge("jetmr_tasks_in_flight", ""); got != 0 {
				t.Errorf("jetmr_tasks_in_flight = %g after a start taken in once the job ended, want 0", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(newRemoteBench(t))
		})
	}
}

// TestRemoteAttemptsWorkerGone drops the running attempts of a worker
// whose heartbeat leaves the workers bucket, and keeps those of a worker
// never seen there (one without a heartbeat).
func TestRemoteAttemptsWorkerGone(t *testing.T) {
	t.Parallel()
	rb := newRemoteBench(t)
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := rb.b.Workers(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"w1", "w2"} {
		data, err := schema.EncodeWorkerStatus(schema.WorkerStatus{Name: w, Slots: 2, Seen: time.Now().UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "key-"+w, data); err != nil {
			t.Fatal(err)
		}
	}
	rb.ra.look = 10 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- rb.ra.watchWorkers(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watching the workers: %v", err)
		}
	}()
	rb.start(1, 1, "w1", 0, false)
	rb.start(2, 1, "w2", 0, false)
	rb.start(3, 1, "no-heartbeat", 0, false)
	rb.check(3, 3)
	// Let the watcher see both workers, then w1 goes.
	waitFor(t, "the workers seen", func() bool {
		rb.ra.mu.Lock()
		defer rb.ra.mu.Unlock()
		_, ok1 := rb.ra.seen["w1"]
		_, ok2 := rb.ra.seen["w2"]
		return ok1 && ok2
	})
	if err := kv.Delete(ctx, "key-w1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "w1's attempt dropped", func() bool { return rb.gauge("jetmr_tasks_in_flight", "") == 2 })
	waitFor(t, "five more looks", func() bool {
		rb.ra.mu.Lock()
		defer rb.ra.mu.Unlock()
		return rb.ra.seen["w1"] >= goneLooks+5
	})
	rb.check(2, 3) // nothing else went
	// Its task runs again on w2, and w1's result never comes.
	rb.start(1, 2, "w2", 1, false)
	rb.decided(1, 2, "w2", 1)
	rb.decided(2, 1, "w2", 0)
	rb.decided(3, 1, "no-heartbeat", 0)
	rb.check(0, 4, "no-heartbeat/3/1", "w2/1/2", "w2/2/1")
}

// waitFor polls cond until it holds, for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
