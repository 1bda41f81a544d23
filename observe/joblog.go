package observe

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// JobLogHeader is the first line of a job log, as GNU parallel writes it.
const JobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// JobLog writes one line per ended attempt in the format of GNU parallel's
// --joblog, so that tools made for those logs read it:
//
//	Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
//
// separated by tabs. Seq is the task index plus one (every attempt of a
// task shares it), Host the worker, Starttime Unix seconds and JobRuntime
// seconds with three decimals (JobRuntime padded to ten characters, as
// parallel does), Send and Receive the bytes in and out, Exitval the exit
// status (also one that --ok-exit counts as success) and Signal the number of the signal that killed the command (0 for
// none). As in parallel, a command killed by a signal has Exitval 0; an
// attempt that failed without an exit status or a signal (a timeout, an
// internal error) has Exitval -1. Tabs and line breaks in the command are
// written as spaces.
//
// Each line is one Write, under a mutex; when the writer has a Flush method
// (a *bufio.Writer) it is flushed after every line.
type JobLog struct {
	mu  sync.Mutex
	w   io.Writer
	err error
	buf []byte
}

// NewJobLog writes the header line to w and returns a JobLog that appends
// to it.
func NewJobLog(w io.Writer) *JobLog {
	l := &JobLog{w: w}
	l.mu.Lock()
	l.write([]byte(JobLogHeader))
	l.mu.Unlock()
	return l
}

// Err returns the first error writing to the log, if any. Lines after a
// failed write are not written.
func (l *JobLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *JobLog) write(line []byte) {
	if l.err != nil {
		return
	}
	if _, err := l.w.Write(line); err != nil {
		l.err = fmt.Errorf("writing the job log: %w", err)
		return
	}
	if f, ok := l.w.(flusher); ok {
		if err := f.Flush(); err != nil {
			l.err = fmt.Errorf("writing the job log: %w", err)
		}
	}
}

// AttemptEnded writes the attempt's line, unless the job's stop cut it
// short: its task runs again when the job is resumed, whose log (appended
// to this one) gets that attempt's line.
func (l *JobLog) AttemptEnded(a Attempt) {
	if a.Stopped {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = AppendJobLogLine(l.buf[:0], a)
	l.write(l.buf)
}

// AppendJobLogLine appends a's job log line, newline included, to b.
func AppendJobLogLine(b []byte, a Attempt) []byte {
	sig := SignalNumber(a.Signal)
	exit := a.ExitCode
	switch {
	case sig != 0 && exit < 0:
		exit = 0 // parallel's convention; Go reports -1 for a signalled process
	case a.Failed && exit == 0 && sig == 0:
		exit = -1
	}
	start := float64(a.Start.UnixNano()) / 1e9
	if a.Start.IsZero() {
		start = 0
	}
	b = strconv.AppendUint(b, a.Index+1, 10)
	b = append(b, '\t')
	b = append(b, cleanField(a.Worker)...)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, start, 'f', 3, 64)
	b = append(b, '\t')
	b = fmt.Appendf(b, "%10.3f", a.Duration().Seconds())
	b = append(b, '\t')
	b = strconv.AppendInt(b, a.BytesIn, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, a.BytesOut, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(exit), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(sig), 10)
	b = append(b, '\t')
	b = append(b, cleanField(a.Command)...)
	return append(b, '\n')
}

var fieldCleaner = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func cleanField(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	return fieldCleaner.Replace(s)
}

// JobStarted does nothing: the log has a line per attempt only.
func (l *JobLog) JobStarted(string, string, int64, int64, int) {}

// TasksPublished does nothing.
func (l *JobLog) TasksPublished(string, string, int64, bool) {}

// AttemptStarted does nothing: the line is written when the attempt ends.
func (l *JobLog) AttemptStarted(Attempt) {}

// JobEnded does nothing.
func (l *JobLog) JobEnded(string, string, error) {}
