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

// TestMetricsSlotsOfWorkers: the slots and utilization count the slots
// of the workers whose attempts say how many they have, workers in other
// processes included; the job's own slots until one does.
func TestMetricsSlotsOfWorkers(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.now = func() time.Time { return now }
	gauge := func(name string) float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == name {
				return f.Metric[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	m.JobStarted("j", "", -1, 0, 2)
	if got := gauge("jetmr_slots"); got != 2 {
		t.Errorf("before any attempt: jetmr_slots %v, want the job's 2", got)
	}
	for i, a := range []Attempt{
		{Worker: "local", Slots: 1, Slot: 0},
		{Worker: "remote-a", Slots: 4, Slot: 3},
		{Worker: "remote-b", Slots: 3, Slot: 1},
		{Worker: "remote-a", Slots: 4, Slot: 0},
		{Worker: "old", Slot: 0}, // says nothing of its slots
	} {
		a.Job, a.Index, a.Attempt, a.Start, a.End = "j", uint64(i), 1, t0, t0.Add(4*time.Second)
		m.AttemptStarted(a)
		m.AttemptEnded(a)
	}
	now = t0.Add(10 * time.Second)
	m.JobEnded("j", "", nil)
	if got := gauge("jetmr_slots"); got != 8 {
		t.Errorf("jetmr_slots %v, want the workers' 1+4+3", got)
	}
	if got, want := gauge("jetmr_utilization"), 5*4.0/(8*10); got < want-1e-9 || got > want+1e-9 {
		t.Errorf("jetmr_utilization %v, want %v", got, want)
	}
}
