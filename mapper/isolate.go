package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// maxIsolated bounds how many bad records the bisection of one task looks
// for when the job does not skip them: enough to name them in its dead
// letter, few enough to bound the extra runs.
const maxIsolated = 5

// previewBytes is how much of a bad record its dead letter repeats.
const previewBytes = 64

// maxRecordData bounds the bad records a result of skip mode carries
// whole, for the rejects file; a longer one is read from its input.
const maxRecordData = 64 << 10

// prober runs the task's command or map over data alone, its output
// discarded, and returns how it failed. ResolveReduce picks it from the
// job's kind; nil for kinds whose tasks are not bisected.
type prober func(p *processor, ctx context.Context, t schema.Task, data []byte) error

func probePipe(p *processor, ctx context.Context, t schema.Task, data []byte) error {
	return command.Accept(command.Run(ctx, p.job.Record.Command, p.job.Dir, command.NewBytes(t.Header, data), io.Discard), p.job.Record.OkExit)
}

func probeKeyed(p *processor, ctx context.Context, t schema.Task, data []byte) error {
	keys := p.job.Record.Keys()
	comb, counters := NewCombinerFor(p.job.Combiner, keys), &counter.Set{}
	ctx = counter.NewContext(ctx, counters)
	if _, err := p.mapChunk(ctx, t, data, comb, counters); err != nil {
		return err
	}
	if cc := p.job.Record.CombineCommand; len(cc) > 0 {
		out, err := combineCommand(ctx, cc, p.job.Dir, p.job.Record.OkExit, comb, CombineConfig{Keys: keys}, counters)
		if err == nil {
			out.Close()
		}
		return err
	}
	return nil
}

// isolated is the outcome of bisecting a failed task: what the dead letter
// says, or, in skip mode, the task's outputs without its bad records.
type isolated struct {
	iso  schema.Isolation
	outs []output // the outputs of the input without Records (skip mode)
}

// bisectable reports whether the failure perr of the last attempt of task
// t is worth bisecting: the job's kind can run parts of a task's input,
// its records are lines (or end with a fixed terminator), and the failure
// is the command's or the map's, not the input's.
func (p *processor) bisectable(t schema.Task, perr error) bool {
	rec := p.job.Record
	if p.job.probe == nil || rec.Format != "" || rec.RecStart != "" {
		return false
	}
	var changed inputChanged
	return !errors.As(perr, &changed) && !errors.Is(perr, context.Canceled)
}

