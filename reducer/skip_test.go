package reducer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// skippedResult is task i's output, which left out the bad records at
// offsets (skip mode).
func skippedResult(i uint64, payload string, offsets ...int64) schema.Result {
	r := pipeResult(i, payload)
	for _, off := range offsets {
		r.Skipped = append(r.Skipped, schema.BadRecord{Offset: off, Length: 4, Preview: []byte("BAD\n"),
			Err: schema.TaskError{Message: "cmd exited with status 3", ExitStatus: 3}})
	}
	r.Path, r.Offset, r.Length = "/in.txt", int64(i)*100, 100
	return r
}

// TestSkippedRecordsCountedOnce publishes results that skipped bad
// records, some of them twice (a redelivered attempt): each task's
// records count once against the job's limit, and the task whose records
// go over it fails with its records named, its output left out.
func TestSkippedRecordsCountedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		limit   int
		want    string
		skipped int
		dead    []uint64
	}{
		{"within the limit", 3, "task 0\ntask 1\ntask 2\ntask 3\n", 3, nil},
		{"one over", 2, "", 2, []uint64{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := pipeRecord("skip-once")
			rec.SkipBad = tc.limit
			b := openBroker(t, rec)
			p := publisher{t, b, rec.ID}
			p.result(skippedResult(1, "task 1\n", 120, 150))
			p.result(skippedResult(1, "task 1 again\n", 120, 150)) // a duplicate attempt
			p.result(pipeResult(0, "task 0\n"))
			p.result(pipeResult(2, "task 2\n"))
			p.result(skippedResult(3, "task 3\n", 310))
			p.result(skippedResult(3, "task 3 again\n", 310))
			var stream bytes.Buffer
			sink, err := reducer.NewOrderedSink(context.Background(), reducer.OrderedConfig{Stream: &stream, Job: rec.ID})
			if err != nil {
				t.Fatal(err)
			}
			stats, _, err := run(t, b, rec, sink, 4, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(stats.Skipped) != tc.skipped {
				t.Errorf("%d records skipped, want %d: %+v", len(stats.Skipped), tc.skipped, stats.Skipped)
			}
			var dead []uint64
			for _, d := range stats.Dead {
				dead = append(dead, d.Index)
				if len(d.Records) != 1 || d.Records[0].Offset != 310 || d.Records[0].Preview != `"BAD\n"` {
					t.Errorf("dead letter of task %d names %+v, want the record at 310", d.Index, d.Records)
				}
			}
			if fmt.Sprint(dead) != fmt.Sprint(tc.dead) {
				t.Errorf("dead letters of tasks %v, want %v", dead, tc.dead)
			}
			if tc.want != "" && stream.String() != tc.want {
				t.Errorf("output %q, want %q", stream.String(), tc.want)
			}
		})
	}
}
