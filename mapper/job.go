package mapper

import (
	"fmt"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// Job is a job as a worker runs it: its record with the map function and
// combiner resolved.
type Job struct {
	Record schema.JobRecord
	// Map is the built-in map function of a keyed job; nil when the map is a
	// command (Record.MapCommand) or the job is a pipe job.
	Map MapFunc
	// Combiner is the built-in reduce run map-side; nil when the reduce is a
	// command, which needs every raw value.
	Combiner reducer.Fold
}

// ResolveJob finds the functions a job record names. A job naming a map or
// reduce this worker does not know returns an error.
func ResolveJob(rec schema.JobRecord) (*Job, error) {
	j := &Job{Record: rec}
	switch rec.Kind {
	case schema.KindPipe:
		if len(rec.Command) == 0 {
			return nil, fmt.Errorf("job %s: pipe job without a command", rec.ID)
		}
		return j, nil
	case schema.KindMapReduce:
	default:
		return nil, fmt.Errorf("job %s: unknown kind %q", rec.ID, rec.Kind)
	}
	if len(rec.MapCommand) == 0 {
		fn, ok, err := ParseBuiltinMap(rec.Map)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", rec.ID, err)
		}
		if !ok {
			return nil, fmt.Errorf("job %s: unknown map %q: this worker knows %s", rec.ID, rec.Map, BuiltinMapNames)
		}
		j.Map = fn
	}
	if len(rec.ReduceCommand) == 0 {
		fold, ok := reducer.ParseFold(rec.Reduce)
		if !ok {
			return nil, fmt.Errorf("job %s: unknown reduce %q: this worker knows %s", rec.ID, rec.Reduce, reducer.FoldNames)
		}
		j.Combiner = fold
	}
	return j, nil
}
