package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// ErrUnknownJob means the broker holds no record of the job asked about.
// It is wrapped together with [ErrBadInput].
var ErrUnknownJob = errors.New("unknown job")

// Status is what the broker knows about a job while it runs or after it
// ended (jetmr status).
type Status struct {
	Record schema.JobRecord
	// Published is how many tasks were put in the task stream; Queued of
	// them are still there (waiting, running or waiting for a retry), of
	// which InFlight are held by workers now. Done = Published - Queued.
	Published, Queued, InFlight, Done uint64
	// Dead counts the dead letters of the current retry round; Malformed
	// the task messages no worker could decode.
	Dead, Malformed int
	// DeadLetters lists the dead letters, filled by [JobStatus] only.
	DeadLetters []report.DeadLetter
}

// Jobs lists the status of every job recorded in the broker, oldest first.
func Jobs(ctx context.Context, b *broker.Broker) ([]Status, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	w, err := kv.Watch(ctx, "*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("%w: listing jobs: %w", broker.ErrUnreachable, err)
	}
	defer w.Stop()
	var out []Status
	for e := range w.Updates() {
		if e == nil {
			break // every current record seen
		}
		rec, err := schema.DecodeJobRecord(e.Value())
		if err != nil {
			continue
		}
		st := Status{Record: rec}
		if err := st.count(ctx, b, false); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int { return int(a.Record.Created - b.Record.Created) })
	return out, nil
}

// JobStatus is the status of one job, with its dead letters.
func JobStatus(ctx context.Context, b *broker.Broker, id string) (Status, error) {
	kv, err := b.Jobs(ctx, 0)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Status{}, badInput("%w %s: nothing is recorded under that ID on this broker; jetmr status lists the jobs", ErrUnknownJob, id)
	}
	if err != nil {
		return Status{}, fmt.Errorf("%w: loading job %s: %w", broker.ErrUnreachable, id, err)
	}
	rec, err := schema.DecodeJobRecord(e.Value())
	if err != nil {
		return Status{}, fmt.Errorf("loading job %s: %w", id, err)
	}
	st := Status{Record: rec}
	return st, st.count(ctx, b, true)
}

// Workers lists the workers with a fresh heartbeat, by name.
func Workers(ctx context.Context, b *broker.Broker) ([]schema.WorkerStatus, error) {
	kv, err := b.Workers(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: listing workers: %w", broker.ErrUnreachable, err)
	}
	var out []schema.WorkerStatus
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue
		}
		if st, err := schema.DecodeWorkerStatus(e.Value()); err == nil {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b schema.WorkerStatus) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// count fills the task counts and dead letters from the job's streams. A
// job whose streams are gone (it completed) counts its recorded tasks done.
func (st *Status) count(ctx context.Context, b *broker.Broker, detail bool) error {
	tasks, err := b.JS.Stream(ctx, schema.TaskStream(st.Record.ID))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		st.Published, st.Done = st.Record.Tasks, st.Record.Tasks
		return nil
	case err != nil:
		return fmt.Errorf("%w: reading the task stream of job %s: %w", broker.ErrUnreachable, st.Record.ID, err)
	}
	info := tasks.CachedInfo().State
	st.Published, st.Queued = info.LastSeq, info.Msgs
	st.Done = st.Published - min(st.Queued, st.Published)
	if c, err := tasks.Consumer(ctx, schema.MapperConsumer); err == nil {
		st.InFlight = uint64(c.CachedInfo().NumAckPending)
	}
	results, err := b.JS.Stream(ctx, schema.ResultStream(st.Record.ID))
	if err != nil {
		return nil // not provisioned yet, or being deleted
	}
	if ri, err := results.Info(ctx, jetstream.WithSubjectFilter(schema.MalformedSubject(st.Record.ID))); err == nil {
		st.Malformed = int(ri.State.Msgs)
	}
	part0 := schema.ResultSubject(st.Record.ID, 0)
	ri, err := results.Info(ctx, jetstream.WithSubjectFilter(part0))
	if err != nil || ri.State.Subjects[part0] == 0 {
		return nil
	}
	return st.deadLetters(ctx, b.JS, ri.State.Subjects[part0], detail)
}

// deadLetters scans the failure results of partition 0 (headers only unless
// detail asks for the dead letters themselves).
func (st *Status) deadLetters(ctx context.Context, js jetstream.JetStream, total uint64, detail bool) error {
	cons, err := js.OrderedConsumer(ctx, schema.ResultStream(st.Record.ID), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schema.ResultSubject(st.Record.ID, 0)},
		HeadersOnly:    !detail,
	})
	if err != nil {
		return fmt.Errorf("%w: reading the results of job %s: %w", broker.ErrUnreachable, st.Record.ID, err)
	}
	round := strconv.Itoa(st.Record.Round)
	seen := map[uint64]bool{}
	for read := uint64(0); read < total; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("%w: reading the results of job %s: %w", broker.ErrUnreachable, st.Record.ID, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if m.Headers().Get(schema.FailedHeader) != round {
				continue
			}
			st.Dead++
			if !detail {
				continue
			}
			r, err := schema.DecodeResult(m.Data())
			if err != nil || r.Err == nil || seen[r.Index] {
				continue
			}
			seen[r.Index] = true
			st.DeadLetters = append(st.DeadLetters, report.DeadLetter{
				Index: r.Index, Attempts: r.Attempt, Worker: r.Worker, Path: r.Path, Offset: r.Offset, Length: r.Length, Error: *r.Err,
			})
		}
		if n == 0 {
			return nil
		}
		read += uint64(n)
	}
	return nil
}
