package observe

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// Stage is one stage of a multi-stage job, for the page's critical path
// section.
type Stage struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Critical marks the stages on the job's critical path.
	Critical  bool     `json:"critical,omitempty"`
	DependsOn []string `json:"depends_on,omitempty"`
}

// PageData is what the run report page shows. Report is required; the
// timeline, histogram and stragglers need Attempts, and the critical path
// section is shown when Stages is not empty.
type PageData struct {
	Report   *report.Report
	Attempts []Attempt
	Stages   []Stage
	// DroppedAttempts counts attempts left out of Attempts (see Recorder).
	DroppedAttempts int64
}

// StragglerFactor is how many times the median duration an attempt must
// take to be called a straggler; the page lists the MaxStragglers longest.
const (
	StragglerFactor = 2.0
	MaxStragglers   = 10
)

//go:embed page.gohtml
var pageSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

// RenderHTML writes the run report page of r and its attempts to w.
func RenderHTML(w io.Writer, r *report.Report, attempts []Attempt) error {
	return RenderPage(w, PageData{Report: r, Attempts: attempts})
}

// RenderPage writes the run report page to w: one self-contained HTML
// document with inline CSS and SVG, no script and nothing loaded from
// elsewhere. It shows the headline figures against the targets, the advice,
// per-worker utilization, a timeline of every attempt on its worker slot, a
// histogram of attempt durations, the stragglers, the stages and their
// critical path when given, and the dead letters.
func RenderPage(w io.Writer, d PageData) error {
	if d.Report == nil {
		return fmt.Errorf("rendering the report page: no report")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pageTemplate.Execute(bw, buildView(d)); err != nil {
		return fmt.Errorf("rendering the report page: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the report page: %w", err)
	}
	return nil
}

// px is an SVG coordinate, printed with at most one decimal.
type px float64

func (p px) String() string { return strconv.FormatFloat(math.Round(float64(p)*10)/10, 'f', -1, 64) }

type pageView struct {
	Title, Job, Kind string
	Facts            []string
	Targets, Cards   []card
	Advice           []string
	Workers          []workerRow
	Timeline         *chart
	Histogram        *chart
	Stragglers       *stragglers
	Stages           *chart
	CriticalPath     string
	DeadLetters      []deadRow
	Counters         []schema.Counter
	Malformed        []string
	Dropped          string
	NAttempts        int
}

type card struct {
	Label, Value, Detail, Target, Status string
}

type workerRow struct {
	Name         string
	Slots, Tasks int
	Busy, Util   string
	Low          bool
	Fill, Target px
}

// chart is an SVG drawing: lanes or bins, axis ticks and bars.
type chart struct {
	Width, Height px
	PlotX, PlotY  px
	PlotW, PlotH  px
	Bands         []rect
	Labels        []label
	Grid          []line
	Bars          []rect
	Marks         []line
	Legend        []legendItem
	Note          string
	AxisLabel     string
}

// PlotBottom, PlotRight and AxisLabelY place the x axis and its caption.
func (c *chart) PlotBottom() px { return c.PlotY + c.PlotH }
func (c *chart) PlotRight() px  { return c.PlotX + c.PlotW }
func (c *chart) AxisLabelY() px { return c.PlotY + c.PlotH + 30 }

type rect struct {
	X, Y, W, H px
	Class      string
	Title      string
}

type label struct {
	X, Y   px
	Text   string
	Anchor string
	Class  string
	Title  string
}

type line struct {
	X1, Y1, X2, Y2 px
	Class          string
	Text           string
	TX, TY         px
	Anchor         string
}

type legendItem struct{ Class, Text string }

type stragglers struct {
	Median, Threshold string
	Count             int
	Rows              []stragglerRow
}

type stragglerRow struct {
	Index                       uint64
	Attempt, Slot               int
	Worker, Duration, Factor    string
	BytesIn, Status, StatusTone string
}

type deadRow struct {
	Index    uint64
	Attempts int
	Worker   string
	Input    string
	Error    string
	Stderr   string
}

func buildView(d PageData) pageView {
	r := d.Report
	v := pageView{
		Title: "jetmr run report: job " + r.Job, Job: r.Job, Kind: string(r.Kind),
		Advice: r.Advice, Malformed: r.Malformed, NAttempts: len(d.Attempts),
	}
	v.Facts = append(v.Facts, fmt.Sprintf("%d tasks", r.Tasks))
	if r.Failed > 0 {
		v.Facts = append(v.Facts, fmt.Sprintf("%d failed", r.Failed))
	}
	v.Facts = append(v.Facts, fmtSeconds(r.WallSeconds)+" wall", fmt.Sprintf("%d slots", r.Slots))
	if len(r.Workers) > 0 {
		noun := "workers"
		if len(r.Workers) == 1 {
			noun = "worker"
		}
		v.Facts = append(v.Facts, fmt.Sprintf("%d %s", len(r.Workers), noun))
	}
	for _, h := range headline(r) {
		v.Targets = append(v.Targets, card{Label: h.Label, Value: h.Value, Target: "target " + h.Target, Detail: h.Detail, Status: h.Status})
	}
	tasksDetail := "all succeeded"
	if r.Failed > 0 {
		tasksDetail = fmt.Sprintf("%d failed", r.Failed)
	}
	if r.Committed > 0 {
		tasksDetail += fmt.Sprintf(" · %d already committed, %d run now", r.Committed, r.Executed)
	}
	v.Cards = append(v.Cards,
		card{Label: "Tasks", Value: strconv.Itoa(r.Tasks), Detail: tasksDetail},
		card{Label: "Wall time", Value: fmtSeconds(r.WallSeconds), Detail: fmt.Sprintf("%s busy on %d slots", fmtSeconds(r.BusySeconds), r.Slots)},
		card{Label: "Task time (p50)", Value: fmtSeconds(r.TaskSeconds.P50),
			Detail: fmt.Sprintf("p90 %s · max %s · overhead %s/task", fmtSeconds(r.TaskSeconds.P90), fmtSeconds(r.TaskSeconds.Max), fmtSeconds(r.OverheadSeconds))},
		card{Label: "Data", Value: humanize.IBytes(uint64(max(r.BytesIn, 0))) + " in", Detail: humanize.IBytes(uint64(max(r.BytesOut, 0))) + " out"},
	)
	const ubarW = 240
	for _, wr := range r.Workers {
		v.Workers = append(v.Workers, workerRow{
			Name: wr.Name, Slots: wr.Slots, Tasks: wr.Tasks, Busy: fmtSeconds(wr.BusySeconds),
			Util: fmtPct(wr.Utilization), Low: !report.MeetsTarget(wr.Utilization, report.TargetUtilization),
			Fill: px(ubarW * min(max(wr.Utilization, 0), 1)), Target: px(ubarW * report.TargetUtilization),
		})
	}
	// Attempts without a start time cannot be placed on the timeline.
	placed := slices.DeleteFunc(slices.Clone(d.Attempts), func(a Attempt) bool { return a.Start.IsZero() })
	if len(placed) > 0 {
		v.Timeline = timeline(r, placed)
		v.Histogram, v.Stragglers = durations(placed)
	}
	if d.DroppedAttempts > 0 {
		v.Dropped = fmt.Sprintf("%s more attempts ran than were recorded; the timeline, histogram and stragglers show the first %s.",
			humanize.Comma(d.DroppedAttempts), humanize.Comma(int64(len(d.Attempts))))
	}
	if len(d.Stages) > 0 {
		v.Stages, v.CriticalPath = stageChart(d.Stages, r.WallSeconds)
	}
	v.Counters = r.Counters
	for _, dl := range r.DeadLetters {
		v.DeadLetters = append(v.DeadLetters, deadRow{
			Index: dl.Index, Attempts: dl.Attempts, Worker: dl.Worker, Input: inputOf(dl),
			Error: errorOf(dl), Stderr: strings.TrimRight(dl.Error.StderrTail, "\n"),
		})
	}
	return v
}

// Chart geometry, in SVG user units (pixels at 100% zoom).
const (
	chartW     = 1120.0
	laneLabelW = 170.0
	laneH      = 18.0
	barH       = 12.0
	axisH      = 26.0
	rightPad   = 14.0
)

// lane is a row of the timeline: a worker's slot, and in a pipeline's
// report a stage's job too, as stages running at once in one worker
// number their slots alike.
type lane struct {
	worker string
	job    string
	slot   int
}

// timeline draws each attempt as a bar on its worker slot's lane.
func timeline(r *report.Report, attempts []Attempt) *chart {
	t0, t1 := span(attempts)
	// Lanes: the report's workers in order, then others by name; slots up.
	rank := make(map[string]int)
	for i, wr := range r.Workers {
		rank[wr.Name] = i
	}
	jobs := make(map[string]bool)
	for _, a := range attempts {
		jobs[a.Job] = true
	}
	laneOf := func(a Attempt) lane {
		if len(jobs) > 1 {
			return lane{a.Worker, a.Job, a.Slot}
		}
		return lane{worker: a.Worker, slot: a.Slot}
	}
	short := stageNames(jobs)
	seen := make(map[lane]bool)
	var lanes []lane
	for _, a := range attempts {
		if l := laneOf(a); !seen[l] {
			seen[l] = true
			lanes = append(lanes, l)
		}
	}
	slices.SortFunc(lanes, func(a, b lane) int {
		ra, oka := rank[a.worker]
		rb, okb := rank[b.worker]
		switch {
		case oka && okb && ra != rb:
			return cmp.Compare(ra, rb)
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.worker, b.worker), strings.Compare(a.job, b.job), cmp.Compare(a.slot, b.slot))
	})
	laneY := make(map[lane]float64, len(lanes))
	c := &chart{Width: chartW, PlotX: laneLabelW, PlotY: axisH, PlotW: chartW - laneLabelW - rightPad}
	c.PlotH = px(float64(len(lanes)) * laneH)
	c.Height = c.PlotY + c.PlotH + 8
	group := -1
	for i, l := range lanes {
		y := float64(c.PlotY) + float64(i)*laneH
		laneY[l] = y
		if i == 0 || lanes[i-1].worker != l.worker {
			group++
			name := l.worker
			if len([]rune(name)) > 16 {
				name = string([]rune(name)[:15]) + "…"
			}
			c.Labels = append(c.Labels, label{X: 8, Y: px(y + laneH/2 + 4), Text: name, Class: "lane-worker", Title: "worker " + l.worker})
		}
		if group%2 == 0 {
			c.Bands = append(c.Bands, rect{X: 0, Y: px(y), W: c.Width, H: laneH, Class: "lane-band"})
		}
		text := "slot " + strconv.Itoa(l.slot)
		if l.job != "" {
			text = short[l.job] + " " + strconv.Itoa(l.slot)
		}
		c.Labels = append(c.Labels, label{X: laneLabelW - 10, Y: px(y + laneH/2 + 4), Text: text, Anchor: "end", Class: "lane-slot", Title: "job " + l.job + ", slot " + strconv.Itoa(l.slot)})
	}
	x := c.timeAxis(t0, t1)
	for _, a := range attempts {
		x0 := x(a.Start)
		w := max(x(a.End)-x0, 0.8)
		if a.End.IsZero() {
			w = 0.8
		}
		class := "task-bar"
		switch {
		case a.Superseded:
			class += " superseded"
		case a.Failed && a.Retried:
			class += " retried"
		case a.Failed:
			class += " failed"
		}
		c.Bars = append(c.Bars, rect{
			X: px(x0), Y: px(laneY[laneOf(a)] + (laneH-barH)/2), W: px(w), H: barH,
			Class: class, Title: attemptTitle(a, t0),
		})
	}
	c.Legend = []legendItem{{"swatch ok", "succeeded"}, {"swatch retried", "failed, retried"}, {"swatch failed", "failed for good"}}
	if slices.ContainsFunc(attempts, func(a Attempt) bool { return a.Superseded }) {
		c.Legend = append(c.Legend, legendItem{"swatch superseded", "stopped: another attempt's result counted"})
	}
	c.Note = fmt.Sprintf("%d attempts on %d slots over %s", len(attempts), len(lanes), fmtDuration(t1.Sub(t0)))
	return c
}

