package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/jetmr/jetmr/job"
)

// Load reads and parses the job file at path; see [Parse].
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Line: 0, Msg: fmt.Sprintf("reading the job file: %v", errors.Unwrap(err))}
	}
	return Parse(path, data)
}

// Parse parses and validates a job file; name is used in messages. Every
// error it returns is an *Error with the line of the problem, or, when
// there are several problems, all of them joined in file order (errors.As
// finds the first, and each matches ErrInvalid).
func Parse(name string, data []byte) (*File, error) {
	f, problems := parse(name, data)
	if err := sortedErrors(problems); err != nil {
		return nil, err
	}
	return f, nil
}

// parse parses and validates a job file in one pass, going on after a
// problem wherever the rest can still be checked: it returns every
// problem, and the file as far as it could be read (nil when not even
// its list of stages could be). The stages of a file with problems may
// be partial (Stage.broken, Stage.failed); a stage without a name is
// left out.
func parse(name string, data []byte) (*File, []error) {
	p := &parser{file: name, defaults: map[string]int{}}
	f, problems := p.parseFile(data)
	if f == nil {
		return nil, problems
	}
	return f, append(problems, validate(f)...)
}

type parser struct {
	file string
	key  *yaml.Node // the key whose value is being decoded
	// defaults holds the lines of the top-level options, for messages
	// about a value a stage takes from them.
	defaults map[string]int
	// unknown counts the unknown fields found so far.
	unknown int
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseFile(data []byte) (*File, []error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []error{&Error{File: p.file, Line: 1, Msg: "the job file is empty: list the stages under stages:"}}
		}
		return nil, []error{p.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []error{p.errorf(&extra, "a second YAML document: a job file holds one")}
	} else if !errors.Is(err, io.EOF) {
		return nil, []error{p.yamlError(err)}
	}
	root := doc.Content[0]
	f := &File{Path: p.file}
	var stages, jobs *yaml.Node
	err := p.mapping(root, "the job file", map[string]setter{
		"stages": func(n *yaml.Node) error { stages = n; return nil },
		"jobs": func(n *yaml.Node) error {
			jobs = n
			return p.scalar(&f.Jobs)(n)
		},
	}, func(key string) setter {
		set := p.option(&f.Defaults, key)
		if set == nil {
			return nil
		}
		return func(n *yaml.Node) error {
			p.defaults[key] = p.key.Line
			return set(n)
		}
	})
	var problems []error
	if err != nil {
		problems = append(problems, err) // and go on to the stages
	}
	switch {
	case root.Kind != yaml.MappingNode:
		return nil, problems
	case stages == nil && p.unknown > 0:
		return nil, problems // stages: misspelt, named by its unknown field
	case stages == nil:
		return nil, append(problems, p.errorf(root, "no stages: list them under stages:, each with a name and one of %s", strings.Join(kinds, ", ")))
	case stages.Kind != yaml.SequenceNode || len(stages.Content) == 0:
		return nil, append(problems, p.errorf(stages, "stages must be a list of stages, each with a name and one of %s", strings.Join(kinds, ", ")))
	}
	if f.Jobs != "" {
		if _, _, err := job.Slots(f.Jobs, job.SlotOptions{Command: true}); err != nil {
			problems = append(problems, p.errorf(jobs, "%s", strings.Replace(err.Error(), "-j ", "jobs ", 1)))
		}
	}
	for _, n := range stages.Content {
		s, err := p.stage(n, f.Defaults)
		if err != nil {
			problems = append(problems, err) // and go on: every stage's problem is named
		}
		if s != nil {
			f.Stages = append(f.Stages, s)
		}
	}
	return f, problems
}

// yamlError turns a YAML syntax error ("yaml: line 3: ...") into an *Error.
func (p *parser) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

// setter decodes a field's value node.
type setter func(n *yaml.Node) error

