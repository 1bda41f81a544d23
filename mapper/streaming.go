package mapper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/schema"
)

// lineEmitter parses a map command's stdout in the Hadoop Streaming
// convention: one pair per line, the key up to the first tab, the value
// after it (empty when the line has no tab). The trailing "\n" is not part
// of the value; every other byte is, a "\r" before the "\n" too, so that
// the map's lines come back byte for byte. With keys.Fields N, the key is the line's first N
// TAB-separated fields instead (--key-fields).
//
// In a map-only job (mapOnly) the value is emitted with the TAB that
// separated it from the key, as the rest of the line after the key: ""
// for a line that is all key, "\t" for a key followed by a TAB and an
// empty value. The part file's line is then the key and that rest, the
// map's own line byte for byte (see [reducer.KeyedConfig] MapOnly).
type lineEmitter struct {
	emit    Emitter
	keys    schema.Keys
	mapOnly bool
	pending []byte
	err     error
}

func (l *lineEmitter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	if len(l.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.pending = append(l.pending, p...)
			return n, nil
		}
		l.pending = append(l.pending, p[:i+1]...)
		if l.err = l.line(l.pending); l.err != nil {
			return 0, l.err
		}
		l.pending = l.pending[:0]
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if l.err = l.line(p[:i+1]); l.err != nil {
			return 0, l.err
		}
		p = p[i+1:]
	}
	l.pending = append(l.pending, p...)
	return n, nil
}

func (l *lineEmitter) flush() error {
	if l.err != nil {
		return l.err
	}
	if len(l.pending) > 0 {
		l.err = l.line(l.pending)
		l.pending = nil
	}
	return l.err
}

func (l *lineEmitter) line(b []byte) error {
	b = bytes.TrimSuffix(b, []byte("\n"))
	key, value := l.keys.Split(b)
	if l.mapOnly {
		value = b[len(key):]
	}
	return l.emit.Emit(key, value)
}

// mapOnlyEmitter is the emitter a Go map function writes to in a
// map-only job: it gives a non-empty value the TAB that separates it from
// its key, as [lineEmitter] does with mapOnly, so that a pair with an
// empty value is written as its key alone.
type mapOnlyEmitter struct{ emit Emitter }

func (m mapOnlyEmitter) Emit(key, value []byte) error {
	if len(value) == 0 {
		return m.emit.Emit(key, nil)
	}
	v := make([]byte, 0, len(value)+1)
	return m.emit.Emit(key, append(append(v, '\t'), value...))
}

// runStreaming runs a map or combiner command in dir on in, its stdout
// parsed into pairs by lw, its reporter lines counted in counters; an exit
// status in ok counts as success (--ok-exit), and is returned (0 for 0).
func runStreaming(ctx context.Context, argv []string, dir string, ok []int, in io.Reader, lw *lineEmitter, counters *counter.Set) (int, error) {
	status, err := command.Accepted(command.RunReporting(ctx, argv, dir, in, lw, counters), ok)
	if lw.err != nil {
		return 0, lw.err // the command's output was rejected: say why
	}
	if err != nil {
		return 0, err
	}
	return status, lw.flush()
}

// Counters of the combiner, in the group CounterGroup.
const (
	CounterGroup         = "jetmr"
	CounterCombineInput  = "combine input pairs"
	CounterCombineOutput = "combine output pairs"
)

// combineCommand runs a combiner command (--combiner) on a map task's
// pairs, sorted by key as a reducer command reads them, and returns the
// pairs it prints instead, in a combiner of cfg, counting both in
// counters. It runs in dir; an exit status in ok counts as success
// (--ok-exit). The pairs of in (one partition) reach the command's stdin as
// the merge of its spilled runs yields them, so that the merge holds no
// more than its read buffers; what in still holds in memory is spilled
// first when it takes more than half of cfg.Limit, and the combiner of
// the command's pairs gets the rest of cfg.Limit.
func combineCommand(ctx context.Context, argv []string, dir string, ok []int, in *Combiner, cfg CombineConfig, counters *counter.Set) (*Combiner, error) {
	if cfg.Limit > 0 && in.held() > 0 && (in.Spilled() || in.held() > cfg.Limit/2) {
		if err := in.spill(); err != nil {
			return nil, err
		}
	}
	if cfg.Limit > 0 {
		cfg.Limit = max(cfg.Limit-in.held(), 1)
	}
	out, err := NewBoundedCombiner(nil, cfg)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	var g errgroup.Group
	var pairs int
	g.Go(func() error {
		bw := bufio.NewWriterSize(pw, 64<<10)
		n, err := in.merge(ctx, 0, func(k, v []byte) error {
			bw.Write(k)
			bw.WriteByte('\t')
			bw.Write(v)
			return bw.WriteByte('\n') // a bufio.Writer keeps its first error
		})
		if err == nil {
			err = bw.Flush()
		}
		pairs = n
		pw.CloseWithError(err) // nil: the command reads EOF
		return err
	})
	emitted := &countingEmitter{emit: out}
	_, runErr := runStreaming(ctx, argv, dir, ok, pr, &lineEmitter{emit: emitted, keys: cfg.Keys}, counters)
	// A command that ended without reading all its input stops the merge.
	pr.CloseWithError(errCombinerEnded)
	feedErr := g.Wait()
	if errors.Is(feedErr, errCombinerEnded) {
		feedErr = nil // what a command leaves unread is its own business
	}
	switch {
	case runErr != nil:
		out.Close()
		return nil, fmt.Errorf("combiner: %w", runErr)
	case feedErr != nil:
		out.Close()
		return nil, fmt.Errorf("feeding the combiner its pairs: %w", feedErr)
	}
	counters.Add(CounterGroup, CounterCombineInput, int64(pairs))
	counters.Add(CounterGroup, CounterCombineOutput, emitted.n)
	return out, nil
}

// errCombinerEnded stops the merge that feeds a combiner command once
// the command has ended.
var errCombinerEnded = errors.New("the combiner command ended")

// countingEmitter counts the pairs it passes on.
type countingEmitter struct {
	emit Emitter
	n    int64
}

func (c *countingEmitter) Emit(key, value []byte) error {
	c.n++
	return c.emit.Emit(key, value)
}
