package observe_test

import (
	"bufio"
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jetmr/jetmr/observe"
)

// chromium returns the headless browser, or skips the test without one.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("headless Chromium not installed (apt-get install chromium); skipping the page render test")
	return ""
}

// runChromium loads file in headless Chromium with the extra flags and
// returns its standard output and the console errors on its log.
func runChromium(t *testing.T, bin, file string, extra ...string) (stdout []byte, consoleErrors []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-crash-reporter", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0",
	}
	args = append(append(args, extra...), "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 10 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, errb.String())
	}
	sc := bufio.NewScanner(&errb)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "Uncaught") || strings.Contains(l, "ERROR:CONSOLE") {
			consoleErrors = append(consoleErrors, l)
		}
	}
	return out.Bytes(), consoleErrors
}

func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	r := sampleRun()
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := observe.RenderPage(f, observe.PageData{Report: r.report, Attempts: r.attempts, Stages: r.stages}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("dom", func(t *testing.T) {
		t.Parallel()
		dom, consoleErrors := runChromium(t, bin, file, "--dump-dom")
		for _, l := range consoleErrors {
			t.Errorf("console error: %s", l)
		}
		doc, err := html.Parse(bytes.NewReader(dom))
		if err != nil {
			t.Fatalf("dumped DOM does not parse: %v", err)
		}
		if got := countClass(doc, "rect", "task-bar"); got != len(r.attempts) {
			t.Errorf("the browser's DOM has %d task bars, want %d", got, len(r.attempts))
		}
		for _, id := range []string{"advice", "workers", "timeline", "durations", "stragglers", "stages", "dead-letters"} {
			if byID(doc, id) == nil {
				t.Errorf("the browser's DOM has no section %q", id)
			}
		}
		if got := countClass(doc, "svg", "chart"); got != 3 {
			t.Errorf("%d charts, want 3 (timeline, histogram, stages)", got)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		t.Parallel()
		shot := filepath.Join(dir, "report.png")
		_, consoleErrors := runChromium(t, bin, file, "--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars")
		for _, l := range consoleErrors {
			t.Errorf("console error: %s", l)
		}
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1000 {
			t.Errorf("screenshot is %v, want 1400x1000", b)
		}
		// Something is drawn: many pixels are neither white nor uniform.
		colors := make(map[uint32]int)
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 4 {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 4 {
				r, g, b, _ := img.At(x, y).RGBA()
				colors[(r>>8)<<16|(g>>8)<<8|b>>8]++
			}
		}
		if len(colors) < 20 {
			t.Errorf("screenshot looks blank: %d colours", len(colors))
		}
		if out := os.Getenv("JETMR_PAGE_SCREENSHOT"); out != "" {
			if err := os.WriteFile(out, data, 0o644); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("console errors are caught", func(t *testing.T) {
		t.Parallel()
		// A control: a page with a script error must show up on the log
		// the check reads, or the check above proves nothing.
		bad := filepath.Join(dir, "bad.html")
		if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><title>x</title><script>undefinedFunction()</script>`), 0o644); err != nil {
			t.Fatal(err)
		}
		_, consoleErrors := runChromium(t, bin, bad, "--dump-dom")
		if len(consoleErrors) == 0 {
			t.Error("a script error did not reach the console log")
		}
	})
}
