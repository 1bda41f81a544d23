package broker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// DataStore opens, creating it if needed, the object store of a job's
// shipped outputs (transport "object") with the given replicas
// (default: the broker's [Config.Replicas]). Its objects go with the job:
// [Broker.DeleteJob] deletes the bucket.
func (b *Broker) DataStore(ctx context.Context, job string, replicas int) (jetstream.ObjectStore, error) {
	if err := schema.ValidateJobID(job); err != nil {
		return nil, err
	}
	if replicas < 1 {
		replicas = b.replicas
	}
	var obs jetstream.ObjectStore
	err := b.awaitPeers(ctx, replicas, func() (err error) {
		obs, err = b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      schema.DataBucket(job),
			Description: "jetmr chunks and outputs of job " + job,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening the object store of job %s: %w", job, err)
	}
	return obs, nil
}