func span(attempts []Attempt) (t0, t1 time.Time) {
	for _, a := range attempts {
		if t0.IsZero() || a.Start.Before(t0) {
			t0 = a.Start
		}
		end := a.End
		if end.IsZero() {
			end = a.Start
		}
		if end.After(t1) {
			t1 = end
		}
	}
	return t0, t1
}

func attemptTitle(a Attempt, t0 time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %d, attempt %d on %s slot %d\n", a.Index, a.Attempt, a.Worker, a.Slot)
	fmt.Fprintf(&b, "%s, from +%s\n", fmtDuration(a.Duration()), fmtDuration(a.Start.Sub(t0)))
	fmt.Fprintf(&b, "%s in, %s out", humanize.IBytes(uint64(max(a.BytesIn, 0))), humanize.IBytes(uint64(max(a.BytesOut, 0))))
	switch {
	case a.Failed && a.Signal != "":
		fmt.Fprintf(&b, "\nfailed: signal %s", a.Signal)
	case a.Failed && a.ExitCode != 0:
		fmt.Fprintf(&b, "\nfailed: exit status %d", a.ExitCode)
	case a.Failed:
		b.WriteString("\nfailed")
	}
	if a.Failed && a.Retried {
		b.WriteString(", retried")
	}
	if a.Superseded {
		b.WriteString("\nstopped: another attempt's result counted (superseded)")
	}
	return b.String()
}

