package reducer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/schema"
)

// ErrPartitionFailed is the cause of a job whose reduce of a partition,
// run on a worker, failed for good.
var ErrPartitionFailed = errors.New("reduce of a partition failed")

// PartsConfig configures a [PartsSink].
type PartsConfig struct {
	// JS is the JetStream connection. Required.
	JS jetstream.JetStream
	// Job is the job's record. Required.
	Job schema.JobRecord
	// Counters receives the counters the partitions' reduces reported.
	// Optional.
	Counters *counter.Set
	// Sync fsyncs the output folder before and after it is renamed into
	// place.
	Sync bool
	// Replace lets the output replace what exists at Job.Output (--force).
	Replace bool
}

// PartsDir is the folder next to a job's output directory where workers
// write the part files of the partitions they reduce (see
// [RunPartition]): ".<base>.jetmr-<job>.tmp-parts".
func PartsDir(output, job string) string { return TempPath(output, job) + "-parts" }

// PartsSink is the sink of a map-reduce job that reduces its partitions
// on workers (schema.JobRecord.ReduceOnWorkers). It merges nothing
// itself: Merge only counts each task's partitions to retire the task.
// Commit, once every task is complete, publishes a reduce task per
// partition, waits for each partition's done message, and renames the
// part files the messages name into the output directory. The first done
// message of a partition wins; a part file of the same partition written
// by a second worker (its reduce task was delivered again) is removed
// with the parts folder.
type PartsSink struct {
	cfg   PartsConfig
	parts map[uint64]int
	tasks uint64 // tasks complete with every partition merged
}

// NewPartsSink creates the parts folder.
func NewPartsSink(cfg PartsConfig) (*PartsSink, error) {
	if cfg.JS == nil || cfg.Job.Output == "" {
		return nil, errors.New("reducer.NewPartsSink: JS and an output are required")
	}
	if cfg.Counters == nil {
		cfg.Counters = &counter.Set{}
	}
	dir := PartsDir(cfg.Job.Output, cfg.Job.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the parts folder next to %s: %w", cfg.Job.Output, err)
	}
	return &PartsSink{cfg: cfg, parts: make(map[uint64]int)}, nil
}

func (s *PartsSink) partitions() int { return max(s.cfg.Job.Partitions, 1) }

// Merge implements [Sink].
func (s *PartsSink) Merge(_ context.Context, r *schema.Result) (Span, error) {
	s.parts[r.Index]++
	if s.parts[r.Index] < s.partitions() {
		return Span{}, nil
	}
	delete(s.parts, r.Index)
	s.tasks++
	return one(r.Index), nil
}

// Skips implements the reducer's fetch check: the submitter reads no
// output.
func (s *PartsSink) Skips(*schema.Result) bool { return true }

// Fail implements [Sink].
func (s *PartsSink) Fail(_ context.Context, r *schema.Result) (Span, error) {
	return one(r.Index), nil
}

// Suspend implements [Sink]. A resume reduces every partition again, in a
// stage of its own: part files of this run's stage are left in the parts
// folder, which the resume's commit sweeps.
func (s *PartsSink) Suspend(context.Context) error { return nil }

// Commit implements [Sink].
func (s *PartsSink) Commit(ctx context.Context, failed bool) error {
	if failed {
		return s.Suspend(ctx)
	}
	job, parts := s.cfg.Job, s.partitions()
	dir := PartsDir(job.Output, job.ID)
	stage := nuid.Next()
	for p := range parts {
		data, err := schema.EncodeReduceTask(schema.ReduceTask{Job: job.ID, Partition: p, Tasks: s.tasks, Dir: dir, Stage: stage})
		if err != nil {
			return err
		}
		m := &nats.Msg{Subject: schema.ReduceSubject(job.ID, p), Data: data}
		if _, err := s.cfg.JS.PublishMsg(ctx, m, jetstream.WithMsgID(schema.ReduceMsgID(job.ID, stage, p))); err != nil {
			return fmt.Errorf("publishing the reduce task of partition %d: %w", p, err)
		}
	}
	done, err := s.awaitDone(ctx, stage)
	if errors.Is(err, ErrPartitionFailed) {
		// The job failed; a resume, once the reduce is fixed, reduces
		// every partition again in a new stage.
		return errors.Join(err, os.RemoveAll(dir))
	}
	if err != nil {
		return err
	}
	return s.publish(done)
}

