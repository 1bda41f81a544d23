package fold

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