// isolate bisects the input of a task that failed on its last attempt
// down to the records that fail on their own. It finds one bad record at
// a time: while a set of records is known to fail, it runs the first half
// of the set; the half that fails (the second when the first passes) is
// the next set, until one record is left, which is run alone unless it
// just was: a record is bad only when it fails alone. Then the input
// without the bad records found runs once, as one input: when it
// succeeds, the search is over. When it fails after the first bad record,
// the command runs on an empty input: one that fails without any record
// (grep finding nothing) is not a record's failure. A chunk of L records
// with one bad record thus takes at most ⌈log2 L⌉ + 2 runs, the one that
// confirms the rest included; each further bad record at most
// ⌈log2 L⌉ + 2 more, and the empty input one run once.
//
// In skip mode (Record.SkipBad > 0), up to SkipBad records are left out:
// the run of the input without them is the task's real run and its
// outputs are returned. isolate returns nil when the task is not bisected.
func (p *processor) isolate(ctx context.Context, t schema.Task, attempt int, ev observe.Attempt, perr error) *isolated {
	if iso := p.skipped(perr); iso != nil {
		return iso // each items and migrate keys are isolated already
	}
	if !p.bisectable(t, perr) {
		return nil
	}
	chunk, base, release, err := p.readChunkAt(ctx, t)
	if err != nil {
		return nil
	}
	defer release()
	end := []byte(p.job.Record.RecEnd)
	if len(end) == 0 {
		end = []byte{'\n'}
	}
	recs := splitRecords(chunk, end)
	if len(recs) == 0 {
		return nil
	}
	skip := p.job.Record.SkipBad
	limit := maxIsolated
	if skip > 0 {
		limit = skip + 1 // one more than allowed fails the task anyway
	}
	out := &isolated{}
	gather := func(idx []int) []byte {
		var b []byte
		for _, i := range idx {
			b = append(b, chunk[recs[i].start:recs[i].end]...)
		}
		return b
	}
	probe := func(idx []int) error {
		out.iso.Attempts++
		pctx, cancel := p.probeContext(ctx)
		defer cancel()
		return p.job.probe(p, pctx, t, gather(idx))
	}
	badRecord := func(i int, err error) schema.BadRecord {
		r := recs[i]
		b := schema.BadRecord{
			Offset: base + int64(r.start), Length: int64(r.end - r.start),
			Preview: bytes.Clone(chunk[r.start:min(r.end, r.start+previewBytes)]), Err: *asTaskError(err),
		}
		if skip > 0 && r.end-r.start <= maxRecordData {
			b.Data = bytes.Clone(chunk[r.start:r.end]) // for the rejects file
		}
		return b
	}
	set := make([]int, len(recs)) // known to fail together
	for i := range set {
		set[i] = i
	}
	var bad []int
	for {
		s, alone := set, false
		var serr error
		for len(s) > 1 {
			half := s[:len(s)/2]
			if err := probe(half); err != nil {
				s, alone, serr = half, len(half) == 1, err
			} else {
				s, alone = s[len(s)/2:], false
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		if !alone {
			if serr = probe(s); serr == nil {
				out.iso.Outcome = schema.IsolatedFlaky
				return out
			}
		}
		bad = append(bad, s[0])
		out.iso.Records = append(out.iso.Records, badRecord(s[0], serr))
		if len(bad) >= limit {
			out.iso.Outcome = schema.IsolatedTooMany
			return out
		}
		set = without(len(recs), bad)
		var err error
		if skip > 0 {
			err = p.runWithout(ctx, t, attempt, ev, gather(set), out)
		} else {
			err = probe(set)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			out.iso.Outcome = schema.IsolatedRecords
			return out
		}
		if len(bad) == 1 && (len(set) == 0 || probe(nil) != nil) { // an empty set's run was the empty input's
			out.iso.Outcome, out.iso.Records = schema.IsolatedNoRecord, nil
			return out
		}
	}
}

// runWithout runs task t over data, its input without the bad records
// found so far, as the task's real run: out.outs are its outputs when it
// succeeds.
func (p *processor) runWithout(ctx context.Context, t schema.Task, attempt int, ev observe.Attempt, data []byte, out *isolated) error {
	out.iso.Attempts++
	rctx, cancel := p.probeContext(ctx)
	defer cancel()
	part := t
	part.Path, part.Object, part.Sum, part.Inline = "", "", nil, data
	if part.Inline == nil {
		part.Inline = []byte{}
	}
	outs, _, err := p.job.run(p, rctx, part, attempt, ev)
	if err != nil {
		for _, o := range outs {
			removeSpill(o)
		}
		return err
	}
	out.outs = outs
	return nil
}

// probeContext bounds one run of a bisection by the job's timeout.
func (p *processor) probeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t := time.Duration(p.job.Record.TimeoutNanos); t > 0 && p.job.Record.Kind.Traits().WholeTimeout {
		return context.WithTimeoutCause(ctx, t, fmt.Errorf("timed out after %s", t))
	}
	return context.WithCancel(ctx)
}

// span is a record's bytes in a chunk.
type span struct{ start, end int }

// splitRecords cuts chunk after every occurrence of end; a last record
// without it ends at the end of the chunk.
func splitRecords(chunk, end []byte) []span {
	var recs []span
	for at := 0; at < len(chunk); {
		i := bytes.Index(chunk[at:], end)
		next := len(chunk)
		if i >= 0 {
			next = at + i + len(end)
		}
		recs = append(recs, span{at, next})
		at = next
	}
	return recs
}

// without returns the indices below n that are not in bad.
func without(n int, bad []int) []int {
	skip := make(map[int]bool, len(bad))
	for _, b := range bad {
		skip[b] = true
	}
	idx := make([]int, 0, n-len(bad))
	for i := range n {
		if !skip[i] {
			idx = append(idx, i)
		}
	}
	return idx
}
