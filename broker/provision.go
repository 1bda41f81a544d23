package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/schema"
)

// DuplicateWindow is how long JetStream remembers message IDs to drop
// duplicate publishes of tasks and results.
const DuplicateWindow = 2 * time.Minute

// JobStreams are the JetStream resources of one job.
type JobStreams struct {
	// Tasks is the work-queue stream of outstanding tasks: a task leaves it
	// when a mapper acknowledges it.
	Tasks jetstream.Stream
	// Results keeps every task result until the job is deleted, so that the
	// reducer can replay them.
	Results jetstream.Stream
}

// ProvisionOptions tune a job's streams.
type ProvisionOptions struct {
	// Replicas of the streams, 1 (default) or 3 on a cluster.
	Replicas int
}

// ProvisionJob creates (or finds, with the same configuration) the streams
// of a job.
func (b *Broker) ProvisionJob(ctx context.Context, job string, opts ProvisionOptions) (*JobStreams, error) {
	if err := schema.ValidateJobID(job); err != nil {
		return nil, err
	}
	if opts.Replicas < 1 {
		opts.Replicas = 1
	}
	tasks, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        schema.TaskStream(job),
		Description: "jetmr tasks of job " + job,
		Subjects:    []string{schema.TaskSubject(job)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		Duplicates:  DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("creating task stream of job %s: %w", job, err)
	}
	results, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        schema.ResultStream(job),
		Description: "jetmr results of job " + job,
		Subjects:    []string{schema.ResultSubjects(job)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		Duplicates:  DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("creating result stream of job %s: %w", job, err)
	}
	return &JobStreams{Tasks: tasks, Results: results}, nil
}

// DeleteJob removes a job's streams and its object store. Missing ones
// are not an error.
func (b *Broker) DeleteJob(ctx context.Context, job string) error {
	var errs []error
	for _, name := range []string{schema.TaskStream(job), schema.ResultStream(job), "OBJ_" + schema.DataBucket(job)} {
		if err := b.JS.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("deleting stream %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Jobs opens (creating it if needed) the bucket of job records.
func (b *Broker) Jobs(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      schema.JobsBucket,
		Description: "jetmr job records and checkpoints",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", schema.JobsBucket, err)
	}
	return kv, nil
}