// awaitDone reads the done messages of the job's partitions in reduce
// stage stage until each partition has one, and returns the first of each.
func (s *PartsSink) awaitDone(ctx context.Context, stage string) ([]schema.PartitionDone, error) {
	job, parts := s.cfg.Job, s.partitions()
	stream, err := s.cfg.JS.Stream(ctx, schema.ResultStream(job.ID))
	if err != nil {
		return nil, fmt.Errorf("opening results of job %s: %w", job.ID, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schema.DoneSubjects(job.ID)}})
	if err != nil {
		return nil, fmt.Errorf("reading the done messages of job %s: %w", job.ID, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("reading the done messages of job %s: %w", job.ID, err)
	}
	quit, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(quit); <-stopped; iter.Stop() }()
	go func() { // owned here: the deferred call above waits for it
		defer close(stopped)
		select {
		case <-ctx.Done():
			iter.Stop()
		case <-quit:
		}
	}()
	done := make([]schema.PartitionDone, parts)
	for have := 0; have < parts; {
		m, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("reading the done messages of job %s: %w", job.ID, err)
		}
		d, err := schema.DecodePartitionDone(m.Data())
		if err != nil || d.Job != job.ID || d.Stage != stage || d.Partition >= parts || d.Tasks != s.tasks && d.Err == "" {
			continue // not a done message of this run's partitions
		}
		if d.Err != "" {
			return nil, fmt.Errorf("%w: partition %d on worker %s: %s", ErrPartitionFailed, d.Partition, d.Worker, d.Err)
		}
		if done[d.Partition].Name != "" {
			continue // a second worker's: its file goes with the parts folder
		}
		done[d.Partition] = d
		have++
	}
	return done, nil
}

// publish renames the announced part files into the output directory.
func (s *PartsSink) publish(done []schema.PartitionDone) error {
	job := s.cfg.Job
	dir := PartsDir(job.Output, job.ID)
	tmp := TempPath(job.Output, job.ID)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("removing stale output %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("creating output directory next to %s: %w", job.Output, err)
	}
	for _, d := range done {
		if err := os.Rename(filepath.Join(dir, d.Name), filepath.Join(tmp, PartName(d.Partition))); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("moving the part file of partition %d, written by worker %s, into place: %w", d.Partition, d.Worker, err)
		}
	}
	if s.cfg.Sync {
		if err := syncDir(tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	old := ""
	if _, err := os.Lstat(job.Output); err == nil {
		if !s.cfg.Replace {
			os.RemoveAll(tmp)
			return fmt.Errorf("output directory %s appeared while the job ran: remove it, choose another -o, or add --force to replace it", job.Output)
		}
		old = filepath.Join(filepath.Dir(job.Output), "."+filepath.Base(job.Output)+".jetmr-"+job.ID+".old")
		os.RemoveAll(old)
		if err := os.Rename(job.Output, old); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("moving the old output %s aside: %w", job.Output, err)
		}
	}
	crashpoint.Hit("commit.written")
	if err := os.Rename(tmp, job.Output); err != nil {
		if old != "" {
			os.Rename(old, job.Output)
		}
		return fmt.Errorf("renaming output into %s: %w", job.Output, err)
	}
	crashpoint.Hit("commit.renamed")
	for _, d := range done {
		s.cfg.Counters.AddList(d.Counters)
		if d.Status != "" {
			s.cfg.Counters.Status(d.Status)
		}
	}
	var errs []error
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			errs = append(errs, fmt.Errorf("removing the replaced output: %w", err))
		}
	}
	// What is left is what second workers wrote, or began to write: one
	// still writing may add files while the folder is removed, so that is
	// tried twice, and the output, in place, does not fail for it (jetmr
	// discard removes what stays).
	if os.RemoveAll(dir) != nil {
		os.RemoveAll(dir)
	}
	if s.cfg.Sync {
		errs = append(errs, syncDir(filepath.Dir(job.Output)))
	}
	return errors.Join(errs...)
}
