package reducer

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// KVCheckpoints keeps a job's output checkpoint in its jobs bucket.
type KVCheckpoints struct {
	KV  jetstream.KeyValue
	Job string
}

var _ Checkpointer = KVCheckpoints{}

// Load implements [Checkpointer].
func (k KVCheckpoints) Load(ctx context.Context) (schema.OutputCheckpoint, bool, error) {
	e, err := k.KV.Get(ctx, schema.CheckpointKey(k.Job, schema.CheckpointOutput))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return schema.OutputCheckpoint{}, false, nil
	}
	if err != nil {
		return schema.OutputCheckpoint{}, false, err
	}
	c, err := schema.DecodeOutputCheckpoint(e.Value())
	return c, err == nil, err
}

// Save implements [Checkpointer].
func (k KVCheckpoints) Save(ctx context.Context, c schema.OutputCheckpoint) error {
	data, err := schema.EncodeCheckpoint(&c)
	if err != nil {
		return err
	}
	_, err = k.KV.Put(ctx, schema.CheckpointKey(k.Job, schema.CheckpointOutput), data)
	return err
}