// niceSteps are the tick spacings of time axes.
var niceSteps = []time.Duration{
	time.Microsecond, 2 * time.Microsecond, 5 * time.Microsecond,
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeTicks returns about eight evenly spaced round offsets within total.
func timeTicks(total time.Duration) []time.Duration {
	if total <= 0 {
		return []time.Duration{0}
	}
	step := niceSteps[len(niceSteps)-1]
	for _, s := range niceSteps {
		if total/s <= 8 {
			step = s
			break
		}
	}
	var out []time.Duration
	for t := time.Duration(0); t <= total; t += step {
		out = append(out, t)
	}
	return out
}

func fmtTick(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// durations draws the histogram of attempt durations and finds the
// stragglers.
func durations(attempts []Attempt) (*chart, *stragglers) {
	ds := make([]time.Duration, len(attempts))
	for i, a := range attempts {
		ds[i] = a.Duration()
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	median := sorted[(len(sorted)-1)/2]
	p90 := sorted[min(int(0.9*float64(len(sorted))+0.5), len(sorted))-1]
	longest := sorted[len(sorted)-1]
	threshold := time.Duration(StragglerFactor * float64(median))

	const (
		left, bottom, top = 56.0, 34.0, 24.0 + markRowH
		height            = 240.0 + markRowH
	)
	c := &chart{Width: chartW, Height: height, PlotX: left, PlotY: top, PlotW: chartW - left - rightPad, PlotH: height - top - bottom}
	nbins := min(40, max(10, len(ds)/2))
	step := niceBinWidth(longest, nbins)
	nbins = int(longest/step) + 1
	ok := make([]int, nbins)
	bad := make([]int, nbins)
	for i, d := range ds {
		b := min(int(d/step), nbins-1)
		if attempts[i].Failed {
			bad[b]++
		} else {
			ok[b]++
		}
	}
	maxCount := 1
	for i := range ok {
		maxCount = max(maxCount, ok[i]+bad[i])
	}
	yMax := niceCount(maxCount)
	binW := float64(c.PlotW) / float64(nbins)
	y := func(n int) float64 { return float64(c.PlotY+c.PlotH) - float64(n)/float64(yMax)*float64(c.PlotH) }
	xOf := func(d time.Duration) float64 {
		return float64(c.PlotX) + float64(d)/float64(step)*binW
	}
	for _, n := range []int{0, yMax / 2, yMax} {
		yy := px(y(n))
		c.Grid = append(c.Grid, line{X1: c.PlotX, Y1: yy, X2: c.PlotX + c.PlotW, Y2: yy, Class: "grid",
			Text: strconv.Itoa(n), TX: c.PlotX - 8, TY: yy + 4, Anchor: "end"})
	}
	labelEvery := max(1, nbins/8)
	for i := 0; i <= nbins; i += labelEvery {
		xx := px(xOf(time.Duration(i) * step))
		c.Labels = append(c.Labels, label{X: xx, Y: c.PlotY + c.PlotH + 16, Text: fmtTick(time.Duration(i) * step), Anchor: "middle"})
	}
	for i := range nbins {
		lo, hi := time.Duration(i)*step, time.Duration(i+1)*step
		x0 := px(float64(c.PlotX) + float64(i)*binW + 1)
		w := px(max(binW-2, 1))
		title := fmt.Sprintf("%s – %s: %d attempts", fmtDuration(lo), fmtDuration(hi), ok[i]+bad[i])
		if bad[i] > 0 {
			title += fmt.Sprintf(" (%d failed)", bad[i])
		}
		if ok[i] > 0 {
			c.Bars = append(c.Bars, rect{X: x0, Y: px(y(ok[i] + bad[i])), W: w, H: px(y(bad[i]) - y(ok[i]+bad[i])), Class: "hist-bar", Title: title})
		}
		if bad[i] > 0 {
			c.Bars = append(c.Bars, rect{X: x0, Y: px(y(bad[i])), W: w, H: px(y(0) - y(bad[i])), Class: "hist-bar failed", Title: title})
		}
	}
	rows := make([][][2]float64, 2) // label extents, by row
	mark := func(d time.Duration, class, text, anchor string) {
		xx := px(min(xOf(d), float64(c.PlotX+c.PlotW)))
		ext := labelExtent(float64(xx), text, anchor)
		row := 0
		for row < len(rows)-1 && overlapsAny(ext, rows[row]) {
			row++ // a label that would overlap one placed goes a row higher
		}
		rows[row] = append(rows[row], ext)
		ty := c.PlotY - 10 - px(float64(row)*markRowH)
		c.Marks = append(c.Marks, line{X1: xx, Y1: ty + 4, X2: xx, Y2: c.PlotY + c.PlotH, Class: class,
			Text: text, TX: xx, TY: ty, Anchor: anchor})
	}
	mark(median, "mark median", "p50 "+fmtDuration(median), "end")
	mark(p90, "mark p90", "p90 "+fmtDuration(p90), "start")
	if threshold > p90 && threshold < longest {
		mark(threshold, "mark threshold", fmt.Sprintf("%g× median", StragglerFactor), "start")
	}
	c.AxisLabel = "attempt duration"
	c.Legend = []legendItem{{"swatch ok", "succeeded"}, {"swatch failed", "failed"}}
	c.Note = fmt.Sprintf("%d attempts in bins of %s", len(ds), fmtDuration(step))

	s := &stragglers{Median: fmtDuration(median), Threshold: fmtDuration(threshold)}
	idx := make([]int, 0)
	for i, d := range ds {
		if median > 0 && d > threshold {
			idx = append(idx, i)
		}
	}
	s.Count = len(idx)
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ds[b], ds[a]) })
	for _, i := range idx[:min(len(idx), MaxStragglers)] {
		a := attempts[i]
		status, tone := "succeeded", "ok"
		switch {
		case a.Superseded:
			status, tone = "superseded", "warn"
		case a.Failed && a.Retried:
			status, tone = "failed, retried", "warn"
		case a.Failed:
			status, tone = "failed", "bad"
		}
		s.Rows = append(s.Rows, stragglerRow{
			Index: a.Index, Attempt: a.Attempt, Slot: a.Slot, Worker: a.Worker,
			Duration: fmtDuration(ds[i]), Factor: fmt.Sprintf("%.1f×", float64(ds[i])/float64(median)),
			BytesIn: humanize.IBytes(uint64(max(a.BytesIn, 0))), Status: status, StatusTone: tone,
		})
	}
	return c, s
}

