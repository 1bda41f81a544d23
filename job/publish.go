package job

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// publishTasks splits the inputs and publishes one task per range, holding
// a place in window for each until the reducer retires it. It returns the
// number of tasks once the server has stored them all.
func publishTasks(ctx context.Context, js jetstream.JetStream, p *plan, window *semaphore.Weighted) (uint64, error) {
	acks := make(chan jetstream.PubAckFuture, 1024)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return awaitAcks(gctx, acks) })
	var n uint64
	g.Go(func() error {
		defer close(acks)
		return splitter.Ranges(gctx, p.inputs, p.cfg.ChunkSize, func(r splitter.Range) error {
			if err := window.Acquire(gctx, 1); err != nil {
				return err
			}
			t := schema.Task{Job: p.record.ID, Index: n, Path: r.Path, Offset: r.Offset, Length: r.Length}
			data, err := schema.EncodeTask(t)
			if err != nil {
				return fmt.Errorf("encoding task %d: %w", n, err)
			}
			msg := &nats.Msg{Subject: schema.TaskSubject(p.record.ID), Data: data}
			fut, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(schema.TaskMsgID(p.record.ID, n)))
			if err != nil {
				return fmt.Errorf("publishing task %d: %w", n, err)
			}
			n++
			select {
			case acks <- fut:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return n, nil
}

// awaitAcks checks that the server stored every published task.
func awaitAcks(ctx context.Context, acks <-chan jetstream.PubAckFuture) error {
	for fut := range acks {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			return fmt.Errorf("publishing a task: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
