package observe

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/jetmr/jetmr/schema"
)

// Default refresh intervals of a [Progress].
const (
	DefaultLogInterval = 5 * time.Second        // a log line per job, when not on a terminal
	DefaultBarInterval = 250 * time.Millisecond // bar refresh, on a terminal
)

// ProgressOption configures a [Progress].
type ProgressOption func(*Progress)

// ProgressInterval sets how often a progress line is written (not on a
// terminal) or the bar is refreshed (on a terminal).
func ProgressInterval(d time.Duration) ProgressOption {
	return func(p *Progress) {
		if d > 0 {
			p.interval = d
		}
	}
}

// Progress shows how far each running job is. On a terminal it draws a
// progress bar on w (meant to be standard error), redrawn in place and
// cleared when the job ends; when several jobs run at once the bar follows
// the one started last. Elsewhere it writes a plain line per running job
// every interval, and one when the job ends:
//
//	jetmr: job J: 120/400 tasks (30%), 1.2 GiB of 4.0 GiB, 8 running, 85 tasks/s, ETA 3s, 0 failed
//
// A migrate job counts rows instead of bytes (see RowsEstimated):
//
//	jetmr: job J: 12/40+ tasks, 12,000/~40,000 rows (30%), 4 running, 6 tasks/s, 6,000 rows/s, ETA 5s, 0 failed
//
// A task counts as done when its final attempt ends (one not marked
// Retried), failed or not; "failed" counts the tasks whose final attempt
// failed. A task that a redelivery runs twice counts twice, capped at the
// total. "running" counts the attempts started and not ended (nor
// dropped, see [DropObserver]): those of each item, for an each job.
// Progress runs a goroutine from NewProgress until Close.
type Progress struct {
	w        io.Writer
	terminal bool
	interval time.Duration

	mu    sync.Mutex
	jobs  map[jobKey]*progressJob
	order []jobKey     // running jobs, oldest first
	shown *progressJob // the job whose bar is on the terminal
	err   error

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type progressJob struct {
	key        jobKey
	start      time.Time
	known      int64 // tasks known so far
	final      bool  // known is the total
	totalBytes int64
	done       int64
	failed     int64
	bytes      int64
	bar        *progressbar.ProgressBar
	barMax     int64
	// A migrate job counts rows: rowJob is set by RowsEstimated, with the
	// estimated total (0 when unknown).
	rowJob  bool
	rowsEst int64
	rows    int64
	// paused holds the reasons new tasks are held back, by cause.
	paused map[string]string
	// running holds the attempts started and not ended.
	running map[attemptKey]struct{}
	// message is the last status message a task reported
	// (reporter:status:MSG), shown at the end of the line.
	message string
}

// NewProgress starts showing progress on w; isTerminal says whether w is a
// terminal (bar) or not (log lines). Call Close to stop it.
func NewProgress(w io.Writer, isTerminal bool, opts ...ProgressOption) *Progress {
	p := &Progress{
		w: w, terminal: isTerminal, interval: DefaultLogInterval,
		jobs: make(map[jobKey]*progressJob),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if isTerminal {
		p.interval = DefaultBarInterval
	}
	for _, o := range opts {
		o(p)
	}
	go p.run()
	return p
}

func (p *Progress) run() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.tick()
		}
	}
}

func (p *Progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.terminal {
		p.drawBar(now)
		return
	}
	for _, k := range p.order {
		p.writeLine("jetmr: " + k.label() + ": " + p.jobs[k].status(now, true) + "\n")
	}
}

