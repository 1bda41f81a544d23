package mapper

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// dataStore is a job's object store of shipped chunks and outputs
// (transport "object"), opened on first use. It is safe for concurrent
// use.
type dataStore struct {
	js  jetstream.JetStream
	job string

	mu  sync.Mutex
	obs jetstream.ObjectStore
}

func (d *dataStore) open(ctx context.Context) (jetstream.ObjectStore, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.obs == nil {
		obs, err := d.js.ObjectStore(ctx, schema.DataBucket(d.job))
		if err != nil {
			return nil, fmt.Errorf("opening the object store of job %s: %w", d.job, err)
		}
		d.obs = obs
	}
	return d.obs, nil
}

// get returns an object's bytes; the object store checks its digest.
func (d *dataStore) get(ctx context.Context, name string) ([]byte, error) {
	obs, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obs.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", name, err)
	}
	return data, nil
}

// put stores r's bytes as the object name.
func (d *dataStore) put(ctx context.Context, name string, r io.Reader) error {
	obs, err := d.open(ctx)
	if err != nil {
		return err
	}
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, r); err != nil {
		return fmt.Errorf("storing output object %s: %w", name, err)
	}
	return nil
}
