package pipeline

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// Prepare reads the job file at path and checks, in one pass, everything
// a run would refuse before its first stage starts, save what needs the
// broker: the file itself (as [Parse]), the files it reads and the
// folders it writes into (as [NewPlan]), where the stages' tasks run
// (o.BrokerConfig.URL, o.LocalWorkers, o.Transport, o.DataListen) and the
// map, reduce and combiner of every mapreduce stage, resolved as the job
// of the stage will resolve them with o.Registry. It returns the plan, or
// every problem found: those of the flags first, then the file's in file
// order. Only those fields of o are read.
func Prepare(path string, o Options) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Line: 0, Msg: fmt.Sprintf("reading the job file: %v", errors.Unwrap(err))}
	}
	f, problems := parse(path, data)
	problems = append(problems, job.CheckPlacement(placement(o)))
	if f != nil {
		problems = append(problems, newPlan(f).checkInputs()...)
		problems = append(problems, checkFunctions(f, o)...)
	}
	if err := sortedErrors(problems); err != nil {
		return nil, err
	}
	return NewPlan(f, nil)
}

// placement is the part of every stage's job configuration that says
// where its tasks run and how their bytes travel.
func placement(o Options) job.Config {
	return job.Config{LocalWorkers: o.LocalWorkers, Transport: o.Transport, DataListen: o.DataListen, Broker: o.BrokerConfig}
}

// functionFields are the fields of a mapreduce stage that
// job.CheckFunctions checks, by the setting its errors name.
var functionFields = map[string]string{"Config.Map": "map", "Config.Reduce": "reduce", "Config.Combiner": "combiner"}

// checkFunctions resolves the map, reduce and combiner of every
// mapreduce stage of f as its job will (job.CheckFunctions), skipping
// the fields that have a problem of their own.
func checkFunctions(f *File, o Options) []error {
	var problems []error
	for _, s := range f.Stages {
		m := s.MapReduce
		if m == nil || s.broken {
			continue
		}
		cfg := placement(o)
		cfg.Kind, cfg.Registry = schema.KindMapReduce, o.Registry
		cfg.Map, cfg.Reduce, cfg.Combiner = m.Map, m.Reduce, m.Combiner
		for _, e := range flatten(job.CheckFunctions(cfg)) {
			var bad *errs.BadInputError
			field := "map"
			if errors.As(e, &bad) && functionFields[bad.Setting] != "" {
				field = functionFields[bad.Setting]
			}
			if s.failed[string(s.Kind)+"."+field] {
				continue // named already
			}
			msg := strings.NewReplacer("--map ", "map ", "--map:", "map:", "--reduce ", "reduce ", "--reduce:", "reduce:").Replace(errs.Translate(e.Error(), optionKeys))
			problems = append(problems, &Error{File: f.Path, Line: s.line(string(s.Kind) + "." + field), Msg: fmt.Sprintf("mapreduce of stage %s: %s", s.Name, msg)})
		}
	}
	return problems
}
