package job

import (
	"context"
	"os"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// kindOps is what this package does differently for each kind of job.
// What is a property of the kind rather than an action (how it splits,
// what ChunkSize counts, whether its output is ordered) is in
// schema.Kind.Traits instead.
type kindOps struct {
	// prepare checks the kind's own settings, opens what it needs and may
	// set the plan's source; nil for a kind whose source is the input
	// files. It runs before the inputs are resolved.
	prepare func(p *plan, ctx context.Context) error
	// check checks the kind's settings once the job record is filled, and
	// adds the kind's fields to it.
	check func(p *plan) error
	// sink makes the sink that merges the kind's results.
	sink func(s *session, ctx context.Context) (reducer.Sink, error)
}

// kinds is the one place where the package decides by a job's kind.
var kinds = map[schema.Kind]kindOps{
	schema.KindPipe:      {check: (*plan).validatePipe, sink: (*session).orderedSink},
	schema.KindMapReduce: {check: (*plan).validateMapReduce, sink: (*session).keyedSink},
	schema.KindMigrate:   {prepare: (*plan).prepareMigrate, check: (*plan).recordMigration, sink: (*session).countSink},
	schema.KindEach: {
		prepare: func(p *plan, _ context.Context) error { return p.prepareEach() },
		check:   (*plan).validateEach,
		sink:    func(s *session, _ context.Context) (reducer.Sink, error) { return s.newEachSink() },
	},
}

// opsOf returns the operations of kind, or bad input naming the kinds.
func opsOf(kind schema.Kind) (kindOps, error) {
	ops, ok := kinds[kind]
	if !ok {
		names := make([]string, len(schema.Kinds))
		for i, k := range schema.Kinds {
			names[i] = string(k)
		}
		return kindOps{}, badSetting("Config.Kind", "job kind %q is not valid: use %s", kind, strings.Join(names, ", "))
	}
	return ops, nil
}

// prepareMigrate opens a migrate job's database and checks its spec.
func (p *plan) prepareMigrate(ctx context.Context) error {
	if m := p.cfg.Migration; m != nil && strings.HasPrefix(m.DB, "sqlite:") && p.local == 0 {
		return badInput("a SQLite database is a file on this machine, which jetmr workers elsewhere cannot open: run the batches here with Config.LocalWorkers N, or migrate a PostgreSQL database")
	}
	if err := p.openMigration(ctx); err != nil {
		return err
	}
	if p.cfg.ChunkSize == 0 {
		p.cfg.ChunkSize = DefaultBatchRows
	}
	return nil
}

// recordMigration adds a migrate job's spec to its record. A SQLite
// migration runs in this process only: a jetmr worker elsewhere would
// open a file of its own machine at the same path, if there is one, and
// migrate that one.
func (p *plan) recordMigration() error {
	m := p.cfg.Migration
	p.record.DB, p.record.Table, p.record.Key, p.record.Where, p.record.SQL = m.DB, m.Table, m.Key, m.Where, m.SQL
	p.record.MigrationRun = newMigrationRun(p.record.Created)
	p.record.LocalOnly = strings.HasPrefix(m.DB, "sqlite:")
	return nil
}

// newSink makes the sink of the job's kind.
func (s *session) newSink(ctx context.Context) (reducer.Sink, error) {
	return kinds[s.record.Kind].sink(s, ctx)
}

func (s *session) countSink(context.Context) (reducer.Sink, error) {
	s.counts = &reducer.CountSink{}
	return s.counts, nil
}

func (s *session) orderedSink(ctx context.Context) (reducer.Sink, error) {
	out := s.cfg.Stdout
	if out == nil {
		out = os.Stdout
	}
	return reducer.NewOrderedSink(ctx, reducer.OrderedConfig{
		Path: s.record.Output, Stream: out, Job: s.record.ID,
		Checkpoints: reducer.KVCheckpoints{KV: s.jobs, Job: s.record.ID},
		Sync:        s.cfg.Broker.Sync == broker.SyncAlways,
	})
}
