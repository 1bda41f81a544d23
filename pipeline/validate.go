package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jetmr/jetmr/schema"
)

// validate checks the stages against each other: names, dependencies,
// stage: inputs and cycles, and returns every problem. It adds the stages
// an input names to DependsOn.
func validate(f *File) []error {
	var errs []error
	byName := map[string]*Stage{}
	for _, s := range f.Stages {
		if err := schema.ValidateJobID(s.Name); err != nil || len(s.Name) > 32 {
			errs = append(errs, &Error{File: f.Path, Line: s.line("name"), Msg: fmt.Sprintf("stage name %q is not valid: use 1 to 32 letters, digits, '-' or '_'", s.Name)})
		}
		if first := byName[s.Name]; first != nil {
			errs = append(errs, &Error{File: f.Path, Line: s.line("name"), Msg: fmt.Sprintf("two stages are named %s (the first at line %d): give each stage its own name", s.Name, first.Line)})
			continue
		}
		byName[s.Name] = s
	}
	refsOK := true
	for _, s := range f.Stages {
		for _, d := range s.DependsOn {
			if err := checkRef(f, s, byName, d, "depends_on"); err != nil {
				errs, refsOK = append(errs, err), false
			}
		}
		refs, field := s.Inputs(), string(s.Kind)+".input"
		if s.Each != nil && s.Each.ItemsFile != "" {
			refs, field = []string{s.Each.ItemsFile}, "each.items_file"
		}
		for _, in := range refs {
			name, ok := strings.CutPrefix(in, StageRef)
			if !ok {
				continue
			}
			if err := checkRef(f, s, byName, name, field); err != nil {
				errs, refsOK = append(errs, err), false
				continue
			}
			if up := byName[name]; up.Output() == "" {
				if !up.unclear() { // else its own problem is named
					errs = append(errs, &Error{File: f.Path, Line: s.line(field), Msg: fmt.Sprintf("stage %s reads %s, but stage %s writes no file: give it an output, or depend on it with depends_on", s.Name, in, name)})
				}
				continue
			}
			if !slices.Contains(s.DependsOn, name) {
				s.DependsOn = append(s.DependsOn, name)
			}
		}
	}
	// Two stages writing one file is a problem whatever the dependencies.
	errs = append(errs, checkFileOutputs(f)...)
	// A cycle is found among the dependencies that name stages; the
	// check of stages writing to stdout at the same time follows the
	// dependencies, which must then all name stages and form no cycle.
	if cycle := findCycle(f.Stages, byName); cycle != nil {
		first := byName[cycle[0]]
		return append(errs, &Error{File: f.Path, Line: first.line("depends_on"), Msg: fmt.Sprintf("the stages depend on each other in a cycle: %s: remove one of these dependencies", strings.Join(cycle, " -> "))})
	}
	if !refsOK {
		return errs
	}
	return append(errs, checkStdout(f, byName)...)
}

// unclear reports whether the stage's output is not known: its kind is
// not, or its output field has a problem of its own.
func (s *Stage) unclear() bool {
	return s.broken || s.failed[string(s.Kind)+".output"]
}

// checkStdout refuses two pipe stages writing to stdout that may run at
// the same time.
func checkStdout(f *File, byName map[string]*Stage) []error {
	var errs []error
	var stdout []*Stage
	for _, s := range f.Stages {
		if s.unclear() || s.Output() != "" || s.Pipe == nil {
			continue
		}
		for _, other := range stdout {
			if !dependsOn(s, other.Name, byName) {
				errs = append(errs, &Error{File: f.Path, Line: s.Line, Msg: fmt.Sprintf(
					"stages %s and %s both write to stdout and may run at the same time: give one an output, or order them with depends_on", other.Name, s.Name)})
			}
		}
		stdout = append(stdout, s)
	}
	return errs
}

// checkFileOutputs refuses two stages writing the same file.
func checkFileOutputs(f *File) []error {
	var errs []error
	writers := map[string]*Stage{}
	for _, s := range f.Stages {
		out := s.Output()
		if s.unclear() || out == "" {
			continue
		}
		key := filepath.Clean(out)
		if other := writers[key]; other != nil {
			errs = append(errs, &Error{File: f.Path, Line: s.line(string(s.Kind) + ".output"), Msg: fmt.Sprintf(
				"stages %s and %s both write %s: give each stage its own output", other.Name, s.Name, out)})
			continue
		}
		writers[key] = s
	}
	return errs
}

// dependsOn reports whether s depends on the stage name, directly or not.
func dependsOn(s *Stage, name string, byName map[string]*Stage) bool {
	seen := map[string]bool{}
	todo := slices.Clone(s.DependsOn)
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if d == name {
			return true
		}
		if !seen[d] {
			seen[d] = true
			todo = append(todo, byName[d].DependsOn...)
		}
	}
	return false
}

func checkRef(f *File, s *Stage, byName map[string]*Stage, name, field string) error {
	switch {
	case name == s.Name:
		return &Error{File: f.Path, Line: s.line(field), Msg: fmt.Sprintf("stage %s depends on itself: remove %s from its %s", s.Name, name, field)}
	case byName[name] == nil:
		return &Error{File: f.Path, Line: s.line(field), Msg: fmt.Sprintf("stage %s depends on %s, but there is no stage %s: the stages are %s", s.Name, name, name, stageNames(f))}
	}
	return nil
}

func stageNames(f *File) string {
	var names []string
	for _, s := range f.Stages {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// findCycle returns a cycle of dependencies as the names along it, first
// name repeated at the end (a -> b -> a), or nil when there is none.
func findCycle(stages []*Stage, byName map[string]*Stage) []string {
	const (
		unseen = iota
		onPath
		finished
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		state[name] = onPath
		path = append(path, name)
		for _, d := range byName[name].DependsOn {
			if byName[d] == nil {
				continue // named as a problem of its own
			}
			switch state[d] {
			case onPath:
				i := slices.Index(path, d)
				cycle := slices.Clone(path[i:])
				// Name the cycle in the direction work flows: a -> b
				// means b depends on a.
				slices.Reverse(cycle)
				return append([]string{cycle[len(cycle)-1]}, cycle...)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = finished
		return nil
	}
	for _, s := range stages {
		if state[s.Name] == unseen {
			if c := visit(s.Name); c != nil {
				return c
			}
		}
	}
	return nil
}
