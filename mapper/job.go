package mapper

import (
	"errors"
	"fmt"
	"os"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ErrUnknownFunction means a job names a map or reduce function that is
// not registered in this process.
var ErrUnknownFunction = errors.New("unknown function")

// builtins resolves jobs for callers that give no registry.
var builtins = NewRegistry()

// Job is a job as a worker runs it: its record with the map function and
// combiner resolved.
type Job struct {
	Record schema.JobRecord
	// Map is the built-in map function of a keyed job; nil when the map is a
	// command (Record.MapCommand) or the job is a pipe job.
	Map MapFunc
	// Combiner is the fold run map-side, and by the reducer; nil when the
	// reduce is a command or a ReduceFunc, which need every raw value.
	Combiner fold.Fold
	// Reduce is the registered reduce function, when the job names one.
	Reduce reducer.ReduceFunc
	// Each is an each job's command, parsed.
	Each *EachCommand
	// Dir is the directory the job's commands run in: Record.WorkDir when
	// it is a directory on this machine, else "" (the process's own).
	// MissingDir is Record.WorkDir when it is not: the worker says so once.
	Dir, MissingDir string

	// run runs one attempt of a task of the job's kind.
	run taskRunner
	// probe runs part of a failed task's input, for its bisection; nil
	// when tasks of the kind are not bisected.
	probe prober
}

// ResolveJob finds the functions a job record names in reg (nil: the
// built-ins). A job naming a map or reduce reg lacks returns an error
// wrapping [ErrUnknownFunction].
func ResolveJob(rec schema.JobRecord, reg *Registry) (*Job, error) {
	if reg == nil {
		reg = builtins
	}
	j, err := ResolveReduce(rec, reg)
	if err != nil || !rec.Kind.Traits().Keyed || len(rec.MapCommand) > 0 {
		return j, err
	}
	fn, ok, err := reg.Map(rec.Map)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", rec.ID, err)
	}
	if !ok {
		return nil, fmt.Errorf("job %s: %w: map %q; this worker knows %s", rec.ID, ErrUnknownFunction, rec.Map, reg.MapNames())
	}
	j.Map = fn
	return j, nil
}

// ResolveReduce is [ResolveJob] for a process that merges a job's results
// but runs none of its tasks: the map function may be one only the
// job's workers have, so Map is left nil.
func ResolveReduce(rec schema.JobRecord, reg *Registry) (*Job, error) {
	if reg == nil {
		reg = builtins
	}
	j := &Job{Record: rec}
	j.Dir, j.MissingDir = commandDir(rec.WorkDir)
	switch rec.Transport {
	case "", schema.TransportShared, schema.TransportObject:
	default:
		return nil, fmt.Errorf("job %s: unknown transport %q: this worker is older than the job's submitter; upgrade it", rec.ID, rec.Transport)
	}
	// The one place where a worker decides by the job's kind.
	switch rec.Kind {
	case schema.KindMigrate:
		if rec.DB == "" || rec.SQL == "" {
			return nil, fmt.Errorf("job %s: migrate job without a database or SQL", rec.ID)
		}
		j.run = runBatch
		return j, nil
	case schema.KindPipe:
		if len(rec.Command) == 0 {
			return nil, fmt.Errorf("job %s: pipe job without a command", rec.ID)
		}
		j.run, j.probe = runPipe, probePipe
		return j, nil
	case schema.KindEach:
		c, err := NewEachCommand(rec)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", rec.ID, err)
		}
		j.Each, j.run = c, runEach
		return j, nil
	case schema.KindMapReduce:
		j.run, j.probe = runKeyed, probeKeyed
	default:
		return nil, fmt.Errorf("job %s: unknown kind %q", rec.ID, rec.Kind)
	}
	if len(rec.MapCommand) == 0 && rec.Map == "" {
		return nil, fmt.Errorf("job %s: mapreduce job without a map", rec.ID)
	}
	if rec.Reduce == schema.ReduceNone {
		j.Reduce = reducer.Identity // map-only: no combiner
		return j, nil
	}
	if len(rec.ReduceCommand) == 0 {
		fold, fn, ok := reg.Reduce(rec.Reduce)
		if !ok {
			return nil, fmt.Errorf("job %s: %w: reduce %q; this worker knows %s", rec.ID, ErrUnknownFunction, rec.Reduce, reg.ReduceNames())
		}
		j.Combiner, j.Reduce = fold, fn
	}
	return j, nil
}

// commandDir is where the commands of a job submitted from dir run: dir
// when this machine has it (a shared filesystem, the submitter's own
// machine), else the process's own directory, and then missing is dir.
func commandDir(dir string) (run, missing string) {
	if dir == "" {
		return "", "" // a record from before WorkDir
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", dir
	}
	return dir, ""
}
