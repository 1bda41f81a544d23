package pipeline

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// spec is what differs between the kinds of stage once a stage is
// parsed: each kind's spec (*PipeSpec, *MapReduceSpec, *EachSpec,
// *MigrateSpec) implements it. The kind is decided once, by the key that
// names it in the job file (parser.kind); what is a property of the kind
// rather than of its spec is in schema.Kind.Traits.
type spec interface {
	// check checks the values of the kind's fields, adding a problem of
	// each field found wrong to c.
	check(c *kindCheck)
	// configure fills the kind's part of the stage's job configuration,
	// as the matching command does from its flags.
	configure(r *run, cfg *job.Config) error
	// runsCommand reports whether the tasks run commands rather than
	// built-in functions, for -j auto.
	runsCommand(reg *mapper.Registry) bool
	// work estimates the stage's work from its inputs.
	work(p *Plan, s *StagePlan) float64
	// workText says how much work that is, for the dry run.
	workText(work float64) string
}

var (
	_ spec = (*PipeSpec)(nil)
	_ spec = (*MapReduceSpec)(nil)
	_ spec = (*EachSpec)(nil)
	_ spec = (*MigrateSpec)(nil)
)

// spec returns the stage's spec, nil for a stage without a kind.
func (s *Stage) spec() spec {
	switch {
	case s.Pipe != nil:
		return s.Pipe
	case s.MapReduce != nil:
		return s.MapReduce
	case s.Each != nil:
		return s.Each
	case s.Migrate != nil:
		return s.Migrate
	}
	return nil
}

// chunkUnits describes what chunk_size counts for the kinds whose chunks
// are not bytes.
var chunkUnits = map[schema.Kind]string{schema.KindMigrate: "rows per batch, e.g. 1000", schema.KindEach: "items per task, e.g. 50"}

func (ps *PipeSpec) check(c *kindCheck) {
	if len(ps.Input) == 0 {
		c.errorf("input", "input is empty: give files, directories or stage:NAME")
	}
	if len(ps.Command) == 0 {
		c.errorf("command", "command is empty: give the command as a list, e.g. [tr, a-z, A-Z]")
	} else if err := command.Check(ps.Command); err != nil {
		c.errorf("command", "%v", err)
	}
	c.checkRecords(ps.RecordSpec)
}

func (ps *PipeSpec) configure(r *run, cfg *job.Config) error {
	cfg.Kind, cfg.Command, cfg.Output = schema.KindPipe, ps.Command, ps.Output
	cfg.Records, cfg.HeaderOnce = ps.records(), ps.HeaderOnce
	cfg.Inputs = r.inputs(ps.Input)
	return nil
}

func (*PipeSpec) runsCommand(*mapper.Registry) bool { return true }

func (*PipeSpec) work(p *Plan, s *StagePlan) float64 { return p.inputBytes(s) }

func (*PipeSpec) workText(work float64) string { return humanize.IBytes(uint64(work)) }

func (m *MapReduceSpec) check(c *kindCheck) {
	if len(m.Input) == 0 {
		c.errorf("input", "input is empty: give files, directories or stage:NAME")
	}
	if m.Partitions < 1 {
		c.errorf("partitions", "partitions %d is not valid: use 1 or more", m.Partitions)
	}
	switch {
	case m.KeyFields < 1:
		c.errorf("key_fields", "key_fields %d is not valid: the key is a line's first N TAB-separated fields, N 1 or more (default 1)", m.KeyFields)
	case !c.ok("key_fields"):
		// The next checks count key fields.
	default:
		if m.PartitionFields < 0 || m.PartitionFields > m.KeyFields {
			c.errorf("partition_fields", "partition_fields %d is not valid: %s", m.PartitionFields, job.PartitionFieldsHint(m.KeyFields, "partition_fields", "key_fields"))
		}
		if n := schema.KeyOrderCount(m.KeyOrder); n > m.KeyFields {
			c.errorf("key_order", "key_order %q gives %d orders for %d key fields: give at most %d, one per key field (the last one applies to the fields after it), or raise key_fields to %d", m.KeyOrder, n, m.KeyFields, m.KeyFields, n)
		}
	}
	if _, err := schema.ParseKeyOrder(m.KeyOrder); err != nil {
		c.errorf("key_order", "key_order: %v", err)
	}
	c.checkRecords(m.RecordSpec)
}

func (m *MapReduceSpec) configure(r *run, cfg *job.Config) error {
	cfg.Kind, cfg.Map, cfg.Reduce, cfg.Partitions, cfg.Output = schema.KindMapReduce, m.Map, m.Reduce, m.Partitions, m.Output
	cfg.Combiner, cfg.KeyFields, cfg.PartitionFields, cfg.KeyOrder = m.Combiner, m.KeyFields, m.PartitionFields, m.KeyOrder
	cfg.Records = m.records()
	cfg.Inputs = r.inputs(m.Input)
	return nil
}

func (m *MapReduceSpec) runsCommand(reg *mapper.Registry) bool {
	if reg == nil {
		reg = mapper.NewRegistry()
	}
	_, builtin, _ := reg.Map(m.Map)
	return !builtin
}

func (*MapReduceSpec) work(p *Plan, s *StagePlan) float64 { return p.inputBytes(s) }

func (*MapReduceSpec) workText(work float64) string { return humanize.IBytes(uint64(work)) }

func (e *EachSpec) check(c *kindCheck) {
	if (len(e.Items) == 0) == (e.ItemsFile == "") && c.ok("items") && c.ok("items_file") {
		c.problem("items", c.n, "%s needs exactly one of items (a list) and items_file (one item a line)", c.what)
	}
	if len(e.Command) == 0 {
		c.errorf("command", "command is empty: give the command as a list, e.g. [gofmt, -l, \"{}\"]")
	}
}

func (e *EachSpec) configure(r *run, cfg *job.Config) error {
	spec := *e
	if spec.ItemsFile != "" {
		spec.ItemsFile = r.inputs([]string{spec.ItemsFile})[0] // stage:NAME is that stage's output
	}
	return eachConfig(&spec, cfg)
}

func (*EachSpec) runsCommand(*mapper.Registry) bool { return true }

func (e *EachSpec) work(p *Plan, _ *StagePlan) float64 {
	if e.ItemsFile != "" {
		if name, ok := strings.CutPrefix(e.ItemsFile, StageRef); ok {
			if up := p.byName[name]; up != nil && up.Output() != "" {
				return float64(countLines(up.Output()))
			}
			return 0 // written by that stage: not known before it ran
		}
		return float64(countLines(e.ItemsFile))
	}
	return float64(len(e.Items))
}

func (*EachSpec) workText(work float64) string { return fmt.Sprintf("%.0f items", work) }

func (*MigrateSpec) check(*kindCheck) {}

func (m *MigrateSpec) configure(_ *run, cfg *job.Config) error {
	cfg.Kind = schema.KindMigrate
	cfg.Migration = &job.Migration{DB: m.DB, Table: m.Table, Key: m.Key, SQL: m.SQL, Where: m.Where, MaxRate: m.MaxRate, PauseWhen: m.PauseWhen}
	return nil
}

func (*MigrateSpec) runsCommand(*mapper.Registry) bool { return false }

func (*MigrateSpec) work(*Plan, *StagePlan) float64 { return 1 }

func (m *MigrateSpec) workText(float64) string { return "table " + m.Table }
