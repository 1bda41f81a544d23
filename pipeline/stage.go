package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// stage parses one entry of stages: its name, depends_on and exactly one
// kind. Options the stage's kind does not set come from defaults. It
// returns the stage as far as it could be read (nil without a name) and
// its problems, joined.
func (p *parser) stage(n *yaml.Node, defaults StageOptions) (*Stage, error) {
	s := &Stage{Line: n.Line, pos: map[string]int{}, failed: map[string]bool{}}
	s.Name = peekName(n) // for messages about fields before the name
	var given []string   // kinds, in file order
	var second *yaml.Node
	kindSetter := func(kind string) setter {
		return func(v *yaml.Node) error {
			if given = append(given, kind); len(given) == 2 {
				second = p.key
			}
			s.pos[kind] = p.key.Line
			return p.kind(s, kind, v, defaults)
		}
	}
	err := p.mapping(n, "a stage", map[string]setter{
		"name": func(v *yaml.Node) error {
			s.pos["name"] = p.key.Line
			return p.scalar(&s.Name)(v)
		},
		"depends_on": func(v *yaml.Node) error {
			s.pos["depends_on"] = p.key.Line
			return p.list(&s.DependsOn, true)(v)
		},
		string(schema.KindPipe):      kindSetter(string(schema.KindPipe)),
		string(schema.KindMapReduce): kindSetter(string(schema.KindMapReduce)),
		string(schema.KindEach):      kindSetter(string(schema.KindEach)),
		string(schema.KindMigrate):   kindSetter(string(schema.KindMigrate)),
	}, nil)
	problems := []error{err}
	if n.Kind != yaml.MappingNode {
		return nil, err
	}
	what := "a stage"
	if s.Name != "" {
		what = "stage " + s.Name
	}
	switch {
	case len(given) == 0:
		s.broken = true
		problems = append(problems, p.errorf(n, "%s has no kind: give one of %s", what, strings.Join(kinds, ", ")))
	case len(given) > 1:
		s.broken = true
		problems = append(problems, p.errorf(second, "%s has two kinds, %s and %s: give one per stage", what, given[0], given[1]))
	}
	if s.Name == "" {
		// First: the stage's other problems are named after it.
		problems = append([]error{p.errorf(n, "a stage has no name: add name: NAME")}, problems...)
		return nil, joinErrors(slices.DeleteFunc(problems, isNil))
	}
	return s, joinErrors(slices.DeleteFunc(problems, isNil))
}

func isNil(err error) bool { return err == nil }