// niceBinWidth returns a round bin width giving at most about n bins up to
// longest.
func niceBinWidth(longest time.Duration, n int) time.Duration {
	if longest <= 0 {
		return time.Millisecond
	}
	raw := float64(longest) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return max(time.Duration(m*mag), 1)
		}
	}
	return max(time.Duration(10*mag), 1)
}

// niceCount rounds a count up to an even number with one or two leading
// digits, for the histogram's y axis.
func niceCount(n int) int {
	if n <= 2 {
		return 2
	}
	mag := int(math.Pow(10, math.Floor(math.Log10(float64(n)))))
	for _, m := range []int{1, 2, 4, 5, 6, 8, 10} {
		if m*mag >= n && (m*mag)%2 == 0 {
			return m * mag
		}
	}
	return 10 * mag
}

// stageNames names each job of a pipeline's attempts by its stage: the job
// ID without the pipeline ID ("ID-NAME"), at most 8 characters.
func stageNames(jobs map[string]bool) map[string]string {
	prefix := ""
	first := true
	for j := range jobs {
		p := j[:strings.LastIndexByte(j, '-')+1]
		switch {
		case first:
			prefix, first = p, false
		case p != prefix:
			prefix = ""
		}
	}
	names := make(map[string]string, len(jobs))
	for j := range jobs {
		n := []rune(strings.TrimPrefix(j, prefix))
		if len(n) > 8 {
			n = append(n[:7], '…')
		}
		names[j] = string(n)
	}
	return names
}

