package command_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/schema"
)

type reports struct {
	mu       sync.Mutex
	counters []string
	status   []string
}

func (r *reports) Counter(group, name string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counters = append(r.counters, group+"|"+name+"|"+strconv.FormatInt(n, 10))
}

func (r *reports) Status(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = append(r.status, msg)
}

// TestRunReporting checks that reporter lines on a command's stderr reach
// the reporter, however the writes cut them, and stay out of the stderr
// tail of a failure, while every other line stays in it.
func TestRunReporting(t *testing.T) {
	t.Parallel()
	script := `exec >&2
printf 'reporter:counter:Words,Seen,3\n'
printf 'plain line\n'
printf 'repo'; sleep 0.05; printf 'rter:counter:Words,Seen,-1\n'
printf 'reporter:status:half done\r\n'
printf 'report card\n'
printf 'reporter:counter:G,name, with commas,12\n'
printf 'reporter:counter:bad\n'
printf 'reporter:counter:G,N,many\n'
printf 'reporter:counter:G,N,7'
exit 3`
	var r reports
	var out bytes.Buffer
	err := command.RunReporting(context.Background(), []string{"sh", "-c", script}, "", nil, &out, &r)
	var te *schema.TaskError
	if !errors.As(err, &te) || te.ExitStatus != 3 {
		t.Fatalf("got %v, want exit status 3", err)
	}
	wantCounters := []string{"Words|Seen|3", "Words|Seen|-1", "G|name, with commas|12", "G|N|7"}
	if !slices.Equal(r.counters, wantCounters) {
		t.Errorf("counters %q, want %q", r.counters, wantCounters)
	}
	if !slices.Equal(r.status, []string{"half done"}) {
		t.Errorf("status %q", r.status)
	}
	wantTail := "plain line\nreport card\nreporter:counter:bad\nreporter:counter:G,N,many\n"
	if te.StderrTail != wantTail {
		t.Errorf("stderr tail %q, want %q", te.StderrTail, wantTail)
	}
}

// TestRunReportingKeepsAShortLastLine checks that a last stderr line
// without a newline that only begins like a reporter line is kept.
func TestRunReportingKeepsAShortLastLine(t *testing.T) {
	t.Parallel()
	var r reports
	err := command.RunReporting(context.Background(), []string{"sh", "-c", "printf 'rep' >&2; exit 1"}, "", nil, &bytes.Buffer{}, &r)
	var te *schema.TaskError
	if !errors.As(err, &te) || te.StderrTail != "rep" {
		t.Fatalf("got %v (tail %q), want the tail \"rep\"", err, te.StderrTail)
	}
}