// Close stops the goroutine, waits for it, clears a bar still shown and
// returns the first error writing to w. It is idempotent.
func (p *Progress) Close() error {
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, k := range p.order {
			p.clearBar(p.jobs[k])
		}
		clear(p.jobs)
		p.order = nil
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// JobStarted starts tracking the job.
func (p *Progress) JobStarted(job, stage string, totalTasks, totalBytes int64, _ int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := jobKey{job, stage}
	if old := p.jobs[k]; old != nil {
		p.clearBar(old)
		p.order = slices.DeleteFunc(p.order, func(o jobKey) bool { return o == k })
	}
	j := &progressJob{key: k, start: time.Now(), totalBytes: totalBytes}
	if totalTasks >= 0 {
		j.known, j.final = totalTasks, true
	}
	p.jobs[k] = j
	p.order = append(p.order, k)
}

// TasksPublished updates the job's task count.
func (p *Progress) TasksPublished(job, stage string, n int64, total bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[jobKey{job, stage}]; j != nil {
		j.known = max(j.known, n)
		if total {
			j.known, j.final = n, true
		}
	}
}

// RowsEstimated makes the job's progress count rows, towards the estimated
// total: rows take the place of bytes, the bar follows them, and so does
// the ETA. Since the total is an estimate, the rows done may pass it: the
// bar then stays just short of full until the job ends.
func (p *Progress) RowsEstimated(job, stage string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[jobKey{job, stage}]; j != nil {
		j.rowJob, j.rowsEst = true, max(total, 0)
	}
}

// Paused shows the reason new tasks are held back, or stops showing it
// when reason is "": "paused: REASON; " leads the job's progress line.
func (p *Progress) Paused(job, stage, cause, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.jobs[jobKey{job, stage}]
	switch {
	case j == nil:
	case reason == "":
		delete(j.paused, cause)
	default:
		if j.paused == nil {
			j.paused = map[string]string{}
		}
		j.paused[cause] = reason
	}
}

// Counted shows the last status message a task of the job reported.
func (p *Progress) Counted(job, stage string, _ []schema.Counter, status string) {
	if status == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[jobKey{job, stage}]; j != nil {
		j.message = status
	}
}

// AttemptStarted counts the attempt running.
func (p *Progress) AttemptStarted(a Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[jobKey{a.Job, a.Stage}]; j != nil {
		if j.running == nil {
			j.running = make(map[attemptKey]struct{})
		}
		j.running[keyOf(a)] = struct{}{}
	}
}

// AttemptDropped stops counting the attempt running.
func (p *Progress) AttemptDropped(a Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[jobKey{a.Job, a.Stage}]; j != nil {
		delete(j.running, keyOf(a))
	}
}

// AttemptEnded stops counting the attempt running, and counts the task
// when this is its final attempt.
func (p *Progress) AttemptEnded(a Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.jobs[jobKey{a.Job, a.Stage}]
	if j == nil {
		return
	}
	delete(j.running, keyOf(a))
	if !a.final() {
		return
	}
	j.done++
	j.bytes += a.BytesIn
	j.rows += a.Rows
	if a.Failed {
		j.failed++
	}
}

// JobEnded writes the job's last line, or clears its bar, and stops
// tracking it.
func (p *Progress) JobEnded(job, stage string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := jobKey{job, stage}
	j := p.jobs[k]
	if j == nil {
		return
	}
	delete(p.jobs, k)
	p.order = slices.DeleteFunc(p.order, func(o jobKey) bool { return o == k })
	if p.terminal {
		p.clearBar(j)
		return
	}
	p.writeLine("jetmr: " + k.label() + ": " + j.summary(time.Now(), err) + "\n")
}

// current is the job whose bar is shown: the running job started last.
func (p *Progress) current() *progressJob {
	if len(p.order) == 0 {
		return nil
	}
	return p.jobs[p.order[len(p.order)-1]]
}

// writeLine writes one line in one Write; p.mu is held.
func (p *Progress) writeLine(s string) {
	if p.err != nil {
		return
	}
	if _, err := io.WriteString(p.w, s); err != nil {
		p.err = fmt.Errorf("writing progress: %w", err)
	}
}

const barWidth = 24

// drawBar redraws the current job's bar; p.mu is held.
func (p *Progress) drawBar(now time.Time) {
	j := p.current()
	if j != p.shown && p.shown != nil {
		p.clearBar(p.shown) // another job started: its bar takes the line
	}
	p.shown = j
	if j == nil || p.err != nil {
		return
	}
	// The bar must not finish, and clear itself, while splitting goes on.
	barMax, done := j.known, min(j.done, j.known)
	if !j.final {
		barMax++
	}
	if j.rowsEst > 0 { // nor while rows past the estimate go on
		barMax, done = max(j.rowsEst, j.rows+1), j.rows
	}
	if barMax <= 0 {
		return
	}
	if j.bar == nil {
		j.bar = progressbar.NewOptions64(barMax,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(barWidth),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine of its own
			progressbar.OptionEnableColorCodes(false),
		)
		j.barMax = barMax
	} else if barMax != j.barMax {
		j.bar.ChangeMax64(barMax)
		j.barMax = barMax
	}
	if err := j.bar.Set64(done); err != nil && p.err == nil && !isBarRangeError(err) {
		p.err = fmt.Errorf("writing progress: %w", err)
	}
	desc := j.key.label() + ": " + j.status(now, false) // the bar shows the percentage
	if room := terminalWidth(p.w) - barWidth - 12; room > 20 && len(desc) > room {
		desc = desc[:room-1] + "…"
	}
	j.bar.Describe(desc)
}

func isBarRangeError(err error) bool {
	return strings.Contains(err.Error(), "exceeds max")
}

// clearBar erases a job's bar from the terminal; p.mu is held.
func (p *Progress) clearBar(j *progressJob) {
	if j == nil || j.bar == nil {
		return
	}
	if err := j.bar.Clear(); err != nil && p.err == nil {
		p.err = fmt.Errorf("writing progress: %w", err)
	}
	_ = j.bar.Exit()
	j.bar = nil
	if p.shown == j {
		p.shown = nil
	}
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// status is the job's progress: "120/400 tasks (30%), 1.2 GiB of 4.0
// GiB, 8 running, 85 tasks/s, ETA 3s, 0 failed", without the percentage
// unless pct.
func (j *progressJob) status(now time.Time, pct bool) string {
	var b strings.Builder
	for _, cause := range slices.Sorted(maps.Keys(j.paused)) {
		b.WriteString("paused: " + j.paused[cause] + "; ")
	}
	done := j.done
	if j.final {
		done = min(done, j.known)
	}
	switch {
	case j.final && j.known > 0 && pct:
		fmt.Fprintf(&b, "%d/%d tasks (%d%%)", done, j.known, 100*done/j.known)
	case j.final:
		fmt.Fprintf(&b, "%d/%d tasks", done, j.known)
	default:
		fmt.Fprintf(&b, "%d/%d+ tasks", done, j.known)
	}
	b.WriteString(", " + j.volume(pct))
	fmt.Fprintf(&b, ", %d running", len(j.running))
	elapsed := now.Sub(j.start).Seconds()
	rate, rowRate := 0.0, 0.0
	if elapsed > 0 {
		rate, rowRate = float64(j.done)/elapsed, float64(j.rows)/elapsed
	}
	b.WriteString(", " + fmtRate(rate) + " tasks/s")
	if j.rowJob {
		b.WriteString(", " + fmtRate(rowRate) + " rows/s")
	}
	switch {
	case j.final && done >= j.known:
		b.WriteString(", ETA 0s")
	case len(j.paused) > 0:
		b.WriteString(", ETA unknown while paused") // the rate says nothing of when the pause ends
	case j.rowsEst > 0 && j.rows >= j.rowsEst:
		b.WriteString(", ETA soon (past the estimate)")
	case j.rowsEst > 0 && rowRate > 0:
		b.WriteString(", ETA " + fmtRemaining(float64(j.rowsEst-j.rows)/rowRate))
	case j.final && rate > 0:
		b.WriteString(", ETA " + fmtRemaining(float64(j.known-done)/rate))
	default:
		b.WriteString(", ETA unknown")
	}
	fmt.Fprintf(&b, ", %d failed", j.failed)
	if j.message != "" {
		b.WriteString("; status: " + clipStatus(j.message))
	}
	return b.String()
}

// clipStatus shortens a status message to fit a progress line, and keeps
// control characters out of it.
func clipStatus(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	const limit = 60
	if r := []rune(s); len(r) > limit {
		return string(r[:limit-3]) + "..."
	}
	return s
}

// fmtRemaining formats an ETA of secs seconds.
func fmtRemaining(secs float64) string {
	eta := time.Duration(secs * float64(time.Second))
	if eta < time.Second {
		return "<1s"
	}
	return fmtETA(eta)
}

// summary is the job's last line: "400/400 tasks (100%), 4.0 GiB, done in
// 4.7s, 0 failed".
func (j *progressJob) summary(now time.Time, err error) string {
	var b strings.Builder
	done := j.done
	if j.final {
		done = min(done, j.known)
	}
	if j.final && j.known > 0 {
		fmt.Fprintf(&b, "%d/%d tasks (%d%%)", done, j.known, 100*done/j.known)
	} else {
		fmt.Fprintf(&b, "%d tasks", done)
	}
	if j.rowJob {
		b.WriteString(", " + humanize.Comma(j.rows) + " rows")
	} else {
		b.WriteString(", " + humanize.IBytes(uint64(max(j.bytes, 0))))
	}
	took := fmtETA(now.Sub(j.start))
	if err != nil {
		fmt.Fprintf(&b, ", stopped after %s, %d failed: %v", took, j.failed, err)
	} else {
		fmt.Fprintf(&b, ", done in %s, %d failed", took, j.failed)
	}
	return b.String()
}

// volume is how much input is done: "1.2 GiB of 4.0 GiB", or for a
// migrate job "12,000/~40,000 rows (30%)", without the percentage unless
// pct; past the estimate, "41,000/~40,000 rows (>100%)".
func (j *progressJob) volume(pct bool) string {
	if j.rowJob {
		done := humanize.Comma(j.rows)
		switch {
		case j.rowsEst <= 0:
			return done + " rows"
		case !pct:
			return done + "/~" + humanize.Comma(j.rowsEst) + " rows"
		case j.rows > j.rowsEst:
			return done + "/~" + humanize.Comma(j.rowsEst) + " rows (>100%)"
		}
		return fmt.Sprintf("%s/~%s rows (%d%%)", done, humanize.Comma(j.rowsEst), 100*j.rows/j.rowsEst)
	}
	done := humanize.IBytes(uint64(max(j.bytes, 0)))
	if j.totalBytes > 0 {
		return done + " of " + humanize.IBytes(uint64(j.totalBytes))
	}
	return done
}

// fmtRate keeps two significant digits below 10 and none above.
func fmtRate(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'g', 2, 64)
}

// fmtETA rounds to the second under an hour and to the minute above.
func fmtETA(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}