// markRowH is the height of a row of mark labels above the histogram.
const markRowH = 14.0

// markCharW is a generous width of a character of a mark label (11px,
// bold), so that labels judged apart never touch.
const markCharW = 7.5

// labelExtent is the horizontal extent of a label at x, with a gap.
func labelExtent(x float64, text, anchor string) [2]float64 {
	w := markCharW * float64(utf8.RuneCountInString(text))
	switch anchor {
	case "end":
		return [2]float64{x - w - 4, x + 4}
	case "middle":
		return [2]float64{x - w/2 - 4, x + w/2 + 4}
	}
	return [2]float64{x - 4, x + w + 4}
}

func overlapsAny(e [2]float64, others [][2]float64) bool {
	for _, o := range others {
		if e[0] < o[1] && o[0] < e[1] {
			return true
		}
	}
	return false
}

// stageChart draws the stages on a timeline and names the critical path.
func stageChart(stages []Stage, wall float64) (*chart, string) {
	ss := slices.Clone(stages)
	slices.SortStableFunc(ss, func(a, b Stage) int { return a.Start.Compare(b.Start) })
	var t0, t1 time.Time
	for _, s := range ss {
		if t0.IsZero() || s.Start.Before(t0) {
			t0 = s.Start
		}
		end := s.End
		if end.IsZero() {
			end = s.Start
		}
		if end.After(t1) {
			t1 = end
		}
	}
	const stageH = 26.0
	c := &chart{Width: chartW, PlotX: laneLabelW, PlotY: axisH, PlotW: chartW - laneLabelW - rightPad}
	c.PlotH = px(float64(len(ss)) * stageH)
	c.Height = c.PlotY + c.PlotH + 8
	x := c.timeAxis(t0, t1)
	var crit []string
	var cStart, cEnd time.Time
	for i, s := range ss {
		y := float64(c.PlotY) + float64(i)*stageH
		if i%2 == 0 {
			c.Bands = append(c.Bands, rect{X: 0, Y: px(y), W: c.Width, H: stageH, Class: "lane-band"})
		}
		c.Labels = append(c.Labels, label{X: 8, Y: px(y + stageH/2 + 4), Text: s.Name, Class: "lane-worker"})
		end := s.End
		if end.IsZero() {
			end = s.Start
		}
		class := "stage-bar"
		title := fmt.Sprintf("stage %s: %s, from +%s", s.Name, fmtDuration(end.Sub(s.Start)), fmtDuration(s.Start.Sub(t0)))
		if len(s.DependsOn) > 0 {
			title += "\nafter " + strings.Join(s.DependsOn, ", ")
		}
		if s.Critical {
			class += " critical"
			title += "\non the critical path"
			crit = append(crit, s.Name)
			if cStart.IsZero() || s.Start.Before(cStart) {
				cStart = s.Start
			}
			if end.After(cEnd) {
				cEnd = end
			}
		}
		x0 := x(s.Start)
		c.Bars = append(c.Bars, rect{X: px(x0), Y: px(y + 5), W: px(max(x(end)-x0, 1)), H: stageH - 10, Class: class, Title: title})
		if len(s.DependsOn) > 0 {
			c.Labels = append(c.Labels, label{X: laneLabelW - 10, Y: px(y + stageH/2 + 4), Text: "after " + strings.Join(s.DependsOn, ", "), Anchor: "end", Class: "lane-slot"})
		}
	}
	c.Legend = []legendItem{{"swatch critical", "critical path"}, {"swatch ok", "other stages"}}
	path := ""
	if len(crit) > 0 {
		path = fmt.Sprintf("Critical path: %s, %s", strings.Join(crit, " → "), fmtDuration(cEnd.Sub(cStart)))
		if wall > 0 {
			path += " of " + fmtSeconds(wall) + " wall time"
		}
		path += "."
	}
	return c, path
}

// timeAxis draws the grid of time ticks from t0 to t1 across the plot and
// returns the mapping from a time to its x position.
func (c *chart) timeAxis(t0, t1 time.Time) func(time.Time) float64 {
	total := t1.Sub(t0)
	x := func(t time.Time) float64 {
		if total <= 0 {
			return float64(c.PlotX)
		}
		return float64(c.PlotX) + float64(t.Sub(t0))/float64(total)*float64(c.PlotW)
	}
	for _, tk := range timeTicks(total) {
		xx := px(x(t0.Add(tk)))
		c.Grid = append(c.Grid, line{X1: xx, Y1: c.PlotY - 4, X2: xx, Y2: c.PlotY + c.PlotH, Class: "grid",
			Text: fmtTick(tk), TX: xx, TY: c.PlotY - 9, Anchor: "middle"})
	}
	return x
}
