package reducer

import "context"

// Fold is a built-in reduce: it combines the values of one key. Folds are
// associative, so jetmr also runs them map-side as combiners: mappers send
// partial values, and the reducer merges partials.
type Fold interface {
	// Name is the fold's name on the command line: sum, count, min, max, concat.
	Name() string
	// New returns an empty accumulator for one key.
	New() Accumulator
}

// Accumulator folds the values of one key. It is not safe for concurrent use.
type Accumulator interface {
	// Add folds in one raw value, as a map function emitted it.
	Add(value []byte) error
	// Merge folds in a partial produced by AppendPartial of an accumulator of
	// the same fold (possibly in another process).
	Merge(partial []byte) error
	// AppendPartial appends the accumulated state in the form Merge reads.
	AppendPartial(dst []byte) []byte
	// AppendFinal appends the value written to the job's output.
	AppendFinal(dst []byte) []byte
}

// ReduceFunc reduces all the values of one key, in the order the tasks
// produced them (by task index, then emission order), calling emit for each
// output value; each becomes a key<TAB>value line of the output. It is
// called from several goroutines at once (one per partition) and must be
// safe for that.
type ReduceFunc func(ctx context.Context, key []byte, values [][]byte, emit func(value []byte) error) error
