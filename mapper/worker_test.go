package mapper_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// startWorker runs a worker for a pipe job running cat, on a fresh embedded
// broker, until the test ends.
func startWorker(t *testing.T, retries int, command ...string) (*broker.Broker, schema.JobRecord) {
	t.Helper()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: command, Partitions: 1, Retries: retries}
	return startWorkerFor(t, rec), rec
}

// startWorkerFor runs a worker for rec, which must be job w1, on a fresh
// embedded broker until the test ends.
func startWorkerFor(t *testing.T, rec schema.JobRecord) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	job, err := mapper.ResolveJob(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := mapper.NewWorker(mapper.Config{JS: b.JS, Job: job, Slots: 2, SpillDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		b.Close()
	})
	return b
}

func publishTask(t *testing.T, js jetstream.JetStream, data []byte) {
	t.Helper()
	if _, err := js.Publish(context.Background(), schema.TaskSubject("w1"), data); err != nil {
		t.Fatal(err)
	}
}

// nextResult waits for the next message on the job's results stream.
func nextResult(t *testing.T, it jetstream.MessagesContext) jetstream.Msg {
	t.Helper()
	m, err := it.Next(jetstream.NextMaxWait(20 * time.Second))
	if err != nil {
		t.Fatalf("waiting for a result: %v", err)
	}
	return m
}

func results(t *testing.T, js jetstream.JetStream) jetstream.MessagesContext {
	t.Helper()
	c, err := js.OrderedConsumer(context.Background(), schema.ResultStream("w1"), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(it.Stop)
	return it
}

func TestWorkerRunsInlineTask(t *testing.T) {
	t.Parallel()
	b, _ := startWorker(t, 0, "tr", "a-z", "A-Z")
	it := results(t, b.JS)
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 4, Inline: []byte("abc\n")})
	publishTask(t, b.JS, data)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 4 || string(r.Payload) != "ABC\n" || r.Err != nil || r.Worker != "test" || r.BytesIn != 4 {
		t.Fatalf("got result %+v", r)
	}
}

func TestWorkerDeadLettersMalformedTask(t *testing.T) {
	t.Parallel()
	b, _ := startWorker(t, 0, "cat")
	it := results(t, b.JS)
	publishTask(t, b.JS, []byte("this is not msgpack"))
	m := nextResult(t, it)
	if m.Subject() != schema.MalformedSubject("w1") || !strings.Contains(string(m.Data()), "malformed") {
		t.Fatalf("got %s: %q, want a malformed-message record", m.Subject(), m.Data())
	}
	// The worker keeps running: a good task after the garbage completes.
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Inline: []byte("x\n")})
	publishTask(t, b.JS, data)
	if r, err := schema.DecodeResult(nextResult(t, it).Data()); err != nil || string(r.Payload) != "x\n" {
		t.Fatalf("after a malformed task: %+v, %v", r, err)
	}
}

func TestWorkerLeavesNewerVersionTask(t *testing.T) {
	t.Parallel()
	b, _ := startWorker(t, 0, "cat")
	it := results(t, b.JS)
	newer, _ := msgpack.Marshal(map[string]any{"v": schema.Version + 1, "job": "w1", "i": 9})
	publishTask(t, b.JS, newer)
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 1, Inline: []byte("y\n")})
	publishTask(t, b.JS, data)
	if r, err := schema.DecodeResult(nextResult(t, it).Data()); err != nil || r.Index != 1 {
		t.Fatalf("got %+v, %v; want the result of task 1 only", r, err)
	}
	// The newer task stays in the work queue for a worker that knows it,
	// once task 1 is acknowledged (just after its result is stored).
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := b.JS.Stream(context.Background(), schema.TaskStream("w1"))
		if err != nil {
			t.Fatal(err)
		}
		n := info.CachedInfo().State.Msgs
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task stream holds %d messages, want only the newer task", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerRetriesThenFails(t *testing.T) {
	t.Parallel()
	b, _ := startWorker(t, 2, "sh", "-c", "echo boom >&2; exit 7")
	it := results(t, b.JS)
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 3, Inline: []byte("z\n")})
	publishTask(t, b.JS, data)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err == nil || r.Err.ExitStatus != 7 || r.Attempt != 3 || !strings.Contains(r.Err.StderrTail, "boom") {
		t.Fatalf("got %+v (err %+v), want a failure after 3 attempts with exit 7 and stderr", r, r.Err)
	}
}

func TestWorkerTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "child-survived")
	// The command starts a child that would write the marker after 1 s; the
	// timeout must kill it with its parent.
	script := "(sleep 1; touch " + marker + ") & sleep 60"
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"sh", "-c", script}, Partitions: 1,
		TimeoutNanos: int64(300 * time.Millisecond)}
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	job, _ := mapper.ResolveJob(rec, nil)
	w, err := mapper.NewWorker(mapper.Config{JS: b.JS, Job: job, Slots: 1, SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	it := results(t, b.JS)
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Inline: []byte("q\n")})
	publishTask(t, b.JS, data)
	start := time.Now()
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err == nil || !strings.Contains(r.Err.Message, "timed out") {
		t.Fatalf("got %+v, want a timeout failure", r.Err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the timeout took %s", d)
	}
	time.Sleep(2 * time.Second) // past the moment the child would have written
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the command's child outlived the timeout (marker: %v)", err)
	}
}

func TestWorkerWaitsForFreeMemory(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"cat"}, Partitions: 1}
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	job, _ := mapper.ResolveJob(rec, nil)
	var plenty atomic.Bool
	w, err := mapper.NewWorker(mapper.Config{
		JS: b.JS, Job: job, Slots: 1, SpillDir: t.TempDir(), MemFree: 1 << 30,
		Memory: func() (int64, error) {
			if plenty.Load() {
				return 2 << 30, nil
			}
			return 1 << 20, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	it := results(t, b.JS)
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Inline: []byte("m\n")})
	publishTask(t, b.JS, data)
	if m, err := it.Next(jetstream.NextMaxWait(time.Second)); err == nil {
		t.Fatalf("a task ran while memory was short: %s", m.Data())
	}
	plenty.Store(true)
	if r, err := schema.DecodeResult(nextResult(t, it).Data()); err != nil || string(r.Payload) != "m\n" {
		t.Fatalf("after memory freed: %+v, %v", r, err)
	}
}
