package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/splitter"
)

// stage parses one entry of stages: its name, depends_on and exactly one
// kind. Options the stage's kind does not set come from defaults.
func (p *parser) stage(n *yaml.Node, defaults StageOptions) (*Stage, error) {
	s := &Stage{Line: n.Line, pos: map[string]int{}}
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
		KindPipe:      kindSetter(KindPipe),
		KindMapReduce: kindSetter(KindMapReduce),
		KindEach:      kindSetter(KindEach),
		KindMigrate:   kindSetter(KindMigrate),
	}, nil)
	if err != nil {
		return nil, err
	}
	what := "a stage"
	if s.Name != "" {
		what = "stage " + s.Name
	}
	switch {
	case s.Name == "":
		return nil, p.errorf(n, "a stage has no name: add name: NAME")
	case len(given) == 0:
		return nil, p.errorf(n, "%s has no kind: give one of %s", what, strings.Join(kinds, ", "))
	case len(given) > 1:
		return nil, p.errorf(second, "%s has two kinds, %s and %s: give one per stage", what, given[0], given[1])
	}
	return s, nil
}

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

// kind parses the spec of a stage's kind.
func (p *parser) kind(s *Stage, kind string, n *yaml.Node, defaults StageOptions) error {
	s.Kind = kind
	what := kind + " of stage " + s.Name
	if s.Name == "" {
		what = kind
	}
	field := func(name string, set setter) setter {
		return func(v *yaml.Node) error {
			s.pos[kind+"."+name] = p.key.Line
			return set(v)
		}
	}
	var fields map[string]setter
	opts := defaults
	setOpts := func() {}
	key := p.key // the line of the kind's name, for messages
	var required []string
	switch kind {
	case KindPipe:
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
	case KindMapReduce:
		spec := &MapReduceSpec{Partitions: 1}
		s.MapReduce = spec
		fields = map[string]setter{
			"input":      field("input", p.list(&spec.Input, true)),
			"output":     field("output", p.scalar(&spec.Output)),
			"map":        field("map", p.scalar(&spec.Map)),
			"reduce":     field("reduce", p.scalar(&spec.Reduce)),
			"partitions": field("partitions", p.integer(&spec.Partitions)),
		}
		p.recordFields(fields, &spec.RecordSpec, field, false)
		required = []string{"input", "output", "map", "reduce"}
		setOpts = func() { spec.StageOptions = opts }
	case KindEach:
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
	case KindMigrate:
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
	if err := p.mapping(n, what, fields, more); err != nil {
		return err
	}
	setOpts()
	for _, name := range required {
		if _, ok := s.pos[kind+"."+name]; !ok {
			return p.errorf(key, "%s has no %s: add %s: ... (see jetmr %s --help)", what, name, name, kind)
		}
	}
	return p.checkKind(s, kind, key, what)
}

// checkKind checks the values of a kind's fields.
func (p *parser) checkKind(s *Stage, kind string, n *yaml.Node, what string) error {
	at := func(field string) *yaml.Node {
		if _, ok := s.pos[kind+"."+field]; !ok && p.defaults[field] > 0 {
			return &yaml.Node{Line: p.defaults[field]} // a top-level default
		}
		return &yaml.Node{Line: s.line(kind + "." + field)}
	}
	if err := p.checkOptions(s, kind, what, at); err != nil {
		return err
	}
	if _, given := s.pos[kind+".task_time"]; given && kind == KindEach {
		return p.errorf(at("task_time"), "%s: task_time sizes chunks of input files and key ranges, not items: use chunk_size (items per task)", what)
	}
	switch kind {
	case KindPipe:
		if len(s.Pipe.Input) == 0 {
			return p.errorf(at("input"), "%s: input is empty: give files, directories or stage:NAME", what)
		}
		if len(s.Pipe.Command) == 0 {
			return p.errorf(at("command"), "%s: command is empty: give the command as a list, e.g. [tr, a-z, A-Z]", what)
		}
		if err := command.Check(s.Pipe.Command); err != nil {
			return p.errorf(at("command"), "%s: %v", what, err)
		}
		if err := p.checkRecords(s, kind, what, at, s.Pipe.RecordSpec); err != nil {
			return err
		}
	case KindMapReduce:
		if err := p.checkRecords(s, kind, what, at, s.MapReduce.RecordSpec); err != nil {
			return err
		}
		if len(s.MapReduce.Input) == 0 {
			return p.errorf(at("input"), "%s: input is empty: give files, directories or stage:NAME", what)
		}
		if s.MapReduce.Partitions < 1 {
			return p.errorf(at("partitions"), "%s: partitions %d is not valid: use 1 or more", what, s.MapReduce.Partitions)
		}
	case KindEach:
		e := s.Each
		if (len(e.Items) == 0) == (e.ItemsFile == "") {
			return p.errorf(n, "%s needs exactly one of items (a list) and items_file (one item a line)", what)
		}
		if len(e.Command) == 0 {
			return p.errorf(at("command"), "%s: command is empty: give the command as a list, e.g. [gofmt, -l, \"{}\"]", what)
		}
	}
	return nil
}

// recordFields adds the fields of a RecordSpec to a kind's fields;
// header_once only for pipe stages.
func (p *parser) recordFields(fields map[string]setter, r *RecordSpec, field func(string, setter) setter, pipe bool) {
	fields["header"] = field("header", p.integer(&r.Header))
	fields["null"] = field("null", p.boolean(&r.Null))
	fields["recend"] = field("recend", p.scalar(&r.RecEnd))
	fields["recstart"] = field("recstart", p.scalar(&r.RecStart))
	fields["format"] = field("format", p.scalar(&r.Format))
	if pipe {
		fields["header_once"] = field("header_once", p.boolean(&r.HeaderOnce))
	}
}

// checkRecords checks a stage's record fields, as jetmr pipe checks its
// flags.
func (p *parser) checkRecords(s *Stage, kind, what string, at func(string) *yaml.Node, r RecordSpec) error {
	_, recend := s.pos[kind+".recend"]
	switch {
	case recend && r.RecEnd == "":
		return p.errorf(at("recend"), "%s: recend is empty: give the string that ends each record, e.g. \"\\n\\n\", or drop it for lines", what)
	case r.Null && recend:
		return p.errorf(at("null"), "%s: null ends records with a NUL byte and recend gives another end: give one of them", what)
	case r.Null && r.Format == splitter.FormatCSV:
		return p.errorf(at("null"), "%s: null (NUL-terminated records) and format csv conflict: CSV records end with newlines: drop one of them", what)
	case r.HeaderOnce && r.Header == 0:
		return p.errorf(at("header_once"), "%s: header_once keeps one copy of the header the command prints: give the number of header lines with header: N", what)
	}
	if err := r.records().Validate(); err != nil {
		field := "format"
		if r.Header < 0 {
			field = "header"
		}
		msg := strings.NewReplacer("--header", "header", "--format", "format", "--recend", "recend", "--recstart", "recstart", "-0", "null").Replace(err.Error())
		return p.errorf(at(field), "%s: %s", what, msg)
	}
	return nil
}

// checkOptions checks the values of a stage's common options.
func (p *parser) checkOptions(s *Stage, kind, what string, at func(string) *yaml.Node) error {
	o := s.Options()
	if o.ChunkSize != "" {
		if kind == KindMigrate || kind == KindEach {
			unit := map[string]string{KindMigrate: "rows per batch, e.g. 1000", KindEach: "items per task, e.g. 50"}[kind]
			if n, err := strconv.ParseInt(o.ChunkSize, 10, 64); err != nil || n < 1 {
				return p.errorf(at("chunk_size"), "%s: chunk_size %q is not valid for %s: give a number of %s", what, o.ChunkSize, kind, unit)
			}
		} else if _, err := splitter.ParseSize(o.ChunkSize); err != nil {
			return p.errorf(at("chunk_size"), "%s: chunk_size: %v", what, err)
		}
	}
	if o.MemFree != "" {
		n, err := splitter.ParseSize(o.MemFree)
		if err != nil {
			return p.errorf(at("memfree"), "%s: memfree: %v", what, strings.Replace(err.Error(), "chunk size", "size", 1))
		}
		if err := job.CheckMemFree(n); err != nil {
			msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), job.ErrBadInput.Error()+": "), "--memfree ", "memfree: ")
			return p.errorf(at("memfree"), "%s: %s", what, msg)
		}
	}
	if o.Halt != "" {
		h, err := job.ParseHalt(o.Halt)
		if err == nil && h.When != job.HaltNever && h.When != job.HaltSoon && h.When != job.HaltNow {
			err = fmt.Errorf("halt %q is not valid: use never, soon,fail=N or now,fail=N", o.Halt)
		}
		if err != nil {
			return p.errorf(at("halt"), "%s: %s", what, strings.TrimPrefix(err.Error(), job.ErrBadInput.Error()+": "))
		}
	}
	if o.Jobs != "" {
		if _, _, err := job.Slots(o.Jobs, job.SlotOptions{}); err != nil {
			msg := strings.TrimPrefix(err.Error(), job.ErrBadInput.Error()+": ")
			return p.errorf(at("jobs"), "%s: %s", what, strings.Replace(msg, "-j ", "jobs ", 1))
		}
	}
	return nil
}
