package mapper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
)

// TestBindConsumer: a consumer is created, and bound again right after it
// was deleted, as a resume does; a request the server refuses (a 4xx: no
// such stream) returns its error.
func TestBindConsumer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "BIND", Subjects: []string{"bind.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	cfg := ConsumerConfig(time.Minute)
	for round := range 5 {
		if _, err := bindConsumer(ctx, b.JS, "BIND", cfg); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := b.JS.DeleteConsumer(ctx, "BIND", cfg.Durable); err != nil {
			t.Fatalf("round %d: deleting: %v", round, err)
		}
	}
	_, err = bindConsumer(ctx, b.JS, "NO_SUCH_STREAM", cfg)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("binding to a missing stream: %v, want ErrStreamNotFound", err)
	}
}
