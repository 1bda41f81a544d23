package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// Report is a pipeline run's outcome: each stage's times and report, and
// the critical path as it ran.
type Report struct {
	Pipeline string    `json:"pipeline"`
	File     string    `json:"file"`
	Slots    int       `json:"slots"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// WallSeconds is the pipeline's wall time.
	WallSeconds float64 `json:"wall_seconds"`
	// CriticalPath is the chain of dependent stages that took longest in
	// this run, CriticalSeconds their summed run time.
	// EstimatedCriticalPath is the one the plan predicted.
	CriticalPath          []string      `json:"critical_path"`
	CriticalSeconds       float64       `json:"critical_seconds"`
	EstimatedCriticalPath []string      `json:"estimated_critical_path"`
	Stages                []StageReport `json:"stages"`
}

// StageReport is one stage of a pipeline run.
type StageReport struct {
	Name      string      `json:"name"`
	Kind      schema.Kind `json:"kind"`
	Job       string      `json:"job"`
	DependsOn []string    `json:"depends_on,omitempty"`
	// State is StateDone, StateAlreadyDone, StateFailed, StateStopped or
	// StateNotRun.
	State string `json:"state"`
	// Start and End are zero for a stage that did not run in this run.
	Start           time.Time `json:"start,omitzero"`
	End             time.Time `json:"end,omitzero"`
	Seconds         float64   `json:"seconds"`
	EstimateSeconds float64   `json:"estimate_seconds"`
	Slots           int       `json:"slots,omitempty"`
	Critical        bool      `json:"critical,omitempty"`
	Error           string    `json:"error,omitempty"`
	// Report is the stage job's run report.
	Report *report.Report `json:"report,omitempty"`
}

// endReport completes the report: stages that never started, the order
// of the plan, the critical path as run.
func (r *run) endReport() {
	rep := r.report
	rep.End = time.Now()
	rep.WallSeconds = rep.End.Sub(rep.Start).Seconds()
	byName := map[string]StageReport{}
	for _, sr := range rep.Stages {
		byName[sr.Name] = sr
	}
	rep.Stages = rep.Stages[:0]
	nodes := make([]Node, 0, len(r.p.Stages))
	for _, s := range r.p.Stages {
		sr, ok := byName[s.Name]
		if !ok {
			state := r.state[s.Name]
			if state != StateNotRun {
				state = StateStopped // never started: interrupted first
			}
			sr = StageReport{Name: s.Name, Kind: s.Kind, Job: jobID(r.o.ID, s.Name), DependsOn: slices.Clone(s.DependsOn),
				State: state, EstimateSeconds: s.Estimate.Seconds()}
		}
		rep.Stages = append(rep.Stages, sr)
		nodes = append(nodes, Node{Name: s.Name, DependsOn: s.DependsOn, Work: time.Duration(sr.Seconds * float64(time.Second))})
	}
	path, total := CriticalPath(nodes)
	for len(path) > 0 && byName[path[0]].Seconds == 0 {
		path = path[1:] // stages that did not run in this run
	}
	rep.CriticalPath, rep.CriticalSeconds = path, total.Seconds()
	for i := range rep.Stages {
		rep.Stages[i].Critical = slices.Contains(path, rep.Stages[i].Name)
	}
}

// ObserveStages returns the stages for observe's report page.
func (rep *Report) ObserveStages() []observe.Stage {
	var out []observe.Stage
	for _, s := range rep.Stages {
		if s.Start.IsZero() {
			continue
		}
		out = append(out, observe.Stage{Name: s.Name, Start: s.Start, End: s.End, Critical: s.Critical, DependsOn: s.DependsOn})
	}
	return out
}

// Summary adds up the stages' reports into one report for the whole
// pipeline: its tasks, bytes, busy time and dead letters, over the
// pipeline's wall time and slots. Task-time percentiles come from
// attempts when given, else the longest stage maximum.
func (rep *Report) Summary(attempts []observe.Attempt) *report.Report {
	sum := &report.Report{Job: rep.Pipeline, Kind: "pipeline", Slots: rep.Slots, WallSeconds: rep.WallSeconds,
		Workers: []report.WorkerReport{}, DeadLetters: []report.DeadLetter{}, Advice: []string{}}
	for _, s := range rep.Stages {
		r := s.Report
		if r == nil {
			continue
		}
		sum.Tasks += r.Tasks
		sum.Failed += r.Failed
		sum.Executed += r.Executed
		sum.Committed += r.Committed
		sum.BusySeconds += r.BusySeconds
		sum.BytesIn += r.BytesIn
		sum.BytesOut += r.BytesOut
		sum.Rows += r.Rows
		sum.DeadLetters = append(sum.DeadLetters, r.DeadLetters...)
		sum.Malformed = append(sum.Malformed, r.Malformed...)
		sum.TaskSeconds.Max = max(sum.TaskSeconds.Max, r.TaskSeconds.Max)
		for _, a := range r.Advice {
			sum.Advice = append(sum.Advice, "stage "+s.Name+": "+a)
		}
	}
	if sum.WallSeconds > 0 {
		sum.Speedup = sum.BusySeconds / sum.WallSeconds
	}
	if sum.Slots > 0 {
		sum.Efficiency = sum.Speedup / float64(sum.Slots)
		sum.Utilization = sum.Efficiency
	}
	var ds []time.Duration
	for _, a := range attempts {
		if !a.End.IsZero() {
			ds = append(ds, a.Duration())
		}
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		sum.TaskSeconds.P50 = report.Percentile(ds, 0.50).Seconds()
		sum.TaskSeconds.P90 = report.Percentile(ds, 0.90).Seconds()
		sum.TaskSeconds.Max = ds[len(ds)-1].Seconds()
	}
	if sum.Executed > 0 && sum.Slots > 0 {
		sum.OverheadSeconds = max(0, (float64(sum.Slots)*sum.WallSeconds-sum.BusySeconds)/float64(sum.Executed))
	}
	return sum
}

// WriteText writes the stages and the critical path as aligned text.
func (rep *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "pipeline %s: %d stages in %s on %d slots\n", rep.Pipeline, len(rep.Stages), fmtSeconds(rep.WallSeconds), rep.Slots)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  stage\tkind\tstate\tstart\tend\ttook\testimate\tslots")
	for _, s := range rep.Stages {
		start, end, took := "-", "-", "-"
		if !s.Start.IsZero() {
			start, end = "+"+fmtSeconds(s.Start.Sub(rep.Start).Seconds()), "+"+fmtSeconds(s.End.Sub(rep.Start).Seconds())
			took = fmtSeconds(s.Seconds)
		}
		name := s.Name
		if s.Critical {
			name += " *"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, s.Kind, s.State, start, end, took, fmtSeconds(s.EstimateSeconds), s.Slots)
	}
	tw.Flush()
	if len(rep.CriticalPath) > 0 {
		fmt.Fprintf(bw, "critical path (*): %s, %s\n", strings.Join(rep.CriticalPath, " -> "), fmtSeconds(rep.CriticalSeconds))
	}
	for _, s := range rep.Stages {
		if s.Error != "" {
			fmt.Fprintf(bw, "stage %s: %s\n", s.Name, firstLine(s.Error))
		}
	}
	return bw.Flush()
}

func fmtSeconds(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
