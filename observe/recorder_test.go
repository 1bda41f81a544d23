package observe_test

import (
	"testing"

	"github.com/jetmr/jetmr/observe"
)

func TestRecorder(t *testing.T) {
	r := sampleRun()
	tests := []struct {
		limit   int
		kept    int
		dropped int64
	}{
		{0, len(r.attempts), 0},
		{1000, len(r.attempts), 0},
		{10, 10, int64(len(r.attempts) - 10)},
	}
	for _, tc := range tests {
		rec := observe.NewRecorder(tc.limit)
		r.replay(rec)
		if got := rec.Attempts(); len(got) != tc.kept {
			t.Errorf("limit %d: kept %d attempts, want %d", tc.limit, len(got), tc.kept)
		}
		if got := rec.Dropped(); got != tc.dropped {
			t.Errorf("limit %d: dropped %d, want %d", tc.limit, got, tc.dropped)
		}
		p := rec.Page(r.report)
		if p.Report != r.report || len(p.Attempts) != tc.kept || p.DroppedAttempts != tc.dropped {
			t.Errorf("limit %d: page data %d attempts, %d dropped", tc.limit, len(p.Attempts), p.DroppedAttempts)
		}
		if st := rec.Stages(); len(st) != 1 || st[0].Name != "map" || st[0].End.Before(st[0].Start) {
			t.Errorf("stages %+v", st)
		}
	}
	rec := observe.NewRecorder(0)
	rec.JobStarted("j", "", 1, 0, 1)
	rec.JobEnded("j", "", nil)
	if st := rec.Stages(); len(st) != 0 {
		t.Errorf("a job without stages recorded stages %+v", st)
	}
}
