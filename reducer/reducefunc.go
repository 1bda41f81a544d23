package reducer

import "context"

// ReduceFunc reduces all the values of one key, in the order the tasks
// produced them (by task index, then emission order), calling emit for each
// output value; each becomes a key<TAB>value line of the output. It is
// called from several goroutines at once (one per partition) and must be
// safe for that.
type ReduceFunc func(ctx context.Context, key []byte, values [][]byte, emit func(value []byte) error) error

// Identity is the reduce of a map-only job (schema.ReduceNone): it emits
// every value of the key as it is.
func Identity(_ context.Context, _ []byte, values [][]byte, emit func(value []byte) error) error {
	for _, v := range values {
		if err := emit(v); err != nil {
			return err
		}
	}
	return nil
}
