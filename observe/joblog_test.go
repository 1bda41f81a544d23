package observe_test

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/testbuf"
	"github.com/jetmr/jetmr/observe"
)

func TestJobLogLine(t *testing.T) {
	start := time.Unix(1700000000, 123_456_789)
	base := observe.Attempt{Index: 4, Attempt: 1, Worker: "w1", Start: start, End: start.Add(1500 * time.Millisecond), BytesIn: 100, BytesOut: 7, Command: "wc -l"}
	tests := []struct {
		name string
		edit func(*observe.Attempt)
		want string
	}{
		{"ok", func(*observe.Attempt) {}, "5\tw1\t1700000000.123\t     1.500\t100\t7\t0\t0\twc -l\n"},
		{"exit status", func(a *observe.Attempt) { a.Failed, a.ExitCode = true, 2 }, "5\tw1\t1700000000.123\t     1.500\t100\t7\t2\t0\twc -l\n"},
		{"killed", func(a *observe.Attempt) { a.Failed, a.ExitCode, a.Signal = true, -1, "KILL" }, "5\tw1\t1700000000.123\t     1.500\t100\t7\t0\t9\twc -l\n"},
		{"go signal description", func(a *observe.Attempt) { a.Failed, a.Signal = true, "terminated" }, "5\tw1\t1700000000.123\t     1.500\t100\t7\t0\t15\twc -l\n"},
		{"failed without status", func(a *observe.Attempt) { a.Failed = true }, "5\tw1\t1700000000.123\t     1.500\t100\t7\t-1\t0\twc -l\n"},
		{"command with tabs and lines", func(a *observe.Attempt) { a.Command = "awk '{print\t$1}'\nfoo" }, "5\tw1\t1700000000.123\t     1.500\t100\t7\t0\t0\tawk '{print $1}' foo\n"},
		{"long runtime", func(a *observe.Attempt) { a.End = start.Add(123456789 * time.Millisecond) }, "5\tw1\t1700000000.123\t123456.789\t100\t7\t0\t0\twc -l\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.edit(&a)
			if got := string(observe.AppendJobLogLine(nil, a)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestJobLog(t *testing.T) {
	r := sampleRun()
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 1<<20) // flushed by the log after every line
	l := observe.NewJobLog(bw)
	r.replay(l)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[0]+"\n" != observe.JobLogHeader {
		t.Fatalf("header %q", lines[0])
	}
	rows := lines[1:]
	if len(rows) != len(r.attempts) {
		t.Fatalf("%d rows, want one per attempt: %d", len(rows), len(r.attempts))
	}
	perSeq := make(map[int]int)
	for _, row := range rows {
		f := strings.Split(row, "\t")
		if len(f) != 9 {
			t.Fatalf("row %q has %d columns, want 9", row, len(f))
		}
		seq, err := strconv.Atoi(f[0])
		if err != nil || seq < 1 || seq > r.tasks {
			t.Errorf("row %q: bad Seq", row)
		}
		perSeq[seq]++
		for i, col := range []int{2, 3} {
			v, err := strconv.ParseFloat(strings.TrimSpace(f[col]), 64)
			if err != nil || v < 0 || strings.Index(f[col], ".") != len(f[col])-4 {
				t.Errorf("row %q: column %d %q is not seconds with 3 decimals", row, col, f[col])
			}
			_ = i
		}
		if !strings.HasPrefix(f[8], "wc -l chunk-") {
			t.Errorf("row %q: command %q", row, f[8])
		}
	}
	if perSeq[18] != 2 || perSeq[34] != 3 || perSeq[1] != 1 {
		t.Errorf("rows of task 17: %d (want 2), of task 33: %d (want 3), of task 0: %d (want 1)", perSeq[18], perSeq[34], perSeq[1])
	}
	for _, row := range rows {
		if strings.HasPrefix(row, "34\t") {
			if f := strings.Split(row, "\t"); f[6] != "0" || f[7] != "9" {
				t.Errorf("killed task's row %q: want Exitval 0, Signal 9", row)
			}
		}
	}
}

// failWriter fails after n writes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestJobLogError(t *testing.T) {
	l := observe.NewJobLog(&failWriter{n: 2})
	for i := range 4 {
		l.AttemptEnded(observe.Attempt{Index: uint64(i), Worker: "w"})
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Err() = %v, want the write error", err)
	}
}

func TestJobLogConcurrent(t *testing.T) {
	var buf testbuf.Buffer
	l := observe.NewJobLog(&buf)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.AttemptEnded(observe.Attempt{Index: uint64(w*1000 + i), Worker: "worker", Command: strings.Repeat("x", 300)})
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1+8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 1+8*200)
	}
	for _, line := range lines[1:] {
		if n := len(strings.Split(line, "\t")); n != 9 || !strings.HasSuffix(line, strings.Repeat("x", 300)) {
			t.Fatalf("interleaved line %q", line)
		}
	}
}
