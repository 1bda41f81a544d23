package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Results is everything one bench run measured; -json writes it.
type Results struct {
	Machine   Machine     `json:"machine"`
	Started   time.Time   `json:"started"`
	Reps      int         `json:"reps"`
	SizeScale float64     `json:"size_scale"`
	Jetmr     string      `json:"jetmr"`
	Scenarios []*Scenario `json:"scenarios"`
}

// Scenario is one scenario's contenders, derived metrics and notes.
type Scenario struct {
	Name       string       `json:"name"`
	Input      string       `json:"input"`
	Contenders []*Contender `json:"contenders"`
	Metrics    []*Metric    `json:"metrics"`
	Checks     []string     `json:"checks"` // correctness checks that passed
	Notes      []string     `json:"notes"`
	Error      string       `json:"error,omitempty"` // set when the scenario failed
}

// Contender is one way of doing a scenario's work, run once per repetition.
type Contender struct {
	Name    string   `json:"name"`
	Samples []Sample `json:"samples"`
	Skipped string   `json:"skipped,omitempty"` // why it did not run
	Jetmr   bool     `json:"jetmr"`             // a jetmr run, with reports
}

// Sample is one timed run.
type Sample struct {
	Seconds   float64 `json:"seconds"`
	MaxRSSKiB int64   `json:"max_rss_kib,omitempty"`
	FloorKiB  int64   `json:"rss_floor_kib,omitempty"` // the bench's own RSS then: MaxRSSKiB cannot be lower
	// CPUSeconds is the process's user and system time; WorkerCPUSeconds
	// and ServerCPUSeconds those of the worker processes and of the NATS
	// server (the bench process) during a run on workers.
	CPUSeconds       float64    `json:"cpu_seconds,omitempty"`
	WorkerCPUSeconds float64    `json:"worker_cpu_seconds,omitempty"`
	ServerCPUSeconds float64    `json:"server_cpu_seconds,omitempty"`
	Report           *JobReport `json:"report,omitempty"`
}

