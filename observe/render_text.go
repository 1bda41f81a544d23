package observe

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/jetmr/jetmr/report"
)

// RenderText writes the report as aligned text: headline figures against
// the targets, the workers, the dead letters and the advice.
func RenderText(w io.Writer, r *report.Report) error {
	bw := bufio.NewWriter(w)
	kind := ""
	if r.Kind != "" {
		kind = " (" + string(r.Kind) + ")"
	}
	fmt.Fprintf(bw, "jetmr run report: job %s%s\n\n", r.Job, kind)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "tasks\t%s\n", taskSummary(r))
	fmt.Fprintf(tw, "wall time\t%s on %d slots, %s busy\n", fmtSeconds(r.WallSeconds), r.Slots, fmtSeconds(r.BusySeconds))
	for _, h := range headline(r) {
		fmt.Fprintf(tw, "%s\t%s\ttarget %s\t%s\n", strings.ToLower(h.Label), h.Value, h.Target, h.Status)
	}
	ts := r.TaskSeconds
	fmt.Fprintf(tw, "task time\tp50 %s, p90 %s, max %s\n", fmtSeconds(ts.P50), fmtSeconds(ts.P90), fmtSeconds(ts.Max))
	fmt.Fprintf(tw, "overhead\t%s per task\n", fmtSeconds(r.OverheadSeconds))
	fmt.Fprintf(tw, "data\t%s in, %s out\n", humanize.IBytes(uint64(max(r.BytesIn, 0))), humanize.IBytes(uint64(max(r.BytesOut, 0))))
	if r.BackupsRun > 0 {
		fmt.Fprintf(tw, "backups\t%d run, %d won (finished before the attempt they backed up)\n", r.BackupsRun, r.BackupsWon)
	}
	tw.Flush()

	if len(r.Counters) > 0 {
		fmt.Fprintln(bw, "\ncounters")
		rows := [][]string{{"group", "name", "value"}}
		for _, c := range r.Counters {
			value := fmt.Sprint(c.Value)
			if c.Saturated {
				value += " (saturated)"
			}
			rows = append(rows, []string{oneLine(c.Group), oneLine(c.Name), value})
		}
		writeTable(bw, rows)
	}

	if len(r.Workers) > 0 {
		fmt.Fprintln(bw, "\nworkers")
		rows := [][]string{{"name", "slots", "tasks", "busy", "utilization"}}
		for _, wr := range r.Workers {
			rows = append(rows, []string{wr.Name, fmt.Sprint(wr.Slots), fmt.Sprint(wr.Tasks), fmtSeconds(wr.BusySeconds), fmtPct(wr.Utilization)})
		}
		writeTable(bw, rows)
	}
	if len(r.DeadLetters) > 0 {
		fmt.Fprintf(bw, "\ndead letters (%d)\n", len(r.DeadLetters))
		for _, d := range r.DeadLetters {
			fmt.Fprintf(bw, "  task %d: %d attempts, last on %s", d.Index, d.Attempts, d.Worker)
			if in := inputOf(d); in != "" {
				fmt.Fprintf(bw, ", input %s", in)
			}
			fmt.Fprintf(bw, ": %s\n", oneLine(errorOf(d)))
			for _, rec := range d.Records {
				fmt.Fprintf(bw, "    bad record %s\n", oneLine(rec.Describe()))
			}
			if note := d.IsolationNote(); note != "" {
				fmt.Fprintf(bw, "    %s\n", note)
			}
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(bw, "\nskipped records (%d)\n", len(r.Skipped))
		for _, rec := range r.Skipped {
			fmt.Fprintf(bw, "  %s\n", oneLine(rec.Describe()))
		}
	}
	if len(r.Malformed) > 0 {
		fmt.Fprintf(bw, "\nmalformed messages (%d)\n", len(r.Malformed))
		for _, m := range r.Malformed {
			fmt.Fprintf(bw, "  %s\n", oneLine(m))
		}
	}
	fmt.Fprintln(bw, "\nadvice")
	if len(r.Advice) == 0 {
		fmt.Fprintln(bw, "  none: the run met its targets")
	}
	for _, a := range r.Advice {
		fmt.Fprintf(bw, "  - %s\n", oneLine(a))
	}
	return bw.Flush()
}

