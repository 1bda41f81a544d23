package reducer

import (
	"context"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/schema"
)

// CountSink merges the results of a migrate job: there is no output to
// write, only rows and batches to count. The work itself committed in the
// database, batch by batch.
type CountSink struct {
	// Rows is the number of rows the batches' SQL affected; Batches counts
	// the batches run, AlreadyDone those found committed before.
	Rows, Batches, AlreadyDone int64
}

type batchOutcome struct {
	Rows        int64 `msgpack:"rows"`
	AlreadyDone bool  `msgpack:"done,omitempty"`
}

// Merge implements [Sink].
func (s *CountSink) Merge(_ context.Context, r *schema.Result) (Span, error) {
	var o batchOutcome
	if err := msgpack.Unmarshal(r.Payload, &o); err != nil {
		return Span{}, err
	}
	s.Rows += o.Rows
	s.Batches++
	if o.AlreadyDone {
		s.AlreadyDone++
	}
	return one(r.Index), nil
}

// Fail implements [Sink].
func (s *CountSink) Fail(_ context.Context, r *schema.Result) (Span, error) { return one(r.Index), nil }

// Commit implements [Sink]: every batch committed on its own.
func (s *CountSink) Commit(context.Context, bool) error { return nil }

// Suspend implements [Sink].
func (s *CountSink) Suspend(context.Context) error { return nil }
