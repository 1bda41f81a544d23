package observe_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func loadReport(t *testing.T, name string) *report.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestRenderTextGolden(t *testing.T) {
	for _, name := range []string{"report", "report-ok"} {
		t.Run(name, func(t *testing.T) {
			r := loadReport(t, name+".json")
			var b bytes.Buffer
			if err := observe.RenderText(&b, r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.txt")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("RenderText output differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// page renders a page and checks that it is well-formed: it parses as
// HTML and, since the template writes XHTML-compatible markup, as strict
// XML too.
func page(t *testing.T, d observe.PageData) (string, *html.Node) {
	t.Helper()
	var b bytes.Buffer
	if err := observe.RenderPage(&b, d); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("page does not parse as HTML: %v", err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
	}
	return b.String(), doc
}

// walk calls f on every element of the tree.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

func countClass(doc *html.Node, tag, class string) int {
	n := 0
	walk(doc, func(e *html.Node) {
		if e.Data == tag && hasClass(e, class) {
			n++
		}
	})
	return n
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(e *html.Node) {
		if found == nil && attr(e, "id") == id {
			found = e
		}
	})
	return found
}

// checkSelfContained fails on anything that would load from elsewhere:
// a URL in an attribute, a script, a stylesheet link, an import or url()
// in the CSS. URLs are fine in text.
func checkSelfContained(t *testing.T, doc *html.Node) {
	t.Helper()
	walk(doc, func(e *html.Node) {
		for _, a := range e.Attr {
			v := strings.ToLower(a.Val)
			if strings.Contains(v, "http://") || strings.Contains(v, "https://") || strings.HasPrefix(v, "//") {
				t.Errorf("<%s %s=%q> refers elsewhere", e.Data, a.Key, a.Val)
			}
			if a.Key == "src" || a.Key == "href" || a.Key == "xlink:href" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s=%q>: the page must load and run nothing", e.Data, a.Key, a.Val)
			}
		}
		switch e.Data {
		case "script", "link", "iframe", "img", "object", "embed":
			t.Errorf("page has a <%s> element", e.Data)
		case "style":
			css := strings.ToLower(textOf(e))
			if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
				t.Error("the page's CSS loads something")
			}
		}
	})
}

func TestRenderHTML(t *testing.T) {
	r := sampleRun()
	hostile := *r.report
	hostile.Job = `wc<script>alert("x")</script>&`
	hostile.Advice = append([]string{"see https://example.com/tuning for <b>chunk</b> sizes"}, hostile.Advice...)
	hostileAttempts := append([]observe.Attempt(nil), r.attempts...)
	hostileAttempts[0].Worker = `w"><script>alert(1)</script>`
	counted := *r.report
	counted.Counters = []schema.Counter{{Group: "Input", Name: "Lines", Value: 1234}, {Group: "<b>g</b>", Name: "n", Value: -1}}

	tests := []struct {
		name       string
		data       observe.PageData
		bars       int
		sections   []string
		noSections []string
		texts      []string
	}{
		{
			name: "run", data: observe.PageData{Report: r.report, Attempts: r.attempts},
			bars:       len(r.attempts),
			sections:   []string{"advice", "workers", "timeline", "durations", "stragglers", "dead-letters"},
			noSections: []string{"stages", "malformed"},
			texts:      []string{"✗ missed", "✓ met", "target ≥ 80%", "task 33, attempt 3 on alpha-7f3c:4121", "wc killed by signal killed", "wc: memory exhausted"},
		},
		{
			name: "stages", data: observe.PageData{Report: r.report, Attempts: r.attempts, Stages: r.stages, DroppedAttempts: 1234},
			bars:     len(r.attempts),
			sections: []string{"timeline", "stages"},
			texts:    []string{"Critical path: split → map → reduce", "1,234 more attempts ran than were recorded"},
		},
		{
			name: "report only", data: observe.PageData{Report: r.report},
			sections:   []string{"advice", "workers"},
			noSections: []string{"timeline", "durations", "stragglers", "stages"},
		},
		{
			name: "counters", data: observe.PageData{Report: &counted},
			sections: []string{"counters"},
			texts:    []string{"InputLines1234", "<b>g</b>n-1"},
		},
		{
			name: "empty report", data: observe.PageData{Report: &report.Report{Job: "empty"}},
			noSections: []string{"workers", "timeline", "dead-letters", "counters"},
			texts:      []string{"n/a", "No advice"},
		},
		{
			name: "hostile strings", data: observe.PageData{Report: &hostile, Attempts: hostileAttempts},
			bars:  len(r.attempts),
			texts: []string{`wc<script>alert("x")</script>&`, "https://example.com/tuning for <b>chunk</b>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, doc := page(t, tc.data)
			checkSelfContained(t, doc)
			if got := countClass(doc, "rect", "task-bar"); got != tc.bars {
				t.Errorf("%d task bars, want %d", got, tc.bars)
			}
			if got := strings.Count(src, `class="task-bar`); got != tc.bars {
				t.Errorf("%d task-bar classes in the source, want %d", got, tc.bars)
			}
			for _, id := range tc.sections {
				if byID(doc, id) == nil {
					t.Errorf("no section %q", id)
				}
			}
			for _, id := range tc.noSections {
				if byID(doc, id) != nil {
					t.Errorf("unexpected section %q", id)
				}
			}
			text := textOf(doc)
			for _, s := range tc.texts {
				if !strings.Contains(text, s) {
					t.Errorf("page text lacks %q", s)
				}
			}
		})
	}
}

func TestRenderHTMLBars(t *testing.T) {
	r := sampleRun()
	_, doc := page(t, observe.PageData{Report: r.report, Attempts: r.attempts})
	failed, retried, titled := 0, 0, 0
	walk(doc, func(e *html.Node) {
		if e.Data != "rect" || !hasClass(e, "task-bar") || e.Parent.Data != "svg" || !hasClass(e.Parent, "chart") {
			return
		}
		if hasClass(e, "failed") {
			failed++
		}
		if hasClass(e, "retried") {
			retried++
		}
		if c := e.FirstChild; c != nil && c.Data == "title" && strings.HasPrefix(textOf(c), "task ") {
			titled++
		}
	})
	// Task 33 fails three times (twice retried), task 17 once (retried).
	if failed != 1 || retried != 3 {
		t.Errorf("%d failed and %d retried bars, want 1 and 3", failed, retried)
	}
	if titled != len(r.attempts) {
		t.Errorf("%d bars have a tooltip, want %d", titled, len(r.attempts))
	}
	// Stragglers: task 41 (6.2s) and the doubled task 28, longest first.
	rows := 0
	walk(byID(doc, "stragglers"), func(e *html.Node) {
		if e.Data == "tr" && e.Parent.Data == "tbody" {
			rows++
			if rows == 1 && !strings.HasPrefix(textOf(e), "41") {
				t.Errorf("first straggler row %q, want task 41", textOf(e))
			}
		}
	})
	if rows == 0 || rows > observe.MaxStragglers {
		t.Errorf("%d straggler rows", rows)
	}
}

func TestRenderHTMLManyAttempts(t *testing.T) {
	r := sampleRun()
	t0 := r.attempts[0].Start
	var many []observe.Attempt
	for i := range 3000 {
		many = append(many, observe.Attempt{
			Job: "big", Index: uint64(i), Attempt: 1, Worker: "w" + string(rune('a'+i%7)), Slot: i % 16,
			Start: t0.Add(time.Duration(i) * time.Millisecond), End: t0.Add(time.Duration(i)*time.Millisecond + time.Duration(1+i%97)*time.Millisecond),
		})
	}
	_, doc := page(t, observe.PageData{Report: r.report, Attempts: many})
	if got := countClass(doc, "rect", "task-bar"); got != len(many) {
		t.Errorf("%d task bars, want %d", got, len(many))
	}
}

func TestRenderPageNoReport(t *testing.T) {
	if err := observe.RenderPage(io.Discard, observe.PageData{}); err == nil {
		t.Error("RenderPage without a report succeeded")
	}
}

// svgFloat reads a numeric SVG attribute.
func svgFloat(t *testing.T, n *html.Node, key string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(attr(n, key), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.Data, key, attr(n, key), err)
	}
	return f
}

// TestRenderHTMLMarkLabelsApart draws a histogram whose p90 is next to
// twice the median: the labels of the marks must not overlap, judged with
// 6.5px per character of the 11px bold font.
func TestRenderHTMLMarkLabelsApart(t *testing.T) {
	t.Parallel()
	r := sampleRun()
	t0 := r.attempts[0].Start
	var attempts []observe.Attempt
	for i := range 100 {
		d := time.Second
		switch {
		case i >= 95:
			d = 5 * time.Second
		case i >= 80:
			d = 1900 * time.Millisecond // p90 just under twice the median
		}
		attempts = append(attempts, observe.Attempt{Job: "j", Index: uint64(i), Attempt: 1, Worker: "w", Slot: i % 4,
			Start: t0, End: t0.Add(d)})
	}
	_, doc := page(t, observe.PageData{Report: r.report, Attempts: attempts})
	type ext struct {
		y, x0, x1 float64
		text      string
	}
	var labels []ext
	walk(doc, func(e *html.Node) {
		if e.Data != "text" || !hasClass(e, "marktext") {
			return
		}
		x, text := svgFloat(t, e, "x"), textOf(e)
		w := 6.5 * float64(utf8.RuneCountInString(text))
		x0 := x
		switch attr(e, "text-anchor") {
		case "end":
			x0 = x - w
		case "middle":
			x0 = x - w/2
		}
		labels = append(labels, ext{svgFloat(t, e, "y"), x0, x0 + w, text})
	})
	if len(labels) != 3 {
		t.Fatalf("%d mark labels, want p50, p90 and the straggler threshold", len(labels))
	}
	for i, a := range labels {
		for _, b := range labels[i+1:] {
			if math.Abs(a.y-b.y) < 11 && a.x0 < b.x1 && b.x0 < a.x1 {
				t.Errorf("labels %q and %q overlap", a.text, b.text)
			}
		}
	}
}

// TestRenderHTMLConcurrentStagesOwnLanes draws the attempts of two stages
// that ran at once in one worker, with the same slot numbers: no two bars
// may overlap on one lane.
func TestRenderHTMLConcurrentStagesOwnLanes(t *testing.T) {
	t.Parallel()
	r := sampleRun()
	t0 := r.attempts[0].Start
	var attempts []observe.Attempt
	for _, job := range []string{"pl-a", "pl-b"} {
		for i := range 4 {
			at := t0.Add(time.Duration(i) * time.Second)
			attempts = append(attempts, observe.Attempt{Job: job, Index: uint64(i), Attempt: 1, Worker: "host:1", Slot: 0,
				Start: at, End: at.Add(900 * time.Millisecond)})
		}
	}
	_, doc := page(t, observe.PageData{Report: r.report, Attempts: attempts})
	type bar struct{ y, x0, x1 float64 }
	var bars []bar
	walk(doc, func(e *html.Node) {
		if e.Data == "rect" && hasClass(e, "task-bar") {
			x := svgFloat(t, e, "x")
			bars = append(bars, bar{svgFloat(t, e, "y"), x, x + svgFloat(t, e, "width")})
		}
	})
	if len(bars) != len(attempts) {
		t.Fatalf("%d bars, want %d", len(bars), len(attempts))
	}
	for i, a := range bars {
		for _, b := range bars[i+1:] {
			if a.y == b.y && a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 {
				t.Fatalf("two bars overlap on the lane at y=%g", a.y)
			}
		}
	}
}

// TestRenderTextCounters checks that the text report lists the counters,
// one a row, a name cut at its first newline.
func TestRenderTextCounters(t *testing.T) {
	t.Parallel()
	r := &report.Report{Job: "j", Kind: schema.KindMapReduce, Counters: []schema.Counter{
		{Group: "Input", Name: "Lines", Value: 120}, {Group: "Input", Name: "bad\nname", Value: -2}}}
	var b strings.Builder
	if err := observe.RenderText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !regexp.MustCompile(`\ncounters\n +group +name +value\n +Input +Lines +120\n +Input +bad … +-2\n`).MatchString(out) {
		t.Errorf("no counters table:\n%s", out)
	}
}

// TestRenderHTMLSuperseded draws an attempt that a backup overtook as
// superseded, neither failed nor retried, with its legend entry.
func TestRenderHTMLSuperseded(t *testing.T) {
	r := sampleRun()
	attempts := slices.Clone(r.attempts)
	slow := attempts[0]
	slow.Attempt, slow.Failed, slow.Retried, slow.Superseded = 2, false, false, true
	slow.End = slow.Start.Add(4 * slow.Duration())
	attempts = append(attempts, slow)
	_, doc := page(t, observe.PageData{Report: r.report, Attempts: attempts})
	bars := 0
	walk(doc, func(e *html.Node) {
		if e.Data != "rect" || !hasClass(e, "task-bar") || !hasClass(e, "superseded") {
			return
		}
		bars++
		if hasClass(e, "failed") || hasClass(e, "retried") {
			t.Errorf("a superseded bar is also failed or retried")
		}
		if c := e.FirstChild; c == nil || !strings.Contains(textOf(c), "superseded") || strings.Contains(textOf(c), "failed") {
			t.Errorf("the superseded bar's tooltip does not say so")
		}
	})
	if bars != 1 {
		t.Errorf("%d superseded bars, want 1", bars)
	}
	if text := textOf(doc); !strings.Contains(text, "another attempt's result counted") {
		t.Errorf("no legend for superseded attempts")
	}
}
