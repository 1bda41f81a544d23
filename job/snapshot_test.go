package job_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

func sampleStatus() job.Status {
	rec := schema.JobRecord{V: 1, ID: "j1", Kind: schema.KindPipe, Inputs: []string{"in.txt"}, Output: "out.txt", State: schema.StateRunning, Partitions: 1}
	return job.Status{
		Record: rec, ID: rec.ID, Kind: string(rec.Kind), State: schema.StateRunning, PID: 42,
		Started: time.Unix(1, 0).UTC(), Updated: time.Unix(2, 0).UTC(),
		TasksTotal: 10, TasksDone: 6, TasksFailed: 1, Malformed: 2, DeadLetters: 3, InFlight: 2, BytesIn: 100, BytesOut: 90,
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	want := sampleStatus()
	data, err := job.EncodeSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := job.DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Record.Output != want.Record.Output || got.TasksDone != want.TasksDone ||
		got.DeadLetters != want.DeadLetters || got.BytesOut != want.BytesOut || !got.Updated.Equal(want.Updated) {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
}

func TestSnapshotRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*job.Status)
	}{
		{"another job's record", func(s *job.Status) { s.ID = "j2" }},
		{"unknown state", func(s *job.Status) { s.State = "flying" }},
		{"more done than total", func(s *job.Status) { s.TasksDone = 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := sampleStatus()
			tt.change(&st)
			data, err := job.EncodeSnapshot(st)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := job.DecodeSnapshot(data); !errors.Is(err, schema.ErrMalformed) {
				t.Errorf("got %v, want ErrMalformed", err)
			}
		})
	}
	for _, data := range []string{"", "{", `{"job":"j1"}`, `{"record_data":"AAAA"}`} {
		if _, err := job.DecodeSnapshot([]byte(data)); err == nil {
			t.Errorf("%q decoded", data)
		}
	}
}

// FuzzDecodeSnapshot: snapshot files are read from disk; whatever they
// hold, decoding never panics and what decodes is consistent.
func FuzzDecodeSnapshot(f *testing.F) {
	data, err := job.EncodeSnapshot(sampleStatus())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"job":"j1","state":"done","record_data":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := job.DecodeSnapshot(data)
		if err != nil {
			return
		}
		if st.ID != st.Record.ID || (!st.Splitting && st.TasksDone+st.TasksFailed > st.TasksTotal) || st.DeadLetters != st.TasksFailed+st.Malformed {
			t.Fatalf("inconsistent snapshot decoded: %+v", st)
		}
	})
}
