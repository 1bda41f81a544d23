package command

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"

	"github.com/jetmr/jetmr/schema"
)

// Reporter receives what a command reports on its stderr in the Hadoop
// Streaming protocol (see [RunReporting]). Its methods are called from
// the goroutine that copies the command's stderr.
type Reporter interface {
	// Counter adds n to the counter group/name.
	Counter(group, name string, n int64)
	// Status sets the command's status message.
	Status(msg string)
}

// reporterPrefix starts the stderr lines a command reports with.
const reporterPrefix = "reporter:"

// RunReporting is [Run] for a Hadoop Streaming command, whose stderr
// lines reporter:counter:GROUP,NAME,AMOUNT and reporter:status:MSG go to
// rep instead of the stderr tail of a failure. NAME may hold commas (GROUP
// ends at the first, AMOUNT starts after the last); AMOUNT is a whole
// number, possibly negative. A reporter line that is none of these (a
// counter without an amount, an amount that is not a number) is kept in
// the stderr tail like any other line.
func RunReporting(ctx context.Context, argv []string, dir string, stdin io.Reader, stdout io.Writer, rep Reporter) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout = stdin, stdout
	tail := &tailBuffer{max: stderrTailSize}
	f := &reportFilter{rep: rep, next: tail}
	cmd.Stderr = f
	err := run(ctx, cmd, argv, tail)
	if rest := f.flush(); len(rest) > 0 {
		var te *schema.TaskError
		if errors.As(err, &te) {
			tail.Write(rest)
			te.StderrTail = tail.String()
		}
	}
	return err
}

// maxReporterLine bounds the reporter line a filter holds back: a longer
// one is passed on as it is.
const maxReporterLine = 64 << 10

// reportFilter passes a command's stderr to next, but for the reporter
// lines, which it parses for rep. At the start of a line it holds bytes
// back until it knows whether the line is a reporter line.
type reportFilter struct {
	rep     Reporter
	next    io.Writer
	line    []byte // the current line, while it may be a reporter line
	passing bool   // the current line is not a reporter line: pass it on
}

func (f *reportFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if f.passing {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.next.Write(p)
				return n, nil
			}
			f.next.Write(p[:i+1])
			p, f.passing = p[i+1:], false
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			p = nil
		} else {
			f.line = append(f.line, p[:i+1]...)
			p = p[i+1:]
		}
		switch {
		case !isPrefix(f.line) || i < 0 && len(f.line) > maxReporterLine:
			f.next.Write(f.line)
			f.line, f.passing = f.line[:0], i < 0
		case i >= 0:
			if !f.report(bytes.TrimRight(f.line, "\r\n")) {
				f.next.Write(f.line)
			}
			f.line = f.line[:0]
		}
	}
	return n, nil
}

// isPrefix reports whether line may still be a reporter line: it begins
// with reporterPrefix, or with a part of it.
func isPrefix(line []byte) bool {
	if len(line) < len(reporterPrefix) {
		return bytes.HasPrefix([]byte(reporterPrefix), line)
	}
	return bytes.HasPrefix(line, []byte(reporterPrefix))
}

// flush ends the command's stderr: a last reporter line without a newline
// is reported; what is left that is not one is returned.
func (f *reportFilter) flush() []byte {
	if len(f.line) == 0 || f.report(f.line) {
		return nil
	}
	return f.line
}

// report parses one reporter line and hands it to rep.
func (f *reportFilter) report(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte(reporterPrefix))
	if !ok {
		return false
	}
	if msg, ok := bytes.CutPrefix(rest, []byte("status:")); ok {
		f.rep.Status(string(msg))
		return true
	}
	spec, ok := bytes.CutPrefix(rest, []byte("counter:"))
	if !ok {
		return false
	}
	group, nameAmount, ok := bytes.Cut(spec, []byte(","))
	if !ok {
		return false
	}
	i := bytes.LastIndexByte(nameAmount, ',')
	if i < 0 {
		return false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(nameAmount[i+1:])), 10, 64)
	if err != nil {
		return false
	}
	f.rep.Counter(string(group), string(nameAmount[:i]), n)
	return true
}
