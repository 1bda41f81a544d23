package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// Built-in item functions of an each job, run in the worker instead of a
// command: they measure jetmr's own per-item cost.
const (
	// ItemEcho writes the item and a newline.
	ItemEcho = "echo"
	// ItemNoop does nothing.
	ItemNoop = "noop"
)

// EachCommand is an each job's command as a worker runs it: the parsed
// templates of its command line and working directory.
type EachCommand struct {
	// Argv is the command line template (unused with --shell or a built-in).
	Argv command.Template
	// Script is the sh -c script of a --shell job.
	Script string
	// Dir is the working-directory template; nil means the worker's own.
	Dir *command.Template
	// Builtin names a built-in item function instead of a command.
	Builtin string
	// Append says that the item is appended to a command without
	// placeholders: true unless Dir uses one (--dir {} -- make).
	Append bool
}

// NewEachCommand parses the command and directory templates of an each
// job record. Errors name the bad placeholder.
func NewEachCommand(rec schema.JobRecord) (*EachCommand, error) {
	c := &EachCommand{Builtin: rec.Builtin, Append: true}
	if rec.Dir != "" {
		t, err := command.ParseTemplate([]string{rec.Dir})
		if err != nil {
			return nil, fmt.Errorf("--dir: %w", err)
		}
		c.Dir, c.Append = &t, !t.UsesPlaceholders()
	}
	switch {
	case rec.Builtin != "":
		if rec.Builtin != ItemEcho && rec.Builtin != ItemNoop {
			return nil, fmt.Errorf("%w: item function %q; built-ins are %s and %s", ErrUnknownFunction, rec.Builtin, ItemEcho, ItemNoop)
		}
	case len(rec.Command) == 0:
		return nil, errors.New("each job without a command")
	default:
		t, err := command.ParseTemplate(rec.Command)
		if err != nil {
			return nil, err
		}
		c.Argv = t
		if rec.Shell {
			c.Script = t.ShellScript(c.Append)
		}
	}
	return c, nil
}

// ItemCommand is what the job log's Command column says of an attempt of
// item, number seq (0-based) of the job's item list.
func (c *EachCommand) ItemCommand(item string, seq uint64) string {
	if c.Builtin != "" {
		return c.Builtin + " " + command.Quote([]string{item})
	}
	return command.Quote(c.argv(item, seq))
}

// argv is the command line of item number seq.
func (c *EachCommand) argv(item string, seq uint64) []string {
	if c.Script != "" {
		return command.ShellArgv(c.Script, item, seq)
	}
	if !c.Append {
		return c.Argv.Fill(item, seq)
	}
	return c.Argv.Expand(item, seq)
}

// itemsFailed is the error of an each task some of whose items failed on
// every attempt: a permanent task error (the items were retried already)
// that carries the outcome of every item of the batch, and, in skip mode,
// the failed items as bad records.
type itemsFailed struct {
	te      *schema.TaskError
	out     output
	skipped []schema.BadRecord
}

func (e *itemsFailed) Error() string { return e.te.Message }
func (e *itemsFailed) Unwrap() error { return e.te }

// processEach runs the items of a task one after another, each with up to
// Retries retries and its own --timeout, and returns their outcomes. An
// attempt event per item attempt goes to the observer (ev is the task's).
// When ctx ends the task is abandoned: its items run again when the task
// is redelivered.
func (p *processor) processEach(ctx context.Context, t schema.Task, attempt int, ev observe.Attempt) (output, error) {
	b, err := schema.DecodeItemBatch(t.Inline)
	if err != nil {
		return output{}, &schema.TaskError{Message: fmt.Sprintf("task %d: %v", t.Index, err), Permanent: true}
	}
	c := p.job.Each
	results := make([]schema.ItemResult, len(b.Items))
	var failed []int
	for i, item := range b.Items {
		seq := b.First + uint64(i)
		results[i] = p.runItem(ctx, c, t, item, seq, ev)
		if err := ctx.Err(); err != nil {
			return output{}, err
		}
		if results[i].Failed() {
			failed = append(failed, i)
		}
	}
	out, err := p.encodeItems(ctx, t, attempt, results)
	if err != nil || len(failed) == 0 {
		return out, err
	}
	f := &itemsFailed{te: itemsError(results, failed), out: out}
	if p.job.Record.SkipBad > 0 {
		for _, i := range failed {
			f.skipped = append(f.skipped, itemRecord(results[i]))
		}
	}
	return output{}, f
}

// itemRecord describes an item that failed on every attempt as a bad
// record, for skip mode: the item, its number and how its last attempt
// failed, with the tail of its output.
func itemRecord(r schema.ItemResult) schema.BadRecord {
	item := []byte(r.Item)
	tail := r.Output
	if len(tail) > 4<<10 {
		tail = tail[len(tail)-4<<10:]
	}
	b := schema.BadRecord{
		Item: r.Item, Seq: r.Seq + 1, Length: int64(len(item)), Preview: item[:min(len(item), previewBytes)],
		Err: schema.TaskError{Message: r.Error, ExitStatus: max(r.Exit, 0), Signal: r.Signal, StderrTail: string(tail)},
	}
	if len(item) <= maxRecordData {
		b.Data = item
	}
	return b
}

