package mapper_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// waitFor polls cond until it holds or 30s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPoolDrainTimeout: a pool stopped while a task runs past its drain
// timeout hands the task back unacknowledged, and Run returns nil; another
// pool then runs it at once (the ack wait is far longer than the test).
func TestPoolDrainTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mark := filepath.Join(t.TempDir(), "started")
	script := "if [ -e " + mark + " ]; then cat; else touch " + mark + "; sleep 60; fi"
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"sh", "-c", script}, Partitions: 1, State: schema.StateRunning}
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.Jobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := schema.EncodeJobRecord(rec)
	if _, err := jobs.Put(ctx, rec.ID, data); err != nil {
		t.Fatal(err)
	}
	task, _ := schema.EncodeTask(schema.Task{Job: rec.ID, Index: 0, Inline: []byte("x\n")})
	if _, err := b.JS.Publish(ctx, schema.TaskSubject(rec.ID), task); err != nil {
		t.Fatal(err)
	}
	runPool := func(ctx context.Context) chan error {
		pool, err := mapper.NewPool(mapper.PoolConfig{
			Broker: b, Slots: 1, SpillDir: t.TempDir(), DrainTimeout: 100 * time.Millisecond, AckWait: 10 * time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- pool.Run(ctx) }()
		return done
	}
	firstCtx, stopFirst := context.WithCancel(ctx)
	first := runPool(firstCtx)
	waitFor(t, "the task to start", func() bool { _, err := os.Stat(mark); return err == nil })
	stopFirst()
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("Run after stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pool did not stop after its drain timeout")
	}
	secondCtx, stopSecond := context.WithCancel(ctx)
	second := runPool(secondCtx)
	defer func() { stopSecond(); <-second }()
	it := results(t, b.JS)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil || string(r.Payload) != "x\n" || r.Attempt != 2 {
		t.Errorf("result %+v, want the second attempt's output", r)
	}
}
