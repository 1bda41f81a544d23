package observe_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// scrape fetches and parses http://addr/metrics.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s %v\n%s", resp.Status, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the series of family name with the labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		have := make(map[string]string)
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	r := sampleRun()
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	addr, wait, err := observe.Serve(ctx, "127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("server: %v", err)
		}
	}()

	// Mid-run: two attempts running.
	m.JobStarted("mid", "", 10, 0, 4)
	m.TasksPublished("mid", "", 10, true)
	a := observe.Attempt{Job: "mid", Index: 1, Attempt: 1, Worker: "w", Slot: 0, Start: time.Now()}
	b := observe.Attempt{Job: "mid", Index: 2, Attempt: 2, Worker: "w", Slot: 1, Start: time.Now()}
	m.AttemptStarted(a)
	m.AttemptStarted(b)
	fams := scrape(t, addr)
	mid := []string{"job", "mid", "stage", ""}
	for _, c := range []struct {
		name, state string
		want        float64
	}{
		{"jetmr_tasks_in_flight", "", 2}, {"jetmr_slots", "", 4},
		{"jetmr_tasks_total", "queued", 10}, {"jetmr_tasks_total", "running", 2},
		{"jetmr_tasks_total", "redelivered", 1}, {"jetmr_tasks_total", "done", 0},
	} {
		labels := mid
		if c.state != "" {
			labels = append(labels[:4:4], "state", c.state)
		}
		if got := value(t, fams, c.name, labels...); got != c.want {
			t.Errorf("mid-run %s%v = %g, want %g", c.name, labels, got, c.want)
		}
	}
	if u := value(t, fams, "jetmr_utilization", mid...); u < 0 || u > 1 {
		t.Errorf("mid-run utilization %g", u)
	}

	// A whole run.
	r.replay(m)
	fams = scrape(t, addr)
	job := []string{"job", r.job, "stage", r.stage}
	var sumDur float64
	var bytesIn, bytesOut int64
	for _, a := range r.attempts {
		sumDur += a.Duration().Seconds()
		bytesIn += a.BytesIn
		bytesOut += a.BytesOut
	}
	for _, c := range []struct {
		state string
		want  float64
	}{
		{"queued", float64(r.tasks)}, {"running", float64(len(r.attempts))},
		{"redelivered", 3}, {"done", float64(r.tasks - 1)}, {"failed", 1},
	} {
		if got := value(t, fams, "jetmr_tasks_total", append(job[:4:4], "state", c.state)...); got != c.want {
			t.Errorf("tasks_total{state=%q} = %g, want %g", c.state, got, c.want)
		}
	}
	if got := value(t, fams, "jetmr_task_duration_seconds", job...); got != float64(len(r.attempts)) {
		t.Errorf("histogram count %g, want %d", got, len(r.attempts))
	}
	for _, mf := range fams["jetmr_task_duration_seconds"].Metric {
		if mf.Label[0].GetValue() == r.job {
			if got := mf.Histogram.GetSampleSum(); math.Abs(got-sumDur) > 1e-6 {
				t.Errorf("histogram sum %g, want %g", got, sumDur)
			}
		}
	}
	if got := value(t, fams, "jetmr_bytes_in_total", job...); got != float64(bytesIn) {
		t.Errorf("bytes in %g, want %d", got, bytesIn)
	}
	if got := value(t, fams, "jetmr_bytes_out_total", job...); got != float64(bytesOut) {
		t.Errorf("bytes out %g, want %d", got, bytesOut)
	}
	if got := value(t, fams, "jetmr_tasks_in_flight", job...); got != 0 {
		t.Errorf("in flight after the run: %g", got)
	}
	if got := value(t, fams, "jetmr_slots", job...); got != float64(r.slots) {
		t.Errorf("slots %g, want %d", got, r.slots)
	}
	if u := value(t, fams, "jetmr_utilization", job...); u < 0 {
		t.Errorf("utilization %g", u)
	}

	m.Forget(r.job, r.stage)
	fams = scrape(t, addr)
	for _, mf := range fams["jetmr_tasks_total"].Metric {
		for _, l := range mf.Label {
			if l.GetValue() == r.job {
				t.Fatalf("series of a forgotten job remain: %v", mf)
			}
		}
	}
}

func TestServeErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, wait, err := observe.Serve(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := observe.Serve(ctx, addr, nil); err == nil {
		t.Error("serving twice on one address succeeded")
	}
	if _, _, err := observe.Serve(ctx, "127.0.0.1:notaport", nil); err == nil {
		t.Error("serving on a bad address succeeded")
	}
	fams := scrape(t, addr) // the default gatherer has the Go runtime's metrics
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("default gatherer not served")
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after its context ended")
	}
	if err := wait(); err != nil {
		t.Errorf("second wait: %v", err)
	}
}

// TestMetricsUserCounters checks that the user counters of merged tasks
// add up in jetmr_user_counter_total, and that Forget drops them.
func TestMetricsUserCounters(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	obs := observe.Multi(m).(observe.CounterObserver)
	obs.JobStarted("j", "", 2, 0, 1)
	obs.Counted("j", "", []schema.Counter{{Group: "Input", Name: "Lines", Value: 10}, {Group: "Input", Name: "Bad", Value: -1}}, "")
	obs.Counted("j", "", []schema.Counter{{Group: "Input", Name: "Lines", Value: 5}}, "status")
	ctx, cancel := context.WithCancel(context.Background())
	addr, wait, err := observe.Serve(ctx, "127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	fams := scrape(t, addr)
	if v := value(t, fams, "jetmr_user_counter_total", "job", "j", "group", "Input", "name", "Lines"); v != 15 {
		t.Errorf("Input,Lines = %v, want 15", v)
	}
	for _, mf := range fams["jetmr_user_counter_total"].GetMetric() {
		for _, l := range mf.Label {
			if l.GetValue() == "Bad" {
				t.Errorf("a negative amount made a series: %v", mf)
			}
		}
	}
	m.Forget("j", "")
	if fams := scrape(t, addr); fams["jetmr_user_counter_total"] != nil {
		t.Errorf("Forget left the user counters")
	}
}

// TestMetricsAttemptDropped drops, through Multi, an attempt whose end
// will not come: it leaves jetmr_tasks_in_flight and counts in no end
// state or duration; the running counter still counts its start.
func TestMetricsAttemptDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := observe.Multi(observe.NewMetrics(reg), observe.NewRecorder(10))
	obs.JobStarted("d", "", 3, 0, 2)
	start := time.Now().Add(-time.Second)
	lost := observe.Attempt{Job: "d", Index: 0, Attempt: 1, Worker: "gone", Slot: 0, Slots: 1, Start: start}
	kept := observe.Attempt{Job: "d", Index: 1, Attempt: 1, Worker: "w", Slot: 0, Slots: 1, Start: start}
	obs.AttemptStarted(lost)
	obs.AttemptStarted(kept)
	inFlight := func() float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "jetmr_tasks_in_flight" {
				return f.Metric[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no jetmr_tasks_in_flight")
		return 0
	}
	if got := inFlight(); got != 2 {
		t.Fatalf("in flight %g before the drop, want 2", got)
	}
	obs.(observe.DropObserver).AttemptDropped(lost)
	if got := inFlight(); got != 1 {
		t.Errorf("in flight %g after dropping one of two attempts, want 1", got)
	}
	kept.End = time.Now()
	obs.AttemptEnded(kept)
	if got := inFlight(); got != 0 {
		t.Errorf("in flight %g after the other ended, want 0", got)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			state := ""
			for _, l := range m.Label {
				if l.GetName() == "state" {
					state = l.GetValue()
				}
			}
			switch {
			case f.GetName() == "jetmr_task_duration_seconds" && m.GetHistogram().GetSampleCount() != 1:
				t.Errorf("%d durations observed, want the ended attempt's only", m.GetHistogram().GetSampleCount())
			case f.GetName() == "jetmr_tasks_total" && state == observe.StateRunning && m.GetCounter().GetValue() != 2:
				t.Errorf("running counter %g, want both starts", m.GetCounter().GetValue())
			case f.GetName() == "jetmr_tasks_total" && state == observe.StateDone && m.GetCounter().GetValue() != 1:
				t.Errorf("done counter %g, want the ended attempt's task only", m.GetCounter().GetValue())
			}
		}
	}
}