// skipped is the outcome, in skip mode, of a task that left bad records
// out on its own: an each task whose items failed (every item ran alone
// already, so the failed ones are the bad records; its output holds all
// of them, and the reducer leaves the failed ones out when it merges it),
// or a migrate batch that committed all but the rows of keys its SQL
// fails on. The reducer fails the task when its records are more than
// the job may skip. Nil when perr is neither.
func (p *processor) skipped(perr error) *isolated {
	var f *itemsFailed
	if errors.As(perr, &f) && len(f.skipped) > 0 {
		return &isolated{iso: schema.Isolation{Records: f.skipped, Outcome: schema.IsolatedItems}, outs: []output{f.out}}
	}
	var k *keysSkipped
	if errors.As(perr, &k) {
		return &isolated{iso: schema.Isolation{Records: k.skipped, Outcome: schema.IsolatedKey}, outs: []output{k.out}}
	}
	return nil
}

// runItem runs one item of task t until it succeeds or its attempts run
// out; ev is the event of the task's attempt.
func (p *processor) runItem(ctx context.Context, c *EachCommand, t schema.Task, item string, seq uint64, ev observe.Attempt) schema.ItemResult {
	rec := p.job.Record
	maxAttempts := rec.Retries + 1
	dir := p.job.Dir
	if c.Dir != nil {
		dir = itemDir(p.job.Dir, c.Dir.ExpandOne(item, seq))
	}
	var argv []string
	if c.Builtin == "" {
		argv = c.argv(item, seq)
	}
	delivery := ev.Attempt // the task's
	ev.Index, ev.BytesIn, ev.Command = seq, int64(len(item)), c.ItemCommand(item, seq)
	var r schema.ItemResult
	for k := 1; ; k++ {
		ev.Attempt, ev.Start = k, time.Now()
		p.obs.AttemptStarted(ev)
		if p.announceStart != nil {
			p.announceStart(ev, t, delivery)
		}
		var buf bytes.Buffer
		status, err := p.runOnce(ctx, c, argv, dir, item, &buf)
		end := time.Now()
		r = schema.ItemResult{Seq: seq, Item: item, Attempts: k, Start: ev.Start.UnixNano(), End: end.UnixNano(), Output: buf.Bytes()}
		stopped := ctx.Err() != nil
		if err != nil {
			te := asTaskError(err)
			r.Exit, r.Signal, r.Error = te.ExitStatus, te.Signal, te.Message
			if te.ExitStatus == 0 {
				r.Exit = -1
			}
		}
		ev.End, ev.BytesOut = end, int64(buf.Len())
		ev.Failed, ev.ExitCode, ev.Signal = err != nil, r.Exit, r.Signal
		if err == nil {
			ev.ExitCode = status // a status --ok-exit accepts, or 0: the job log shows it
			r.Accepted = status
		}
		permanent := err != nil && asTaskError(err).Permanent // a missing --dir: no retry can fix it
		ev.Retried = stopped || (err != nil && k < maxAttempts && !permanent)
		ev.Stopped = stopped
		p.obs.AttemptEnded(ev)
		if ev.Retried && p.announce != nil {
			p.announce(ev) // the task's result holds the item's last attempt only
		}
		if err == nil || stopped || k >= maxAttempts || permanent {
			return r
		}
		select {
		case <-time.After(retryDelay(k)):
		case <-ctx.Done():
			return r
		}
	}
}

// itemDir is where an item whose --dir expanded to dir runs, for a job
// whose commands run in base: a relative dir is relative to base.
func itemDir(base, dir string) string {
	if base == "" || filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(base, dir)
}

// runOnce runs one attempt of an item, limited by the job's --timeout. It
// returns the command's exit status when --ok-exit accepts one other than
// 0, else 0.
func (p *processor) runOnce(ctx context.Context, c *EachCommand, argv []string, dir, item string, out *bytes.Buffer) (int, error) {
	if t := time.Duration(p.job.Record.TimeoutNanos); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, fmt.Errorf("timed out after %s", t))
		defer cancel()
	}
	switch c.Builtin {
	case ItemEcho:
		out.WriteString(item)
		out.WriteByte('\n')
		return 0, nil
	case ItemNoop:
		return 0, nil
	}
	return command.Accepted(command.RunCombined(ctx, argv, dir, out), p.job.Record.OkExit)
}

func (p *processor) encodeItems(ctx context.Context, t schema.Task, attempt int, results []schema.ItemResult) (output, error) {
	data, err := schema.EncodeItemResults(schema.ItemResults{Items: results})
	if err != nil {
		return output{}, fmt.Errorf("encoding results of task %d: %w", t.Index, err)
	}
	return p.keep(ctx, t, 0, attempt, data)
}

// maxNamedItems bounds how many failed items a dead letter names.
const maxNamedItems = 5

// itemsError describes the failed items of a batch: each by number and
// value, with its error; the first one's exit status and output tail.
func itemsError(results []schema.ItemResult, failed []int) *schema.TaskError {
	first := results[failed[0]]
	var parts []string
	for _, i := range failed[:min(len(failed), maxNamedItems)] {
		r := results[i]
		parts = append(parts, fmt.Sprintf("item %d %q after %d attempt(s): %s", r.Seq+1, r.Item, r.Attempts, r.Error))
	}
	msg := strings.Join(parts, "; ")
	if len(failed) > maxNamedItems {
		msg += fmt.Sprintf("; and %d more failed items", len(failed)-maxNamedItems)
	}
	tail := first.Output
	if len(tail) > 4<<10 {
		tail = tail[len(tail)-4<<10:]
	}
	return &schema.TaskError{Message: msg, Permanent: true, ExitStatus: max(first.Exit, 0), Signal: first.Signal, StderrTail: string(tail)}
}