// Metric is a ratio or value derived from the medians, with an optional
// target.
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"` // "" for a plain ratio
	Target *Target `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
}

// Target is a bound a metric should meet.
type Target struct {
	Op    string  `json:"op"` // "<=" or ">="
	Value float64 `json:"value"`
	Note  string  `json:"note,omitempty"`
}

// add appends a sample to c.
func (c *Contender) add(s Sample) { c.Samples = append(c.Samples, s) }

// MedianSeconds is the median wall time of c's runs (0 without runs).
func (c *Contender) MedianSeconds() float64 {
	return median(c.Samples, func(s Sample) float64 { return s.Seconds })
}

// median returns the median of f over xs (the mean of the middle two for
// an even count), or 0 for none.
func median[T any](xs []T, f func(T) float64) float64 {
	vs := make([]float64, 0, len(xs))
	for _, x := range xs {
		vs = append(vs, f(x))
	}
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	mid := len(vs) / 2
	if len(vs)%2 == 1 {
		return vs[mid]
	}
	return (vs[mid-1] + vs[mid]) / 2
}

// metric adds a metric to s, judged against target when there is one.
func (s *Scenario) metric(name string, value float64, unit string, target *Target) *Metric {
	m := &Metric{Name: name, Value: value, Unit: unit, Target: target}
	if target != nil {
		met := value <= target.Value
		if target.Op == ">=" {
			met = value >= target.Value
		}
		m.Met = &met
	}
	s.Metrics = append(s.Metrics, m)
	return m
}

// formatValue prints a metric's value with its unit.
func (m *Metric) formatValue() string {
	switch m.Unit {
	case "":
		return fmt.Sprintf("%.2f", m.Value)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", m.Value)
	case "s":
		return fmt.Sprintf("%.3f s", m.Value)
	default:
		return fmt.Sprintf("%.1f %s", m.Value, m.Unit)
	}
}

// formatTarget prints a target such as "<= 1.25".
func (t *Target) format(unit string) string {
	if t == nil {
		return ""
	}
	s := fmt.Sprintf("%s %g", t.Op, t.Value)
	if unit != "" {
		s += " " + unit
	}
	if t.Note != "" {
		s += " (" + t.Note + ")"
	}
	return s
}

// printTable writes the machine line, the markdown table of medians and
// metrics, a met/missed line per target, notes, and a table of what jetmr's
// own reports say.
func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "Machine: %s\n", r.Machine)
	fmt.Fprintf(w, "Load average (1 5 15 min): %s at start, %s at end\n", r.Machine.LoadStart, r.Machine.LoadEnd)
	fmt.Fprintf(w, "Runs: %d per contender, alternating; size scale %g; jetmr %s\n\n", r.Reps, r.SizeScale, r.Jetmr)
	fmt.Fprintln(w, "| scenario | contender / metric | median s | runs | ratio / value | target |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, s := range r.Scenarios {
		for _, c := range s.Contenders {
			if c.Skipped != "" {
				fmt.Fprintf(w, "| %s | %s | skipped | 0 | | |\n", s.Name, c.Name)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %.3f | %d | | |\n", s.Name, c.Name, c.MedianSeconds(), len(c.Samples))
		}
		for _, m := range s.Metrics {
			fmt.Fprintf(w, "| %s | %s | | | %s | %s |\n", s.Name, m.Name, m.formatValue(), m.Target.format(m.Unit))
		}
		if s.Error != "" {
			fmt.Fprintf(w, "| %s | FAILED | | | | |\n", s.Name)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets:")
	for _, s := range r.Scenarios {
		for _, m := range s.Metrics {
			if m.Met == nil {
				continue
			}
			verdict := "met"
			if !*m.Met {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "- %s: %s = %s, target %s: %s\n", s.Name, m.Name, m.formatValue(), m.Target.format(m.Unit), verdict)
		}
	}
	var notes []string
	for _, s := range r.Scenarios {
		if s.Input != "" {
			notes = append(notes, fmt.Sprintf("%s: input %s", s.Name, s.Input))
		}
		for _, c := range s.Checks {
			notes = append(notes, fmt.Sprintf("%s: check passed: %s", s.Name, c))
		}
		for _, n := range s.Notes {
			notes = append(notes, s.Name+": "+n)
		}
		for _, c := range s.Contenders {
			if c.Skipped != "" {
				notes = append(notes, fmt.Sprintf("%s: %s skipped: %s", s.Name, c.Name, c.Skipped))
			}
		}
		if s.Error != "" {
			notes = append(notes, fmt.Sprintf("%s: FAILED: %s", s.Name, s.Error))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		for _, n := range notes {
			fmt.Fprintln(w, "- "+strings.ReplaceAll(n, "\n", "\n  "))
		}
	}
	printJetmrReports(w, r)
}

// printJetmrReports writes the medians of jetmr's own --report figures for
// every jetmr contender: where the measured wall time goes.
func printJetmrReports(w io.Writer, r *Results) {
	header := false
	for _, s := range r.Scenarios {
		for _, c := range s.Contenders {
			if !c.Jetmr || len(c.Samples) == 0 || c.Samples[0].Report == nil {
				continue
			}
			if !header {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "jetmr's own reports (medians): job wall is from the report, outside = measured wall - job wall (process start, broker start/stop, exit)")
				fmt.Fprintln(w)
				fmt.Fprintln(w, "| scenario | contender | measured s | job wall s | outside s | tasks | slots | busy s | utilization | task p50 ms | overhead/task ms | max RSS MiB |")
				fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
				header = true
			}
			rep := func(f func(*JobReport) float64) float64 {
				return median(c.Samples, func(s Sample) float64 {
					if s.Report == nil {
						return 0
					}
					return f(s.Report)
				})
			}
			jobWall := rep(func(j *JobReport) float64 { return j.WallSeconds })
			outside := median(c.Samples, func(s Sample) float64 {
				if s.Report == nil {
					return 0
				}
				return s.Seconds - s.Report.WallSeconds
			})
			fmt.Fprintf(w, "| %s | %s | %.3f | %.3f | %.3f | %.0f | %.0f | %.3f | %.0f%% | %.2f | %.3f | %.1f |\n",
				s.Name, c.Name, c.MedianSeconds(), jobWall, outside,
				rep(func(j *JobReport) float64 { return float64(j.Tasks) }),
				rep(func(j *JobReport) float64 { return float64(j.Slots) }),
				rep(func(j *JobReport) float64 { return j.BusySeconds }),
				100*rep(func(j *JobReport) float64 { return j.Utilization }),
				1000*rep(func(j *JobReport) float64 { return j.TaskSeconds.P50 }),
				1000*rep(func(j *JobReport) float64 { return j.OverheadSeconds }),
				median(c.Samples, func(s Sample) float64 { return float64(s.MaxRSSKiB) / 1024 }))
		}
	}
}

// writeJSON writes r as indented JSON to path.
func writeJSON(path string, r *Results) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results JSON: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
