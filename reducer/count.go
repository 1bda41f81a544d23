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
	// Rows is the number of rows the batches' SQL affected, each batch's
	// counted once: the rows its final attempt ran and those its earlier
	// attempts had committed. Batches counts the batches, AlreadyDone
	// those found committed before, Split those committed in parts.
	Rows, Batches, AlreadyDone, Split int64
	// Unchanged counts the batches with a part whose range held rows but
	// whose SQL changed none; UnchangedExamples says so of the first few.
	Unchanged         int64
	UnchangedExamples []string
}

// maxUnchangedExamples bounds CountSink.UnchangedExamples.
const maxUnchangedExamples = 5

type batchOutcome struct {
	Rows        int64    `msgpack:"rows"`
	Earlier     int64    `msgpack:"earlier,omitempty"`
	Parts       int      `msgpack:"parts,omitempty"`
	AlreadyDone bool     `msgpack:"done,omitempty"`
	Unchanged   []string `msgpack:"unchanged,omitempty"`
}

// Merge implements [Sink].
func (s *CountSink) Merge(_ context.Context, r *schema.Result) (Span, error) {
	var o batchOutcome
	if err := msgpack.Unmarshal(r.Payload, &o); err != nil {
		return Span{}, err
	}
	s.Rows += o.Rows + o.Earlier
	s.Batches++
	if o.AlreadyDone {
		s.AlreadyDone++
	}
	if o.Parts > 1 {
		s.Split++
	}
	if len(o.Unchanged) > 0 {
		s.Unchanged++
		if len(s.UnchangedExamples) < maxUnchangedExamples {
			s.UnchangedExamples = append(s.UnchangedExamples, "batch "+o.Unchanged[0])
		}
	}
	return one(r.Index), nil
}

// Fail implements [Sink].
func (s *CountSink) Fail(_ context.Context, r *schema.Result) (Span, error) { return one(r.Index), nil }

// Commit implements [Sink]: every batch committed on its own.
func (s *CountSink) Commit(context.Context, bool) error { return nil }

// Suspend implements [Sink].
func (s *CountSink) Suspend(context.Context) error { return nil }
