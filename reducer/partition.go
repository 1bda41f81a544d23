package reducer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/schema"
)

// PartitionConfig configures [RunPartition]: the reduce of one partition
// of a map-reduce job, run apart from the job's other partitions (on a
// worker, say).
type PartitionConfig struct {
	// JS is the JetStream connection. Required.
	JS jetstream.JetStream
	// Job is the job's record. Required.
	Job schema.JobRecord
	// Partition is the partition to reduce, below Job.Partitions.
	Partition int
	// Total is the job's number of tasks: the partition is complete once a
	// result of each task for it is merged. Zero (an empty input) merges
	// nothing and writes the part of no pairs.
	Total uint64
	// Keyed is the sink's configuration. Dir is the folder the temporary
	// part file is written to (it must exist); Job, Partitions and
	// KeepInputs are set by RunPartition.
	Keyed KeyedConfig
	// Merged, when set, is called after each result merged, from
	// RunPartition's goroutine (to send a heartbeat, say).
	Merged func(merged uint64)
}

// PartitionPart is what [RunPartition] wrote.
type PartitionPart struct {
	// Name is the temporary part file's name in the folder Keyed.Dir:
	// ".part-<p>.<nonce>"; [PartFile] tells it from other files.
	Name string
	// Tasks counts the tasks merged; Dropped the malformed messages.
	Tasks, Dropped uint64
	// Counters are what the partition's reduce reported.
	Counters []schema.Counter
}

// partPrefix starts the name of a temporary part file of RunPartition.
const partPrefix = ".part-"

// PartFile reports whether name is a temporary part file RunPartition
// writes (complete or not), and of which partition.
func PartFile(name string) (partition int, ok bool) {
	rest, found := strings.CutPrefix(name, partPrefix)
	if !found {
		return 0, false
	}
	num, _, found := strings.Cut(rest, ".")
	if !found {
		return 0, false
	}
	if _, err := fmt.Sscanf(num, "%d", &partition); err != nil || partition < 0 || fmt.Sprint(partition) != num {
		return 0, false
	}
	return partition, true
}

// RunPartition reduces partition cfg.Partition of a job: it reads the
// partition's results subject from its first message, merges one result
// per task index (duplicates, a redelivered task's or a backup's, are
// dropped as the [Reducer] drops them), and once Total tasks are merged
// writes the part file under a temporary name of its own in cfg.Keyed.Dir.
// Nothing else is written there: a run that fails or is cancelled removes
// what it wrote, and one killed leaves a temporary name that is never a
// complete part's, which the committing process removes.
//
// The results' own files (spill files) are kept: a second run of the same
// partition (the first one's process died before the part was recorded)
// reads them again.
//
// A failure result of a task is not counted: the job fails, and whoever
// runs RunPartition cancels ctx.
func RunPartition(ctx context.Context, cfg PartitionConfig) (PartitionPart, error) {
	parts := max(cfg.Job.Partitions, 1)
	if cfg.JS == nil || cfg.Partition < 0 || cfg.Partition >= parts {
		return PartitionPart{}, fmt.Errorf("reducer.RunPartition: JS and a partition below %d are required", parts)
	}
	nonce := make([]byte, 8)
	rand.Read(nonce)
	name := fmt.Sprintf("%s%d.%s", partPrefix, cfg.Partition, hex.EncodeToString(nonce))
	kc := cfg.Keyed
	folder := kc.Dir
	// The sink writes its one part into a directory of its own, named like
	// the part with a suffix, next to which its temporary directory lies.
	kc.Dir = filepath.Join(folder, name+".d")
	kc.Job = cfg.Job.ID
	kc.Partitions = 1
	kc.keepInputs = true
	if kc.Counters == nil {
		kc.Counters = &counter.Set{}
	}
	if kc.WorkDir == "" {
		// Made here, not by the sink, which would make the folder too: a
		// folder removed by the commit (or a failed job) stays removed.
		kc.WorkDir = filepath.Join(folder, name+".runs")
		if err := os.Mkdir(kc.WorkDir, 0o700); err != nil {
			return PartitionPart{}, fmt.Errorf("creating the work folder of partition %d: %w", cfg.Partition, err)
		}
	}
	sink, err := NewKeyedSink(kc)
	if err != nil {
		return PartitionPart{}, err
	}
	out := PartitionPart{Name: name}
	err = mergePartition(ctx, cfg, sink, &out)
	if err != nil {
		return PartitionPart{}, errors.Join(err, sink.Suspend(context.WithoutCancel(ctx)), os.RemoveAll(kc.WorkDir))
	}
	if err := sink.Commit(ctx, false); err != nil {
		return PartitionPart{}, errors.Join(err, os.RemoveAll(kc.Dir), os.RemoveAll(kc.WorkDir))
	}
	os.RemoveAll(kc.WorkDir)
	path := filepath.Join(folder, name)
	if err := os.Rename(filepath.Join(kc.Dir, PartName(0)), path); err != nil {
		return PartitionPart{}, errors.Join(fmt.Errorf("moving part %d into %s: %w", cfg.Partition, folder, err), os.RemoveAll(kc.Dir))
	}
	if err := os.Remove(kc.Dir); err != nil {
		return PartitionPart{}, errors.Join(fmt.Errorf("removing %s: %w", kc.Dir, err), os.Remove(path))
	}
	crashpoint.Hit("reduce.written")
	out.Counters = kc.Counters.List()
	return out, nil
}

// mergePartition merges one result per task of the partition into sink
// until cfg.Total tasks are merged.
func mergePartition(ctx context.Context, cfg PartitionConfig, sink *KeyedSink, out *PartitionPart) error {
	stream, err := cfg.JS.Stream(ctx, schema.ResultStream(cfg.Job.ID))
	if err != nil {
		return fmt.Errorf("opening results of job %s: %w", cfg.Job.ID, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schema.ResultSubject(cfg.Job.ID, cfg.Partition)},
	})
	if err != nil {
		return fmt.Errorf("reading results of partition %d of job %s: %w", cfg.Partition, cfg.Job.ID, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("reading results of partition %d of job %s: %w", cfg.Partition, cfg.Job.ID, err)
	}
	quit, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(quit); <-stopped; iter.Stop() }()
	go func() { // owned here: the deferred call above waits for it
		defer close(stopped)
		select {
		case <-ctx.Done():
			iter.Stop() // ends Next
		case <-quit:
		}
	}()
	done := doneSet{above: make(map[uint64]struct{})}
	for out.Tasks < cfg.Total {
		m, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading results of partition %d of job %s: %w", cfg.Partition, cfg.Job.ID, err)
		}
		res, err := schema.DecodeResult(m.Data())
		if err == nil && (res.Job != cfg.Job.ID || res.Partition != cfg.Partition) {
			err = fmt.Errorf("%w: result of job %q, partition %d", schema.ErrMalformed, res.Job, res.Partition)
		}
		if err != nil {
			out.Dropped++ // the job's reducer lists it
			continue
		}
		if res.Err != nil || done.has(res.Index) {
			continue
		}
		if res.Object != "" {
			return fmt.Errorf("result of task %d is in object %s: the reduce of one partition reads spill files and inline outputs only (transport %q)", res.Index, res.Object, schema.TransportShared)
		}
		res.Partition = 0 // the sink's one partition
		if _, err := sink.Merge(ctx, &res); err != nil {
			return fmt.Errorf("merging result of task %d: %w", res.Index, err)
		}
		done.add(res.Index)
		out.Tasks++
		crashpoint.Hit("reduce.merged")
		if cfg.Merged != nil {
			cfg.Merged(out.Tasks)
		}
	}
	return nil
}
