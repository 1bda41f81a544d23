package broker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/schema"
)

func TestEmbeddedProvisionAndDelete(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Embedded() {
		t.Fatal("a broker without URL should be embedded")
	}
	streams, err := b.ProvisionJob(ctx, "job1", broker.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := streams.Tasks.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Retention.String() != "WorkQueue" {
		t.Errorf("task stream retention %s, want WorkQueue", info.Config.Retention)
	}
	// Provisioning again with the same configuration is fine (a resumed job).
	if _, err := b.ProvisionJob(ctx, "job1", broker.ProvisionOptions{}); err != nil {
		t.Fatalf("provisioning twice: %v", err)
	}
	// Publishing a task twice with the same message ID stores it once.
	for range 2 {
		if _, err := b.JS.Publish(ctx, schema.TaskSubject("job1"), []byte("x"), jsMsgID(schema.TaskMsgID("job1", 0))); err != nil {
			t.Fatal(err)
		}
	}
	if info, err = streams.Tasks.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("after a duplicate publish: %d messages (err %v), want 1", info.State.Msgs, err)
	}
	if _, err := b.Jobs(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteJob(ctx, "job1"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteJob(ctx, "job1"); err != nil {
		t.Fatalf("deleting a deleted job should be a no-op: %v", err)
	}
}

func TestProvisionRejectsBadJobID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ProvisionJob(ctx, "a.b", broker.ProvisionOptions{}); err == nil {
		t.Fatal("a job ID with a dot was accepted")
	}
}

func TestStoreLockedByAnotherBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	b, err := broker.Open(ctx, broker.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = broker.Open(ctx, broker.Config{StoreDir: dir})
	if !errors.Is(err, broker.ErrStoreBusy) || !strings.Contains(err.Error(), "--store") {
		t.Fatalf("second open of one store: got %v, want ErrStoreBusy naming --store", err)
	}
	b.Close()
	// Once closed, the store is free again.
	b2, err := broker.Open(ctx, broker.Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("reopening a released store: %v", err)
	}
	b2.Close()
}

func TestUnreachableExternal(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := broker.Open(context.Background(), broker.Config{URL: "nats://secret-token@127.0.0.1:1"})
	if !errors.Is(err, broker.ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("the error leaks the token: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up, want < 10s", d)
	}
}

func TestBadSyncPolicy(t *testing.T) {
	t.Parallel()
	if _, err := broker.Open(context.Background(), broker.Config{StoreDir: t.TempDir(), Sync: "sometimes"}); err == nil {
		t.Fatal("an unknown sync policy was accepted")
	}
}

func TestSyncAlways(t *testing.T) {
	t.Parallel()
	b, err := broker.Open(context.Background(), broker.Config{StoreDir: t.TempDir(), Sync: broker.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestProvisionReduceStream: a job that reduces on workers gets a
// work-queue stream of reduce tasks, which DeleteJob removes with the
// others; other jobs get none.
func TestProvisionReduceStream(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plain, err := b.ProvisionJob(ctx, "plain", broker.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Reduce != nil {
		t.Error("a job without reduce on workers got a reduce stream")
	}
	if _, err := b.JS.Stream(ctx, schema.ReduceStream("plain")); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("reduce stream of a plain job: %v, want not found", err)
	}
	streams, err := b.ProvisionJob(ctx, "red", broker.ProvisionOptions{Reduce: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := streams.Reduce.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Retention != jetstream.WorkQueuePolicy || !slices.Equal(info.Config.Subjects, []string{schema.ReduceSubjects("red")}) {
		t.Errorf("reduce stream: retention %s, subjects %q", info.Config.Retention, info.Config.Subjects)
	}
	if err := b.DeleteJob(ctx, "red"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Stream(ctx, schema.ReduceStream("red")); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("reduce stream after DeleteJob: %v, want not found", err)
	}
}
