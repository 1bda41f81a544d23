package reducer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// outcome is a migrate task's result payload, as mapper.BatchOutcome
// encodes it.
type outcome struct {
	Rows        int64    `msgpack:"rows"`
	Earlier     int64    `msgpack:"earlier,omitempty"`
	Parts       int      `msgpack:"parts,omitempty"`
	AlreadyDone bool     `msgpack:"done,omitempty"`
	Unchanged   []string `msgpack:"unchanged,omitempty"`
}

// TestCountSinkUnchanged counts the batches with a part whose SQL changed
// none of its rows, keeps the first few as examples, and the report warns
// about them once.
func TestCountSinkUnchanged(t *testing.T) {
	var s reducer.CountSink
	for i := range 8 {
		o := outcome{Rows: 10, Parts: 1}
		if i%4 != 0 { // batches 1-3 and 5-7
			o = outcome{Parts: 2, Unchanged: []string{fmt.Sprintf("[%d, %d) holds 10 rows but the SQL changed 0", i*10, i*10+10), "a second part"}}
		}
		payload, err := msgpack.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Merge(context.Background(), &schema.Result{Index: uint64(i), Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Rows != 20 || s.Batches != 8 || s.Split != 6 || s.Unchanged != 6 || len(s.UnchangedExamples) != 5 ||
		s.UnchangedExamples[0] != "batch [10, 20) holds 10 rows but the SQL changed 0" {
		t.Fatalf("sink %+v; want 20 rows, 8 batches, 6 split, 6 unchanged with 5 examples from batch [10, 20)", s)
	}
	r := &report.Report{Kind: "migrate", BatchesUnchanged: s.Unchanged, UnchangedBatches: s.UnchangedExamples}
	w := r.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "jetmr: warning: 6 batches held rows but their SQL changed none, e.g. batch [10, 20) holds 10 rows") {
		t.Errorf("warnings %q", w)
	}
	if w := (&report.Report{Kind: "migrate", Rows: 20}).Warnings(); w != nil {
		t.Errorf("warnings %q for a run that changed every batch", w)
	}
}
