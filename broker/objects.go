package broker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// DataStore opens, creating it if needed, the object store of a job's
// shipped chunks and outputs (transport "object"). Its objects go with the
// job: [Broker.DeleteJob] deletes the bucket.
func (b *Broker) DataStore(ctx context.Context, job string, replicas int) (jetstream.ObjectStore, error) {
	if err := schema.ValidateJobID(job); err != nil {
		return nil, err
	}
	obs, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      schema.DataBucket(job),
		Description: "jetmr chunks and outputs of job " + job,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the object store of job %s: %w", job, err)
	}
	return obs, nil
}
