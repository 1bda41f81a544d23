package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// Run validates cfg, runs the job to the end and returns its report. The
// report is returned with ErrTasksFailed too.
func Run(ctx context.Context, cfg Config) (*reducer.Report, error) {
	start := time.Now()
	p, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return p.run(ctx, b, start)
}

func (p *plan) run(ctx context.Context, b *broker.Broker, start time.Time) (*reducer.Report, error) {
	log := p.cfg.Logger.With().Str("job", p.record.ID).Logger()
	jobs, err := b.Jobs(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", broker.ErrUnreachable, err)
	}
	if err := createRecord(ctx, jobs, p.record); err != nil {
		return nil, err
	}
	if _, err := b.ProvisionJob(ctx, p.record.ID, broker.ProvisionOptions{}); err != nil {
		return nil, fmt.Errorf("%w: %v", broker.ErrUnreachable, err)
	}
	spillDir, err := p.spillDir()
	if err != nil {
		return nil, err
	}
	sink, err := p.newSink(spillDir)
	if err != nil {
		return nil, err
	}
	log.Info().Int("inputs", len(p.inputs)).Int64("bytes", p.total).Int64("chunk_size", p.cfg.ChunkSize).
		Int("slots", p.cfg.Slots).Msg("job starting")

	stats, runErr := p.execute(ctx, b, sink, spillDir, start)
	cleanupErr := p.cleanup(b, jobs, spillDir, stats, runErr)
	if runErr != nil {
		return nil, runErr
	}
	report := stats.Report(p.record.ID, p.record.Kind)
	if len(stats.Dead) > 0 {
		return report, &TasksFailedError{Job: p.record.ID, Dead: stats.Dead}
	}
	return report, cleanupErr
}

// execute runs splitter, workers and reducer until the reducer has merged
// every task.
func (p *plan) execute(ctx context.Context, b *broker.Broker, sink reducer.Sink, spillDir string, start time.Time) (*reducer.Stats, error) {
	window := semaphore.NewWeighted(int64(p.cfg.Window))
	total := make(chan uint64, 1)
	red, err := reducer.New(reducer.Config{
		JS: b.JS, Job: p.record, Sink: sink, Total: total, Start: start,
		Retired: func(n int) { window.Release(int64(n)) },
		Logger:  p.cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	worker, err := mapper.NewWorker(mapper.Config{
		JS: b.JS, Job: p.job, Slots: p.cfg.Slots, SpillDir: spillDir, Logger: p.cfg.Logger,
		SyncSpills: p.cfg.Broker.Sync == broker.SyncAlways,
	})
	if err != nil {
		return nil, err
	}

	g, gctx := errgroup.WithContext(ctx)
	workCtx, stopWork := context.WithCancel(gctx)
	defer stopWork()
	var stats *reducer.Stats
	g.Go(func() error {
		defer stopWork()
		var err error
		stats, err = red.Run(gctx)
		return err
	})
	g.Go(func() error { return worker.Run(workCtx) })
	g.Go(func() error {
		n, err := publishTasks(workCtx, b.JS, p, window)
		if err != nil {
			if workCtx.Err() != nil && gctx.Err() == nil {
				return nil // the reducer finished first; nothing is lost
			}
			return err
		}
		total <- n
		return nil
	})
	err = g.Wait()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return stats, err
}

// spillDir is where workers of this process put large outputs.
func (p *plan) spillDir() (string, error) {
	base := p.cfg.Broker.StoreDir
	if base == "" && p.cfg.Broker.URL == "" {
		var err error
		if base, err = broker.DefaultStoreDir(); err != nil {
			return "", err
		}
	}
	if base == "" {
		base = filepath.Join(os.TempDir(), "jetmr")
	}
	dir := filepath.Join(base, "spill", p.record.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating spill directory %s: %w", dir, err)
	}
	return dir, nil
}

func (p *plan) newSink(spillDir string) (reducer.Sink, error) {
	if p.record.Kind == schema.KindPipe {
		if p.record.Output == "" {
			out := p.cfg.Stdout
			if out == nil {
				out = os.Stdout
			}
			return reducer.NewOrderedStreamSink(out), nil
		}
		return reducer.NewOrderedFileSink(p.record.Output)
	}
	return reducer.NewKeyedSink(reducer.KeyedConfig{
		Dir: p.record.Output, Partitions: p.record.Partitions,
		Fold: p.job.Combiner, ReduceCommand: p.record.ReduceCommand,
		WorkDir: filepath.Join(spillDir, "runs"),
	})
}

func createRecord(ctx context.Context, jobs jetstream.KeyValue, rec schema.JobRecord) error {
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		return err
	}
	if _, err := jobs.Create(ctx, rec.ID, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return badInput("job %s already exists: choose another --job", rec.ID)
		}
		return fmt.Errorf("%w: recording job %s: %v", broker.ErrUnreachable, rec.ID, err)
	}
	return nil
}

// cleanup removes the job's streams and spill files once it ended, and
// records its final state.
func (p *plan) cleanup(b *broker.Broker, jobs jetstream.KeyValue, spillDir string, stats *reducer.Stats, runErr error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := p.record
	rec.State = schema.StateDone
	if runErr != nil || (stats != nil && len(stats.Dead) > 0) {
		rec.State = schema.StateFailed
	}
	if stats != nil {
		rec.Tasks = uint64(stats.Tasks())
	}
	var errs []error
	if data, err := schema.EncodeJobRecord(rec); err == nil {
		if _, err := jobs.Put(ctx, rec.ID, data); err != nil {
			errs = append(errs, fmt.Errorf("recording the end of job %s: %w", rec.ID, err))
		}
	}
	if err := b.DeleteJob(ctx, rec.ID); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(spillDir); err != nil {
		errs = append(errs, fmt.Errorf("removing spill files: %w", err))
	}
	return errors.Join(errs...)
}
