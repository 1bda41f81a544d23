package mapper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ReduceConsumerConfig is the configuration of the durable consumer of a
// job's reduce tasks that all workers share: one reduce task at a time
// per delivery, redelivered after ackWait without a heartbeat.
func ReduceConsumerConfig(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       schema.ReducerWorkers,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	}
}

// reduceWorker takes the reduce tasks of a job that reduces its
// partitions on workers (schema.JobRecord.ReduceOnWorkers), one at a
// time, next to the job's [Worker].
type reduceWorker struct {
	js      jetstream.JetStream
	job     *Job
	name    string
	ackWait time.Duration
	memory  int64 // the fold state one partition may hold
	log     zerolog.Logger
}

// run takes reduce tasks until ctx ends. It returns an error wrapping
// [ErrJobGone] when the job's reduce stream is deleted (the job ended).
func (w *reduceWorker) run(ctx context.Context) error {
	id := w.job.Record.ID
	cons, err := bindConsumer(ctx, w.js, schema.ReduceStream(id), ReduceConsumerConfig(w.ackWait))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("binding the reduce tasks of job %s: %w", id, err)
	}
	// A fetch waits at most 2 s, so that the loop sees ctx end.
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("pulling reduce tasks of job %s: %w", id, ErrJobGone)
			}
			return fmt.Errorf("pulling reduce tasks of job %s: %w", id, err)
		}
		for m := range batch.Messages() {
			w.handle(ctx, m)
		}
		cancel()
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrNoHeartbeat) {
				return fmt.Errorf("pulling reduce tasks of job %s: %w: %w", id, ErrJobGone, err)
			}
			w.log.Debug().Err(err).Msg("pulling reduce tasks")
		}
	}
	return nil
}

// handle reduces the partition of one reduce task, announces its part
// file and acknowledges the task. A task this worker cannot read is left
// for good; one interrupted is handed back.
func (w *reduceWorker) handle(ctx context.Context, m jetstream.Msg) {
	t, err := schema.DecodeReduceTask(m.Data())
	if err == nil && (t.Job != w.job.Record.ID || t.Partition >= max(w.job.Record.Partitions, 1)) {
		err = fmt.Errorf("%w: reduce task of job %q, partition %d", schema.ErrMalformed, t.Job, t.Partition)
	}
	if err != nil {
		w.log.Error().Err(err).Msg("dropping a reduce task")
		m.Term()
		return
	}
	log := w.log.With().Int("partition", t.Partition).Logger()
	log.Info().Uint64("tasks", t.Tasks).Msg("reducing partition")
	hctx, stopBeat := context.WithCancel(ctx)
	beat := make(chan struct{})
	go func() { // owned here: waited for below
		defer close(beat)
		tick := time.NewTicker(w.ackWait / 3)
		defer tick.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-tick.C:
				if err := m.InProgress(); err != nil {
					log.Debug().Err(err).Msg("sending reduce task heartbeat")
				}
			}
		}
	}()
	part, err := reducer.RunPartition(ctx, reducer.PartitionConfig{
		JS: w.js, Job: w.job.Record, Partition: t.Partition, Total: t.Tasks, Keyed: w.keyed(t.Dir),
	})
	stopBeat()
	<-beat
	if ctx.Err() != nil {
		m.Nak() // another worker, or this one again, reduces it
		return
	}
	done := schema.PartitionDone{Job: t.Job, Partition: t.Partition, Worker: w.name, Tasks: t.Tasks, Stage: t.Stage}
	if err != nil {
		log.Error().Err(err).Msg("reducing partition failed")
		done.Err = err.Error()
	} else {
		done.Name, done.Counters, done.Status = part.Name, part.Counters, part.Status
		if fi, err := os.Stat(filepath.Join(t.Dir, part.Name)); err == nil {
			done.BytesOut = fi.Size()
		}
	}
	data, err := schema.EncodePartitionDone(done)
	if err == nil {
		msg := &nats.Msg{Subject: schema.DoneSubject(t.Job, t.Partition), Data: data}
		_, err = w.js.PublishMsg(ctx, msg, jetstream.WithMsgID(schema.DoneMsgID(t.Job, t.Stage, t.Partition)))
	}
	if err != nil {
		// Not announced: the task is delivered again after AckWait, and
		// the part file written goes with the parts folder.
		log.Warn().Err(err).Msg("announcing the reduced partition")
		m.Nak()
		return
	}
	if err := m.Ack(); err != nil {
		log.Debug().Err(err).Msg("acknowledging the reduce task")
	}
	log.Info().Str("part", done.Name).Msg("partition reduced")
}

// keyed is the sink configuration of one partition, as the job's
// submitter would merge it.
func (w *reduceWorker) keyed(dir string) reducer.KeyedConfig {
	rec := w.job.Record
	return reducer.KeyedConfig{
		Dir: dir, Fold: w.job.Combiner, ReduceCommand: rec.ReduceCommand, CommandDir: w.job.Dir, OkExit: rec.OkExit, ReduceFunc: w.job.Reduce,
		Keys: rec.Keys(), MapOnly: rec.Reduce == schema.ReduceNone, Memory: w.memory,
	}
}