// peekName returns the name a stage mapping gives, "" if none.
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// kind parses the spec of a stage's kind, and checks its values.
func (p *parser) kind(s *Stage, kind string, n *yaml.Node, defaults StageOptions) error {
	s.Kind = schema.Kind(kind)
	what := kind + " of stage " + s.Name
	if s.Name == "" {
		what = kind
	}
	field := func(name string, set setter) setter {
		return func(v *yaml.Node) error {
			s.pos[kind+"."+name] = p.key.Line
			err := set(v)
			if err != nil {
				s.failed[kind+"."+name] = true
			}
			return err
		}
	}
	var fields map[string]setter
	opts := defaults
	setOpts := func() {}
	key := p.key // the line of the kind's name, for messages
	var required []string
	// The one place where a stage's kind decides: which spec it has.
	switch s.Kind {
	case schema.KindPipe:
		spec := &PipeSpec{}
		s.Pipe = spec
		fields = map[string]setter{
			"input":   field("input", p.list(&spec.Input, true)),
			"output":  field("output", p.scalar(&spec.Output)),
			"command": field("command", p.list(&spec.Command, false)),
		}
		p.recordFields(fields, &spec.RecordSpec, field, true)
		required = []string{"input", "command"}
		setOpts = func() { spec.StageOptions = opts }
	case schema.KindMapReduce:
		spec := &MapReduceSpec{Partitions: 1, KeyFields: 1}
		s.MapReduce = spec
		fields = map[string]setter{
			"input":            field("input", p.list(&spec.Input, true)),
			"output":           field("output", p.scalar(&spec.Output)),
			"map":              field("map", p.scalar(&spec.Map)),
			"reduce":           field("reduce", p.scalar(&spec.Reduce)),
			"partitions":       field("partitions", p.integer(&spec.Partitions)),
			"combiner":         field("combiner", p.scalar(&spec.Combiner)),
			"key_fields":       field("key_fields", p.integer(&spec.KeyFields)),
			"partition_fields": field("partition_fields", p.integer(&spec.PartitionFields)),
			"key_order":        field("key_order", p.scalar(&spec.KeyOrder)),
		}
		p.recordFields(fields, &spec.RecordSpec, field, false)
		required = []string{"input", "output", "map", "reduce"}
		setOpts = func() { spec.StageOptions = opts }
	case schema.KindEach:
		spec := &EachSpec{}
		s.Each = spec
		fields = map[string]setter{
			"items":      field("items", p.list(&spec.Items, false)),
			"items_file": field("items_file", p.scalar(&spec.ItemsFile)),
			"command":    field("command", p.list(&spec.Command, false)),
			"dir":        field("dir", p.scalar(&spec.Dir)),
			"shell":      field("shell", p.boolean(&spec.Shell)),
			"keep_order": field("keep_order", p.boolean(&spec.KeepOrder)),
			"join":       field("join", p.list(&spec.Join, false)),
		}
		required = []string{"command"}
		setOpts = func() { spec.StageOptions = opts }
	case schema.KindMigrate:
		spec := &MigrateSpec{}
		s.Migrate = spec
		fields = map[string]setter{
			"db":         field("db", p.scalar(&spec.DB)),
			"table":      field("table", p.scalar(&spec.Table)),
			"key":        field("key", p.scalar(&spec.Key)),
			"sql":        field("sql", p.scalar(&spec.SQL)),
			"where":      field("where", p.scalar(&spec.Where)),
			"max_rate":   field("max_rate", p.float(&spec.MaxRate)),
			"pause_when": field("pause_when", p.scalar(&spec.PauseWhen)),
		}
		required = []string{"db", "table", "key", "sql"}
		setOpts = func() { spec.StageOptions = opts }
	}
	more := func(key string) setter {
		if set := p.option(&opts, key); set != nil {
			return field(key, set)
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		s.broken = true // no field of the kind can be known
		return p.mapping(n, what, fields, more)
	}
	problems := []error{p.mapping(n, what, fields, more)}
	setOpts()
	for _, name := range required {
		if _, ok := s.pos[kind+"."+name]; !ok {
			s.failed[kind+"."+name] = true
			problems = append(problems, p.errorf(key, "%s has no %s: add %s: ... (see jetmr %s --help)", what, name, name, kind))
		}
	}
	c := &kindCheck{p: p, s: s, kind: kind, what: what, n: key}
	c.check()
	return joinErrors(slices.DeleteFunc(append(problems, c.problems...), isNil))
}

// kindCheck checks the values of a stage's kind, a problem per field at
// most: a field whose value is missing or could not be read has its
// problem named already, and checks of it are skipped.
type kindCheck struct {
	p        *parser
	s        *Stage
	kind     string
	what     string     // the kind and the stage, for messages
	n        *yaml.Node // the kind's key
	problems []error
}

// at is the node of field, for its line: where the stage gives it, or
// the top-level default it takes.
func (c *kindCheck) at(field string) *yaml.Node {
	if _, ok := c.s.pos[c.kind+"."+field]; !ok && c.p.defaults[field] > 0 {
		return &yaml.Node{Line: c.p.defaults[field]} // a top-level default
	}
	return &yaml.Node{Line: c.s.line(c.kind + "." + field)}
}

// ok reports whether field has no problem yet.
func (c *kindCheck) ok(field string) bool { return !c.s.failed[c.kind+"."+field] }

// errorf adds a problem of field, "KIND of stage NAME: " and the
// message, unless field has one already.
func (c *kindCheck) errorf(field, format string, args ...any) {
	c.problem(field, c.at(field), "%s: "+format, append([]any{c.what}, args...)...)
}

// problem adds a problem of field at node n, unless field has one
// already.
func (c *kindCheck) problem(field string, n *yaml.Node, format string, args ...any) {
	if !c.ok(field) {
		return
	}
	c.s.failed[c.kind+"."+field] = true
	c.problems = append(c.problems, c.p.errorf(n, format, args...))
}

// check checks the common options, then the kind's own fields.
func (c *kindCheck) check() {
	c.checkOptions()
	if _, given := c.s.pos[c.kind+".task_time"]; given && !c.s.Kind.Traits().Adaptive {
		c.errorf("task_time", "task_time sizes chunks of input files and key ranges, not items: use chunk_size (items per task)")
	}
	c.s.spec().check(c)
}

// recordFields adds the fields of a RecordSpec to a kind's fields;
// header_once only for pipe stages.
func (p *parser) recordFields(fields map[string]setter, r *RecordSpec, field func(string, setter) setter, pipe bool) {
	fields["header"] = field("header", p.integer(&r.Header))
	fields["null"] = field("null", p.boolean(&r.Null))
	recend := p.scalar(&r.RecEnd)
	fields["recend"] = field("recend", func(v *yaml.Node) error {
		r.recendSet = true
		return recend(v)
	})
	fields["recstart"] = field("recstart", p.scalar(&r.RecStart))
	fields["format"] = field("format", p.scalar(&r.Format))
	if pipe {
		fields["header_once"] = field("header_once", p.boolean(&r.HeaderOnce))
	}
}

// checkRecords checks a stage's record fields, as jetmr pipe checks its
// flags.
func (c *kindCheck) checkRecords(r RecordSpec) {
	for _, f := range []string{"header", "header_once", "null", "recend", "recstart", "format"} {
		if !c.ok(f) {
			return // the record options are checked together
		}
	}
	recend := r.recendSet
	switch {
	case recend && r.RecEnd == "":
		c.errorf("recend", "recend is empty: give the string that ends each record, e.g. \"\\n\\n\", or drop it for lines")
		return
	case r.Null && recend:
		c.errorf("null", "null ends records with a NUL byte and recend gives another end: give one of them")
		return
	case r.Null && r.Format == splitter.FormatCSV:
		c.errorf("null", "null (NUL-terminated records) and format csv conflict: CSV records end with newlines: drop one of them")
		return
	case r.HeaderOnce && r.Header == 0:
		c.errorf("header_once", "header_once keeps one copy of the header the command prints: give the number of header lines with header: N")
		return
	}
	if err := r.records().Validate(); err != nil {
		field := "format"
		if r.Header < 0 {
			field = "header"
		}
		msg := strings.NewReplacer("--header", "header", "--format", "format", "--recend", "recend", "--recstart", "recstart", "-0", "null").Replace(err.Error())
		c.errorf(field, "%s", msg)
	}
}

// checkOptions checks the values of a stage's common options, each on
// its own.
func (c *kindCheck) checkOptions() {
	o := c.s.Options()
	if o.ChunkSize != "" {
		if unit, counted := chunkUnits[c.s.Kind]; counted {
			if n, err := strconv.ParseInt(o.ChunkSize, 10, 64); err != nil || n < 1 {
				c.errorf("chunk_size", "chunk_size %q is not valid for %s: give a number of %s", o.ChunkSize, c.kind, unit)
			}
		} else if _, err := splitter.ParseSize(o.ChunkSize); err != nil {
			c.errorf("chunk_size", "chunk_size: %v", err)
		}
	}
	if o.MemFree != "" {
		if n, err := splitter.ParseSize(o.MemFree); err != nil {
			c.errorf("memfree", "memfree: %v", strings.Replace(err.Error(), "chunk size", "size", 1))
		} else if err := job.CheckMemFree(n); err != nil {
			msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), job.ErrBadInput.Error()+": "), "--memfree ", "memfree: ")
			c.errorf("memfree", "%s", msg)
		}
	}
	if o.Halt != "" {
		h, err := job.ParseHalt(o.Halt)
		if err == nil && h.When != job.HaltNever && h.When != job.HaltSoon && h.When != job.HaltNow {
			err = fmt.Errorf("halt %q is not valid: use never, soon,fail=N or now,fail=N", o.Halt)
		}
		if err != nil {
			c.errorf("halt", "%s", err)
		}
	}
	if o.Jobs != "" {
		if _, _, err := job.Slots(o.Jobs, job.SlotOptions{}); err != nil {
			c.errorf("jobs", "%s", strings.Replace(err.Error(), "-j ", "jobs ", 1))
		}
	}
}
