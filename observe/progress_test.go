package observe_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/testbuf"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

var progressLine = regexp.MustCompile(`^jetmr: job wc-2025 stage map: \d+/\d+\+? tasks( \(\d+%\))?, [0-9.]+ [KMGT]?i?B( of [0-9.]+ [KMGT]?i?B)?, \d+ running, [0-9.]+ tasks/s, ETA (unknown|<1s|[0-9hms]+), \d+ failed$`)

func TestProgressLog(t *testing.T) {
	r := sampleRun()
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, false, observe.ProgressInterval(5*time.Millisecond))
	p.JobStarted(r.job, r.stage, -1, r.totalBytes, r.slots)
	p.TasksPublished(r.job, r.stage, 10, false)
	eventually(t, 5*time.Second, "a progress line while splitting", func() bool { return strings.Contains(buf.String(), "0/10+ tasks") })
	p.TasksPublished(r.job, r.stage, int64(r.tasks), true)
	done := 0
	for _, a := range r.attempts {
		p.AttemptStarted(a)
		p.AttemptEnded(a)
		if !a.Retried {
			done++
		}
		if done == r.tasks/2 {
			break
		}
	}
	eventually(t, 5*time.Second, "a line at 50%", func() bool { return strings.Contains(buf.String(), "32/64 tasks (50%)") })
	p.JobEnded(r.job, r.stage, errors.New("interrupted"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("progress log has carriage returns or escapes: %q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		if !progressLine.MatchString(l) {
			t.Errorf("line %q does not match %s", l, progressLine)
		}
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "jetmr: job wc-2025 stage map: 32/64 tasks (50%),") || !strings.HasSuffix(last, "0 failed: interrupted") {
		t.Errorf("last line %q", last)
	}
	// Nothing is written after the job ended and Close returned.
	if buf.String() != out {
		t.Error("output after Close")
	}
}

