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
	// Reduce is the work-queue stream of the job's reduce tasks, when
	// ProvisionOptions.Reduce asked for it; nil otherwise.
	Reduce jetstream.Stream
}

// ProvisionOptions tune a job's streams.
type ProvisionOptions struct {
	// Replicas of the streams, 1 or 3 on a cluster. Default: the broker's
	// [Config.Replicas].
	Replicas int
	// Reduce creates the work-queue stream of reduce tasks too, for a job
	// that reduces its partitions on workers.
	Reduce bool
}

// ProvisionJob creates (or finds, with the same configuration) the streams
// of a job.
func (b *Broker) ProvisionJob(ctx context.Context, job string, opts ProvisionOptions) (*JobStreams, error) {
	if err := schema.ValidateJobID(job); err != nil {
		return nil, err
	}
	if opts.Replicas < 1 {
		opts.Replicas = b.replicas
	}
	tasks, err := b.jobStream(ctx, opts.Replicas, jetstream.StreamConfig{
		Name:        schema.TaskStream(job),
		Description: "jetmr tasks of job " + job,
		Subjects:    []string{schema.TaskSubject(job)},
		Retention:   jetstream.WorkQueuePolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("creating task stream of job %s: %w", job, err)
	}
	results, err := b.jobStream(ctx, opts.Replicas, jetstream.StreamConfig{
		Name:        schema.ResultStream(job),
		Description: "jetmr results of job " + job,
		Subjects:    []string{schema.ResultSubjects(job)},
		Retention:   jetstream.LimitsPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("creating result stream of job %s: %w", job, err)
	}
	js := &JobStreams{Tasks: tasks, Results: results}
	if !opts.Reduce {
		return js, nil
	}
	js.Reduce, err = b.jobStream(ctx, opts.Replicas, jetstream.StreamConfig{
		Name:        schema.ReduceStream(job),
		Description: "jetmr reduce tasks of job " + job,
		Subjects:    []string{schema.ReduceSubjects(job)},
		Retention:   jetstream.WorkQueuePolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("creating reduce stream of job %s: %w", job, err)
	}
	return js, nil
}

// jobStream creates or updates a file stream of a job with the given
// replicas and the duplicate window.
func (b *Broker) jobStream(ctx context.Context, replicas int, cfg jetstream.StreamConfig) (s jetstream.Stream, err error) {
	cfg.Storage, cfg.Replicas, cfg.Duplicates = jetstream.FileStorage, replicas, DuplicateWindow
	err = b.awaitPeers(ctx, replicas, func() error {
		s, err = b.JS.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	return s, err
}

// DeleteJob removes a job's streams (its reduce stream too) and its object store. Missing ones
// are not an error.
func (b *Broker) DeleteJob(ctx context.Context, job string) error {
	var errs []error
	for _, name := range []string{schema.TaskStream(job), schema.ResultStream(job), schema.ReduceStream(job), "OBJ_" + schema.DataBucket(job)} {
		if err := b.JS.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("deleting stream %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Jobs opens the bucket of job records, creating it with the given
// replicas (default: the broker's [Config.Replicas]) if needed. An existing
// bucket with fewer replicas is scaled up, never down: a worker or an R1
// job must not weaken what an R3 job asked for.
func (b *Broker) Jobs(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = b.replicas
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      schema.JobsBucket,
		Description: "jetmr job records and checkpoints",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		History:     1,
	}
	kv, err := b.JS.KeyValue(ctx, schema.JobsBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		err = b.awaitPeers(ctx, replicas, func() (err error) {
			kv, err = b.JS.CreateKeyValue(ctx, cfg)
			return err
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // created meanwhile by another process
			kv, err = b.JS.KeyValue(ctx, schema.JobsBucket)
		}
	case err == nil:
		err = b.scaleUp(ctx, "KV_"+schema.JobsBucket, replicas)
	}
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", schema.JobsBucket, err)
	}
	return kv, nil
}

// scaleUp raises a stream's replicas to at least n.
func (b *Broker) scaleUp(ctx context.Context, stream string, n int) error {
	s, err := b.JS.Stream(ctx, stream)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if cfg.Replicas >= n {
		return nil
	}
	cfg.Replicas = n
	_, err = b.JS.UpdateStream(ctx, cfg)
	return err
}

// awaitPeers runs create, again while the cluster has fewer than replicas
// nodes to place it on (a cluster still forming) for up to 15 s.
func (b *Broker) awaitPeers(ctx context.Context, replicas int, create func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := create()
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jsNoSuitablePeers {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: fewer than %d cluster nodes are available for --replicas %d (%v): start the missing nodes, or lower --replicas",
				ErrUnreachable, replicas, replicas, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// jsNoSuitablePeers is JetStream's error code for "no suitable peers for
// placement".
const jsNoSuitablePeers jetstream.ErrorCode = 10005