// writeTable writes rows as columns two spaces apart, indented by two, the
// first column aligned left and the others right.
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func taskSummary(r *report.Report) string {
	s := fmt.Sprintf("%d", r.Tasks)
	var parts []string
	if r.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", r.Failed))
	}
	if r.Committed > 0 {
		parts = append(parts, fmt.Sprintf("%d already committed, %d run now", r.Committed, r.Executed))
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// figure is a headline figure measured against its target.
type figure struct {
	Label, Value, Target, Detail string
	// Status is "met", "missed" or "n/a" (no tasks ran, no slots).
	Status string
}

// headline returns speedup, efficiency and utilization against the targets.
// The speedup target is the efficiency target times the slots.
func headline(r *report.Report) []figure {
	judged := r.Slots > 0 && r.Executed > 0
	status := func(ok bool) string {
		switch {
		case !judged:
			return "n/a"
		case ok:
			return "met"
		default:
			return "missed"
		}
	}
	speedTarget := report.TargetEfficiency * float64(r.Slots)
	return []figure{
		{
			Label: "Speedup", Value: fmt.Sprintf("%.2f×", r.Speedup),
			Target: fmt.Sprintf("≥ %.2f×", speedTarget),
			Detail: fmt.Sprintf("%.0f%% of %d slots", 100*report.TargetEfficiency, r.Slots),
			Status: status(math.Round(100*r.Speedup) >= math.Round(100*speedTarget)), // as printed
		},
		{
			Label: "Efficiency", Value: fmtPct(r.Efficiency),
			Target: "≥ " + fmtPct(report.TargetEfficiency), Detail: "speedup per slot",
			Status: status(report.MeetsTarget(r.Efficiency, report.TargetEfficiency)),
		},
		{
			Label: "Utilization", Value: fmtPct(r.Utilization),
			Target: "≥ " + fmtPct(report.TargetUtilization), Detail: "busy share of worker slot time",
			Status: status(report.MeetsTarget(r.Utilization, report.TargetUtilization)),
		},
	}
}

func fmtPct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

// fmtSeconds formats seconds as a duration rounded to about three digits.
func fmtSeconds(sec float64) string { return fmtDuration(time.Duration(sec * float64(time.Second))) }

func fmtDuration(d time.Duration) string {
	// Keep about three significant digits.
	for _, r := range []struct{ below, unit time.Duration }{
		{time.Millisecond, time.Microsecond},
		{10 * time.Millisecond, 10 * time.Microsecond},
		{100 * time.Millisecond, 100 * time.Microsecond},
		{time.Second, time.Millisecond},
		{10 * time.Second, 10 * time.Millisecond},
		{time.Minute, 100 * time.Millisecond},
	} {
		if d < r.below {
			return d.Round(r.unit).String()
		}
	}
	return d.Round(time.Second).String()
}

func inputOf(d report.DeadLetter) string {
	switch {
	case d.Path != "" && d.Line > 0:
		return fmt.Sprintf("%s:%d", d.Path, d.Line)
	case d.Path != "" && d.Length > 0:
		return fmt.Sprintf("%s bytes %d+%d", d.Path, d.Offset, d.Length)
	default:
		return d.Path
	}
}

func errorOf(d report.DeadLetter) string {
	e := d.Error
	msg := e.Message
	switch {
	case e.Signal != "" && !strings.Contains(msg, e.Signal):
		msg += " (signal " + e.Signal + ")"
	case e.ExitStatus != 0:
		msg += fmt.Sprintf(" (exit status %d)", e.ExitStatus)
	}
	return msg
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}