// mapping decodes the mapping n field by field. Fields not in fields are
// looked up with more (which may be nil or return nil); unknown ones are
// errors, as are repeated ones. It goes on after a field's problem and
// returns all of them, joined.
func (p *parser) mapping(n *yaml.Node, what string, fields map[string]setter, more func(string) setter) error {
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, "%s must be a mapping of field: value", what)
	}
	seen := map[string]bool{}
	var problems []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		set := fields[k.Value]
		if set == nil && more != nil {
			set = more(k.Value)
		}
		if set == nil {
			problems = append(problems, p.errorf(k, "unknown field %q in %s: use %s", k.Value, what, known(fields, more)))
			p.unknown++
			continue
		}
		if seen[k.Value] {
			problems = append(problems, p.errorf(k, "field %q appears twice in %s", k.Value, what))
			continue
		}
		seen[k.Value] = true
		p.key = k
		if err := set(v); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				err = p.errorf(v, "%s: %v", k.Value, err)
			}
			problems = append(problems, err)
		}
	}
	return joinErrors(problems)
}

// known lists the field names a mapping takes, for messages.
func known(fields map[string]setter, more func(string) setter) string {
	var names []string
	for name := range fields {
		names = append(names, name)
	}
	if more != nil {
		for _, name := range optionNames {
			if more(name) != nil {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

// optionNames are the fields of Options.
var optionNames = []string{"jobs", "io", "chunk_size", "task_time", "retries", "ok_exit", "timeout", "halt", "memfree", "skip_bad_records"}

// option returns the setter of the common option key of o, nil if key
// is not one.
func (p *parser) option(o *StageOptions, key string) setter {
	switch key {
	case "jobs":
		return p.scalar(&o.Jobs)
	case "io":
		return p.boolean(&o.IO)
	case "chunk_size":
		return p.scalar(&o.ChunkSize)
	case "retries":
		return func(n *yaml.Node) error {
			var r int
			if err := p.integer(&r)(n); err != nil {
				return err
			}
			if r < 0 {
				return p.errorf(n, "retries: %d is not valid: use 0 or more", r)
			}
			o.Retries = &r
			return nil
		}
	case "ok_exit":
		return func(n *yaml.Node) error {
			var s string
			if err := p.scalar(&s)(n); err != nil {
				return err
			}
			codes, err := job.ParseOkExit(s)
			if err != nil {
				return p.errorf(n, "ok_exit: %q is not valid: give exit statuses 0 to 255 separated by commas, such as \"0,1\"", s)
			}
			o.OkExit = codes
			return nil
		}
	case "skip_bad_records":
		return func(n *yaml.Node) error {
			if err := p.integer(&o.SkipBadRecords)(n); err != nil {
				return err
			}
			if o.SkipBadRecords < 0 {
				return p.errorf(n, "skip_bad_records: %d is not valid: use 0 or more", o.SkipBadRecords)
			}
			return nil
		}
	case "timeout":
		return p.duration(&o.Timeout)
	case "task_time":
		return p.duration(&o.TaskTime)
	case "halt":
		return p.scalar(&o.Halt)
	case "memfree":
		return p.scalar(&o.MemFree)
	}
	return nil
}

func (p *parser) scalar(dst *string) setter {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return errors.New("want a single value")
		}
		*dst = n.Value
		return nil
	}
}

// list takes a list of values, or one value as a list of one when one is
// true.
func (p *parser) list(dst *[]string, one bool) setter {
	return func(n *yaml.Node) error {
		if one && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			*dst = []string{n.Value}
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return errors.New("want a list, e.g. [a, b]")
		}
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return p.errorf(c, "want a list of single values")
			}
			out = append(out, c.Value)
		}
		*dst = out
		return nil
	}
}

func (p *parser) integer(dst *int) setter {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Decode(dst) != nil {
			return fmt.Errorf("%q is not a whole number", n.Value)
		}
		return nil
	}
}

func (p *parser) float(dst *float64) setter {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Decode(dst) != nil {
			return fmt.Errorf("%q is not a number", n.Value)
		}
		return nil
	}
}

func (p *parser) boolean(dst *bool) setter {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return fmt.Errorf("%q is not true or false", n.Value)
		}
		return n.Decode(dst)
	}
}

func (p *parser) duration(dst *time.Duration) setter {
	return func(n *yaml.Node) error {
		d, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration: use e.g. 30s or 5m", n.Value)
		}
		*dst = d
		return nil
	}
}