func TestProgressLogFormat(t *testing.T) {
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, false, observe.ProgressInterval(time.Millisecond))
	defer p.Close()
	p.JobStarted("J", "", 400, 4<<30, 8)
	for i := range 120 {
		a := observe.Attempt{Job: "J", Index: uint64(i), Attempt: 1, Worker: "w", BytesIn: 1288490188 / 120, Failed: i == 7}
		p.AttemptStarted(a)
		p.AttemptEnded(a)
	}
	// Three attempts start; one of them is dropped (its end was lost),
	// and another attempt of a task ended already is not counted twice.
	for i := range 3 {
		p.AttemptStarted(observe.Attempt{Job: "J", Index: uint64(120 + i), Attempt: 1, Worker: "w", Slot: i})
	}
	p.AttemptDropped(observe.Attempt{Job: "J", Index: 121, Attempt: 1, Worker: "w", Slot: 1})
	p.AttemptDropped(observe.Attempt{Job: "J", Index: 3, Attempt: 1, Worker: "w"})
	re := regexp.MustCompile(`(?m)^jetmr: job J: 120/400 tasks \(30%\), 1\.2 GiB of 4\.0 GiB, 2 running, [0-9.]+ tasks/s, ETA (<1s|[0-9hms]+), 1 failed$`)
	eventually(t, 5*time.Second, "a line in the documented format", func() bool { return re.MatchString(buf.String()) })
	p.JobEnded("J", "", nil)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^jetmr: job J: 120/400 tasks \(30%\), 1\.2 GiB, done in [0-9hms.µ]+, 1 failed$`).MatchString(buf.String()) {
		t.Errorf("no final line in:\n%s", buf.String())
	}
}

func TestProgressTerminal(t *testing.T) {
	r := sampleRun()
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, true, observe.ProgressInterval(5*time.Millisecond))
	p.JobStarted(r.job, r.stage, int64(r.tasks), r.totalBytes, r.slots)
	for _, a := range r.attempts[:20] {
		p.AttemptEnded(a)
	}
	eventually(t, 5*time.Second, "a progress bar", func() bool {
		s := buf.String()
		return strings.Contains(s, "\r") && strings.Contains(s, "|") && strings.Contains(s, " tasks, ")
	})
	p.JobEnded(r.job, r.stage, nil)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "\n") {
		t.Errorf("the bar wrote a newline: %q", out)
	}
	// The bar is cleared at the end: the output ends by blanking the line.
	if !regexp.MustCompile(`\r +\r$`).MatchString(out) {
		t.Errorf("bar not cleared at the end: %q", out[max(0, len(out)-200):])
	}
}

func TestProgressTerminalUnknownTotal(t *testing.T) {
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, true, observe.ProgressInterval(2*time.Millisecond))
	p.JobStarted("J", "", -1, 0, 2)
	p.TasksPublished("J", "", 3, false)
	for i := range 3 {
		p.AttemptEnded(observe.Attempt{Job: "J", Index: uint64(i)})
	}
	// All known tasks are done but splitting goes on: the bar stays.
	eventually(t, 5*time.Second, "the bar at 3/3+", func() bool { return strings.Contains(buf.String(), "3/3+ tasks") })
	p.TasksPublished("J", "", 5, true)
	eventually(t, 5*time.Second, "the bar at 3/5", func() bool { return strings.Contains(buf.String(), "3/5 tasks") })
	if err := p.Close(); err != nil { // Close clears the bar of a job still running
		t.Fatal(err)
	}
	if out := buf.String(); !regexp.MustCompile(`\r +\r$`).MatchString(out) {
		t.Errorf("bar not cleared by Close: %q", out[max(0, len(out)-200):])
	}
}

// TestProgressRows follows a migrate job's rows towards the estimate, and
// past it, on log lines and on the bar.
func TestProgressRows(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var buf testbuf.Buffer
		p := observe.NewProgress(&buf, terminal, observe.ProgressInterval(2*time.Millisecond))
		var obs observe.Observer = observe.Multi(p) // the job reaches Progress through Multi
		obs.JobStarted("M", "", -1, 0, 2)
		obs.(observe.RowsObserver).RowsEstimated("M", "", 1000)
		obs.TasksPublished("M", "", 5, false)
		obs.AttemptEnded(observe.Attempt{Job: "M", Index: 0, Rows: 250, Failed: true, Retried: true}) // not final: not counted
		for i := range 2 {
			obs.AttemptEnded(observe.Attempt{Job: "M", Index: uint64(i), Rows: 250})
		}
		want := "500/~1,000 rows (50%)"
		if terminal {
			want = "500/~1,000 rows, "
		}
		eventually(t, 5*time.Second, "half the rows", func() bool { return strings.Contains(buf.String(), want) })
		if !terminal && !strings.Contains(buf.String(), " rows/s, ETA ") { // a terminal line is cut at its width
			t.Errorf("terminal %v: no row rate and ETA in %q", terminal, buf.String())
		}
		// The estimate was short: the rows pass it.
		for i := 2; i < 5; i++ {
			obs.AttemptEnded(observe.Attempt{Job: "M", Index: uint64(i), Rows: 250})
		}
		want = "1,250/~1,000 rows (>100%)"
		if terminal {
			want = "1,250/~1,000 rows, "
		}
		eventually(t, 5*time.Second, "rows past the estimate", func() bool { return strings.Contains(buf.String(), want) })
		if !terminal && !strings.Contains(buf.String(), "ETA soon (past the estimate)") {
			t.Errorf("terminal %v: no ETA past the estimate in %q", terminal, buf.String())
		}
		obs.JobEnded("M", "", nil)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if out := buf.String(); !terminal && !strings.Contains(out, "jetmr: job M: 5 tasks, 1,250 rows, done in ") {
			t.Errorf("no summary with the rows done in %q", out)
		}
	}
}

// TestProgressPaused: a pause leads the progress line with its reason,
// through Multi, until it ends; two causes show together.
func TestProgressPaused(t *testing.T) {
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, false, observe.ProgressInterval(5*time.Millisecond))
	defer p.Close()
	obs := observe.Multi(p).(observe.PauseObserver)
	obs.JobStarted("j", "", -1, 0, 1)
	obs.Paused("j", "", "pause-when", `--pause-when "SELECT true" is true`)
	eventually(t, 5*time.Second, "a paused line", func() bool {
		return strings.Contains(buf.String(), `jetmr: job j: paused: --pause-when "SELECT true" is true; 0/0+ tasks`)
	})
	obs.JobStarted("k", "", 10, 0, 1)
	obs.TasksPublished("k", "", 10, true)
	obs.AttemptEnded(observe.Attempt{Job: "k", Index: 0})
	obs.Paused("k", "", "pause-when", "held")
	eventually(t, 5*time.Second, "a paused line with a known total and no ETA from the rate", func() bool {
		return strings.Contains(buf.String(), "jetmr: job k: paused: held; 1/10 tasks") && strings.Contains(buf.String(), "ETA unknown while paused")
	})
	obs.JobEnded("k", "", nil)
	obs.Paused("j", "", "memfree", "--memfree 1.0 TiB: 3.0 GiB available")
	eventually(t, 5*time.Second, "a line with both pauses", func() bool {
		return strings.Contains(buf.String(), `jetmr: job j: paused: --memfree 1.0 TiB: 3.0 GiB available; paused: --pause-when "SELECT true" is true; 0/0+ tasks`)
	})
	obs.Paused("j", "", "pause-when", "")
	obs.Paused("j", "", "memfree", "")
	n := len(buf.String())
	eventually(t, 5*time.Second, "a line without the pause", func() bool {
		rest := buf.String()[n:]
		return strings.Contains(rest, "jetmr: job j: 0/0+ tasks") && !strings.Contains(rest, "paused")
	})
}

// TestProgressStatusMessage checks that the last status message a task
// reported (reporter:status) ends the job's progress line, on one line.
func TestProgressStatusMessage(t *testing.T) {
	var buf testbuf.Buffer
	p := observe.NewProgress(&buf, false, observe.ProgressInterval(5*time.Millisecond))
	defer p.Close()
	obs := observe.Multi(p).(observe.CounterObserver)
	obs.JobStarted("j", "", 4, 0, 1)
	obs.TasksPublished("j", "", 4, true)
	obs.Counted("j", "", []schema.Counter{{Group: "G", Name: "N", Value: 1}}, "")
	obs.Counted("j", "", nil, "mapped 10 lines")
	obs.Counted("j", "", nil, "mapped 20 lines\nof text")
	eventually(t, 5*time.Second, "a line with the status", func() bool {
		return strings.Contains(buf.String(), "0 failed; status: mapped 20 lines of text\n")
	})
}
