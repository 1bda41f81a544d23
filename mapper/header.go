package mapper

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/schema"
)

// maxHeaderOutput bounds what a command may print for the header lines
// alone (--header-once).
const maxHeaderOutput = 1 << 20

// withHeader returns the reader of a task's input: its header (--header),
// if any, then its data.
func withHeader(header []byte, data io.Reader) io.Reader {
	if len(header) == 0 {
		return data
	}
	return io.MultiReader(bytes.NewReader(header), data)
}

// headerOutput runs the pipe command on the task's header alone and
// returns what it prints: the header every task's output begins with,
// which only the first task's output keeps (--header-once).
func (p *processor) headerOutput(ctx context.Context, t schema.Task) ([]byte, error) {
	var out limitedBuffer
	if err := command.Accept(command.Run(ctx, p.job.Record.Command, p.job.Dir, bytes.NewReader(t.Header), &out), p.job.Record.OkExit); err != nil {
		return nil, fmt.Errorf("running the command on the header of task %d (--header-once): %w", t.Index, err)
	}
	if out.over {
		return nil, &schema.TaskError{Permanent: true, Message: fmt.Sprintf(
			"the command prints more than %d bytes for the %d header bytes of task %d alone: --header-once keeps the header the command prints for the header lines, so use a command that prints a short header, or drop --header-once",
			maxHeaderOutput, len(t.Header), t.Index)}
	}
	return out.b, nil
}

// limitedBuffer keeps up to maxHeaderOutput bytes and notes whether more
// came.
type limitedBuffer struct {
	b    []byte
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > maxHeaderOutput {
		l.over = true
		return len(p), nil
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

// headerStripper drops the header want from the start of a task's output
// and passes the rest to w. An output that does not begin with want is a
// permanent failure (see check): the header the command prints for the
// header alone would otherwise not be the header of its output, and
// dropping it would drop records.
type headerStripper struct {
	want    []byte
	w       io.Writer
	matched int  // bytes of want matched so far
	differ  bool // the output does not begin with want
	at      []byte
}

func (h *headerStripper) Write(p []byte) (int, error) {
	n := len(p)
	if h.differ {
		return n, nil // the task fails; let the command finish
	}
	if h.matched < len(h.want) {
		k := min(len(p), len(h.want)-h.matched)
		if !bytes.Equal(p[:k], h.want[h.matched:h.matched+k]) {
			h.differ = true
			h.at = append(h.want[:h.matched:h.matched], p[:k]...)
			return n, nil
		}
		h.matched += k
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	if _, err := h.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// check reports a task whose output did not begin with the header.
func (h *headerStripper) check(t *schema.Task) error {
	if !h.differ && h.matched == len(h.want) {
		return nil
	}
	got := h.at
	if !h.differ {
		got = h.want[:h.matched]
	}
	return &schema.TaskError{Permanent: true, Message: fmt.Sprintf(
		"the output of task %d does not begin with the header the command prints for the header lines alone (%.80q, output begins %.80q): --header-once needs a command that prints its header first, as cut, sed or awk do; drop --header-once for other commands",
		t.Index, h.want, got)}
}
