package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// WorkerTTL is how long a worker's heartbeat stays in the workers bucket
// after its last refresh. Workers refresh it several times per TTL.
const WorkerTTL = 15 * time.Second

// Workers opens (creating it if needed) the bucket where running workers
// keep their heartbeats ([schema.WorkersBucket]); entries expire after
// [WorkerTTL].
func (b *Broker) Workers(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      schema.WorkersBucket,
		Description: "jetmr worker heartbeats",
		Storage:     jetstream.MemoryStorage,
		Replicas:    max(replicas, 1),
		History:     1,
		TTL:         WorkerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", schema.WorkersBucket, err)
	}
	return kv, nil
}
