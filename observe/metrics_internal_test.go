package observe

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsUtilizationClock(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.now = func() time.Time { return now }
	util := func() float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "jetmr_utilization" {
				return f.Metric[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no jetmr_utilization")
		return 0
	}

	m.JobStarted("j", "s", 2, 0, 2)
	first := Attempt{Job: "j", Stage: "s", Index: 0, Attempt: 1, Worker: "w", Slot: 0, Start: t0}
	second := Attempt{Job: "j", Stage: "s", Index: 1, Attempt: 1, Worker: "w", Slot: 1, Start: t0.Add(2 * time.Second)}
	m.AttemptStarted(first)
	m.AttemptStarted(second)
	first.End = t0.Add(4 * time.Second)
	now = first.End
	m.AttemptEnded(first)

	tests := []struct {
		at   time.Duration
		end  bool
		want float64
	}{
		{5 * time.Second, false, (4.0 + 3.0) / (2 * 5)}, // the running attempt counts so far
		{6 * time.Second, true, (4.0 + 4.0) / (2 * 6)},  // JobEnded stops the clock
		{100 * time.Second, false, 8.0 / 12},
	}
	for _, tc := range tests {
		now = t0.Add(tc.at)
		if tc.end {
			m.JobEnded("j", "s", nil)
		}
		if got := util(); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("at +%s: utilization %g, want %g", tc.at, got, tc.want)
		}
	}
}
