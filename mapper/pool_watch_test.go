package mapper_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
	"github.com/jetmr/jetmr/internal/testbuf"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// submitPipeJob writes the record of a one-task pipe job, its streams and
// its task, as a submitter does, and returns an iterator over its results.
func submitPipeJob(t *testing.T, b *broker.Broker, rec schema.JobRecord, input string) jetstream.MessagesContext {
	t.Helper()
	ctx := context.Background()
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.Jobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Put(ctx, rec.ID, data); err != nil {
		t.Fatal(err)
	}
	task, _ := schema.EncodeTask(schema.Task{Job: rec.ID, Index: 0, Inline: []byte(input)})
	if _, err := b.JS.Publish(ctx, schema.TaskSubject(rec.ID), task); err != nil {
		t.Fatal(err)
	}
	c, err := b.JS.OrderedConsumer(ctx, schema.ResultStream(rec.ID), jetstream.OrderedConsumerConfig{})
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

// jobsConsumers lists the consumers of the jobs bucket's stream.
func jobsConsumers(t *testing.T, b *broker.Broker) []string {
	t.Helper()
	s, err := b.JS.Stream(context.Background(), "KV_"+schema.JobsBucket)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	l := s.ConsumerNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestPoolFindsJobsAfterWatchLost: a pool whose watch of the jobs bucket
// lost its consumer on the server for good (here: its recreation failed,
// as after a long stop of the worker process) still takes a job submitted
// afterwards.
func TestPoolFindsJobsAfterWatchLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Jobs(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cfg := mapper.PoolConfig{Broker: b, Slots: 1, SpillDir: t.TempDir()}
	mapper.SetPoolResync(&cfg, 200*time.Millisecond)
	logs, stopPool := runPool(t, cfg)
	defer stopPool()
	var watcher []string
	waitFor(t, "the pool's watch", func() bool { watcher = jobsConsumers(t, b); return len(watcher) == 1 })

	// The bucket's stream goes away with the watch's consumer: the watch
	// notices its consumer is gone after two missed idle heartbeats (5s
	// each), fails to recreate it and gives up. The bucket is then
	// created again, empty.
	if err := b.JS.DeleteStream(ctx, "KV_"+schema.JobsBucket); err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second)
	if _, err := b.Jobs(ctx, 1); err != nil {
		t.Fatal(err)
	}

	wantPoolRunsJob(t, b)
	if want := "restarting the watch of the jobs bucket"; !strings.Contains(logs.String(), want) {
		t.Errorf("logs do not say %q:\n%s", want, logs)
	}
}

// TestPoolLeavesLocalOnlyJob: a pool leaves a job whose tasks run in its
// submitting process only, and says so once; the submitter's own worker
// runs its task.
func TestPoolLeavesLocalOnlyJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"cat"}, Partitions: 1, State: schema.StateRunning, LocalOnly: true}
	it := submitPipeJob(t, b, rec, "x\n")
	logs, stopPool := runPool(t, mapper.PoolConfig{Broker: b, Slots: 2, SpillDir: t.TempDir()})
	defer stopPool()
	waitFor(t, "the pool to leave the job", func() bool { return strings.Contains(logs.String(), "leaving job") })

	job, err := mapper.ResolveJob(rec, mapper.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w, err := mapper.NewWorker(mapper.Config{JS: b.JS, Job: job, Slots: 1, SpillDir: t.TempDir(), Name: "submitter"})
	if err != nil {
		t.Fatal(err)
	}
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(workerCtx) }()
	defer func() { stopWorker(); <-workerDone }()
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil || string(r.Payload) != "x\n" || r.Worker != "submitter" {
		t.Errorf("result %+v, want the task's output from the submitter's worker", r)
	}
	if n := strings.Count(logs.String(), "leaving job"); n != 1 || strings.Contains(logs.String(), "taking tasks of job") {
		t.Errorf("the pool logged leaving the job %d times, want once, and never taking its tasks:\n%s", n, logs)
	}
}

// natsServer starts a NATS server with JetStream on port, keeping its
// state in dir, until the test ends or stop is called.
func natsServer(t *testing.T, port int, dir string) (stop func()) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatalf("NATS server on port %d not ready", port)
	}
	var once sync.Once
	stop = func() { once.Do(func() { s.Shutdown(); s.WaitForShutdown() }) }
	t.Cleanup(stop)
	return stop
}

// TestPoolRewatchesAfterReconnect: a pool whose server restarted starts
// its watch of the jobs bucket again once its connection is back, says
// so, and takes a job submitted afterwards.
func TestPoolRewatchesAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	port, dir := nettest.FreePort(t), t.TempDir()
	stopServer := natsServer(t, port, dir)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	b, err := broker.Open(ctx, broker.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := mapper.PoolConfig{Broker: b, Slots: 1, SpillDir: t.TempDir()}
	mapper.SetPoolResync(&cfg, 200*time.Millisecond)
	logs, stopPool := runPool(t, cfg)
	defer stopPool()
	waitFor(t, "the pool's watch", func() bool { return strings.Contains(logs.String(), "worker waiting for jobs") })
	stopServer()
	natsServer(t, port, dir)
	waitFor(t, "the watch started again", func() bool {
		return strings.Contains(logs.String(), "the connection to NATS was re-established")
	})
	wantPoolRunsJob(t, b)
}

// runPool runs a pool of cfg, which logs into the returned buffer, until
// stop, which reports Run's error.
func runPool(t *testing.T, cfg mapper.PoolConfig) (logs *testbuf.Buffer, stop func()) {
	t.Helper()
	logs = &testbuf.Buffer{}
	cfg.Logger = zerolog.New(logs)
	pool, err := mapper.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	return logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// wantPoolRunsJob submits a pipe job of one task and checks that a pool
// runs it.
func wantPoolRunsJob(t *testing.T, b *broker.Broker) {
	t.Helper()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"cat"}, Partitions: 1, State: schema.StateRunning}
	it := submitPipeJob(t, b, rec, "x\n")
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil || string(r.Payload) != "x\n" {
		t.Errorf("result %+v, want the task's output", r)
	}
}
