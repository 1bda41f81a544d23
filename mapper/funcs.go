package mapper

import "context"

// Emitter receives the key/value pairs a map function produces. Emit copies
// what it keeps, so callers may reuse key and value buffers. An error from
// Emit (a combiner rejecting a value, say) should be returned by the map
// function as the task's error.
type Emitter interface {
	Emit(key, value []byte) error
}

// MapFunc maps one chunk of input, made of whole lines (the last one may lack
// its newline), to key/value pairs. It must not keep chunk after returning.
// A MapFunc is called from many goroutines at once and must be safe for that.
type MapFunc func(ctx context.Context, chunk []byte, emit Emitter) error
