package mapper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// output is a task's output for one partition: inline bytes, a file, or
// an object in the job's data bucket.
type output struct {
	payload []byte
	spill   string
	object  string
	size    int64
	rows    int64 // rows a migrate batch covers
	// counters and status are what the attempt's commands and functions
	// reported (package counter); partition 0's output carries them.
	counters []schema.Counter
	status   string
	// exit is the exit status of the attempt's command (the pipe command,
	// the map command) when --ok-exit accepted one other than 0, for the
	// job log; partition 0's output carries it.
	exit int
}

// processor runs tasks of one job. It is safe for concurrent use.
type processor struct {
	job        *Job
	spillDir   string
	inlineMax  int
	syncSpills bool
	nonce      string
	// combineLimit bounds each map task's combiner (see [CombineShare]).
	combineLimit int64
	migrator     migrator
	obs          observe.Observer // receives an each job's per-item attempts
	// announce tells the job's submitter of an each item's attempt that
	// is retried, when the worker runs in another process; nil otherwise.
	announce func(observe.Attempt)
	// announceStart tells the job's submitter of an attempt of task t (at
	// its delivery) as it starts, when the worker runs in another
	// process; nil otherwise.
	announceStart func(ev observe.Attempt, t schema.Task, delivery int)
	files         fileCache
	bufs          chunkBuffers
	data          dataStore        // the job's object store, for transport "object"
	nc            *nats.Conn       // fetches chunks from the submitter (Task.Fetch)
	fetcher       transfer.Fetcher // how
	objects       objectInputs     // reads the ranges of s3:// inputs
}

// process runs one attempt of a task and returns its output per partition,
// the bytes of input it read, or the task's error.
func (p *processor) process(ctx context.Context, t schema.Task, attempt int, ev observe.Attempt) ([]output, int64, error) {
	return p.job.run(p, ctx, t, attempt, ev)
}

// taskRunner runs one attempt of a task of one kind; ResolveReduce picks
// it from the job's kind.
type taskRunner func(p *processor, ctx context.Context, t schema.Task, attempt int, ev observe.Attempt) ([]output, int64, error)

func runEach(p *processor, ctx context.Context, t schema.Task, attempt int, ev observe.Attempt) ([]output, int64, error) {
	out, err := p.processEach(ctx, t, attempt, ev)
	return []output{out}, taskLength(t), err
}

func runPipe(p *processor, ctx context.Context, t schema.Task, attempt int, _ observe.Attempt) ([]output, int64, error) {
	out, err := p.processPipe(ctx, t, attempt)
	if err == nil {
		if err = p.shipSpill(ctx, &out); err != nil {
			removeSpill(out)
		}
	}
	return []output{out}, taskLength(t), err
}

func runBatch(p *processor, ctx context.Context, t schema.Task, attempt int, _ observe.Attempt) ([]output, int64, error) {
	out, err := p.processBatch(ctx, t, attempt)
	return []output{out}, 0, err
}

func runKeyed(p *processor, ctx context.Context, t schema.Task, attempt int, _ observe.Attempt) ([]output, int64, error) {
	outs, err := p.processKeyed(ctx, t, attempt)
	return outs, taskLength(t), err
}

// shipSpill moves a spilled output into the job's object store when its
// workers share no disk with the reducer.
func (p *processor) shipSpill(ctx context.Context, o *output) error {
	if o.spill == "" || p.job.Record.Transport != schema.TransportObject {
		return nil
	}
	f, err := os.Open(o.spill)
	if err != nil {
		return fmt.Errorf("shipping spilled output: %w", err)
	}
	defer f.Close()
	name := filepath.Base(o.spill)
	if err := p.data.put(ctx, name, f); err != nil {
		return err
	}
	os.Remove(o.spill)
	o.spill, o.object = "", name
	return nil
}

func taskLength(t schema.Task) int64 {
	if t.Path == "" {
		return int64(len(t.Inline))
	}
	return t.Length
}

// spillName names a spilled output: a backup attempt's (its own attempt
// 1) differs from the original's, which may run in the same worker.
func (p *processor) spillName(t schema.Task, partition, attempt int) string {
	backup := ""
	if t.Backup {
		backup = "b"
	}
	return fmt.Sprintf("%d.p%d.a%d%s.%s", t.Index, partition, attempt, backup, p.nonce)
}

func (p *processor) processPipe(ctx context.Context, t schema.Task, attempt int) (output, error) {
	in, sum, closeIn, err := p.pipeInput(ctx, t)
	if err != nil {
		return output{}, err
	}
	defer closeIn()
	if !p.job.Record.HeaderOnce || t.Index == 0 || len(t.Header) == 0 {
		return p.pipeToFile(ctx, t, attempt, in, sum)
	}
	// Only the first task's output keeps the header the command prints:
	// what it prints for the header lines alone.
	head, err := p.headerOutput(ctx, t)
	if err != nil {
		return output{}, err
	}
	w := newSpillWriter(p.spillDir, p.spillName(t, 0, attempt), p.inlineMax, p.syncSpills)
	strip := &headerStripper{want: head, w: w}
	exit, err := command.Accepted(command.Run(ctx, p.job.Record.Command, p.job.Dir, in, strip), p.job.Record.OkExit)
	if err == nil && sum != nil {
		err = sum.verify(&t)
	}
	if err == nil {
		err = strip.check(&t)
	}
	if err != nil {
		w.abort()
		return output{}, err
	}
	payload, spill, err := w.finish()
	if err != nil {
		w.abort()
		return output{}, err
	}
	return output{payload: payload, spill: spill, size: w.size(), exit: exit}, nil
}

// pipeToFile runs a pipe task's command over in (its header included)
// with its stdout on the spill file itself, so that its output never
// passes through this process; an output no larger than the inline limit
// is read back to travel in the result message, and the file removed.
func (p *processor) pipeToFile(ctx context.Context, t schema.Task, attempt int, in io.Reader, sum *summingReader) (output, error) {
	f, err := os.OpenFile(SpillPath(p.spillDir, p.spillName(t, 0, attempt)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return output{}, fmt.Errorf("creating the output file of task %d: %w", t.Index, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	exit, err := command.Accepted(command.Run(ctx, p.job.Record.Command, p.job.Dir, in, f), p.job.Record.OkExit)
	if err == nil && sum != nil {
		err = sum.verify(&t)
	}
	if err != nil {
		return output{}, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return output{}, fmt.Errorf("measuring the output of task %d: %w", t.Index, err)
	}
	if size <= int64(p.inlineMax) {
		data := make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
			return output{}, fmt.Errorf("reading the output of task %d: %w", t.Index, err)
		}
		return output{payload: data, size: size, exit: exit}, nil
	}
	if p.syncSpills {
		if err := f.Sync(); err != nil {
			return output{}, fmt.Errorf("syncing spilled output: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return output{}, fmt.Errorf("closing spilled output: %w", err)
	}
	keep = true
	return output{spill: f.Name(), size: size, exit: exit}, nil
}

// chunkInMemoryMax bounds the chunks a pipe task reads whole, and checks,
// before its command starts (see [processor.pipeInput]): a larger chunk,
// which --chunk-size can ask for, streams, so that a worker never holds
// more than this per slot. Every default chunk size is within it.
var chunkInMemoryMax int64 = splitter.MaxDefaultChunk

// pipeInput returns the data a pipe task's command reads, its header
// first, and what closes it. A chunk of a file, or one the task carries,
// of at most chunkInMemoryMax bytes is read whole and checked against the
// split's checksum first, so that a command never runs on an input that
// changed after the split; sum is nil then. Any other chunk streams, and
// sum, when not nil, checks it once the command has read it.
//
// Either way the command reads from a pipe. A chunk in memory is a
// [command.Bytes]: as much of it as the pipe can be grown to hold (1 MiB
// by default on Linux) is in the pipe before the command starts, so that
// its reads do not wake jetmr.
func (p *processor) pipeInput(ctx context.Context, t schema.Task) (in io.Reader, sum *summingReader, done func(), err error) {
	if (t.Shipped() || !objstore.IsURL(t.Path)) && taskLength(t) <= chunkInMemoryMax {
		chunk, release, err := p.readChunk(ctx, t)
		if err != nil {
			return nil, nil, nil, err
		}
		return command.NewBytes(t.Header, chunk), nil, release, nil
	}
	in, done, err = p.openTaskInput(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	if !t.Shipped() && t.Sum != nil {
		sum = &summingReader{r: in, h: schema.NewChecksum()}
		in = sum
	}
	return withHeader(t.Header, in), sum, done, nil
}

func (p *processor) openTaskInput(ctx context.Context, t schema.Task) (io.Reader, func(), error) {
	if objstore.IsURL(t.Path) && !t.Shipped() {
		r, _, _, err := p.openObjectRange(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	}
	if t.Shipped() {
		data, release, err := p.shipped(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		return bytes.NewReader(data), release, nil
	}
	f, err := os.Open(t.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening input of task %d: %w", t.Index, err)
	}
	return io.NewSectionReader(f, t.Offset, t.Length), func() { f.Close() }, nil
}

// shipped returns the data a task carries, once its checksum is
// verified: inline, fetched from the job's submitter (Task.Fetch) into a
// buffer from the pool, or read from an object (tasks published before
// fetching). release gives the buffer back. This is where a shipped
// task's bytes reach the worker.
func (p *processor) shipped(ctx context.Context, t schema.Task) (data []byte, release func(), err error) {
	release = func() {}
	switch {
	case t.Fetch:
		var buf []byte
		buf, release = p.buffer(t.Length)
		// Fetch checks the chunk against the task's checksum as it reads.
		if err := p.fetcher.Fetch(ctx, p.nc, &t, buf); err != nil {
			release()
			if errors.Is(err, schema.ErrChecksum) {
				return nil, nil, changedInput(&t, err)
			}
			return nil, nil, err
		}
		return buf, release, nil
	case t.Object != "":
		if data, err = p.data.get(ctx, t.Object); err != nil {
			return nil, nil, fmt.Errorf("fetching the chunk of task %d: %w", t.Index, err)
		}
	default:
		data = t.Inline
	}
	if t.Sum != nil {
		if err := schema.VerifyChecksum(&t, data); err != nil {
			return nil, nil, err
		}
	}
	return data, release, nil
}

// buffer returns a buffer of n bytes from the pool and what gives it
// back.
func (p *processor) buffer(n int64) ([]byte, func()) {
	return p.bufs.get(n)
}

// readChunk returns the task's bytes, in a buffer from the pool that the
// caller gives back with release.
func (p *processor) readChunk(ctx context.Context, t schema.Task) ([]byte, func(), error) {
	chunk, _, release, err := p.readChunkAt(ctx, t)
	return chunk, release, err
}

// readChunkAt is readChunk that also returns the offset in t.Path of the
// chunk's first byte: t.Offset, except for a range of an object, which
// the worker moves to the next record boundary.
func (p *processor) readChunkAt(ctx context.Context, t schema.Task) ([]byte, int64, func(), error) {
	if t.Shipped() {
		chunk, release, err := p.shipped(ctx, t)
		return chunk, t.Offset, release, err
	}
	if objstore.IsURL(t.Path) {
		return p.readObjectRange(ctx, t)
	}
	chunk, release, err := p.readFileChunk(t)
	return chunk, t.Offset, release, err
}

// readFileChunk reads the task's byte range of a file.
func (p *processor) readFileChunk(t schema.Task) ([]byte, func(), error) {
	buf, release := p.buffer(t.Length)
	open := p.files.open
	if p.spillDir != "" && strings.HasPrefix(t.Path, p.spillDir+string(filepath.Separator)) {
		// A chunk the job spooled into the spill folder (a streamed input)
		// is read once and removed once merged: keeping it open would keep
		// its disk space.
		open = openOnce
	}
	f, done, err := open(t.Path)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("opening input of task %d: %w", t.Index, err)
	}
	defer done()
	if _, err := f.ReadAt(buf, t.Offset); err != nil {
		release()
		if errors.Is(err, io.EOF) && t.Sum != nil {
			return nil, nil, changedInput(&t, err)
		}
		return nil, nil, fmt.Errorf("reading %s at %d+%d for task %d: %w", t.Path, t.Offset, t.Length, t.Index, err)
	}
	if t.Sum != nil {
		if err := schema.VerifyChecksum(&t, buf); err != nil {
			release()
			return nil, nil, changedInput(&t, err)
		}
	}
	return buf, release, nil
}

// changedInput is the failure of a task whose byte range no longer holds
// the bytes the splitter read: the file changed after it was split. No
// retry can fix it, and going on would mix two versions of the file.
func changedInput(t *schema.Task, cause error) error {
	return inputChanged{&schema.TaskError{Permanent: true, InputChanged: true, Message: fmt.Sprintf(
		"input %s changed after it was split: bytes %d-%d are not what the splitter read (%v): do not modify inputs while a job runs; run the job again",
		t.Path, t.Offset, t.Offset+t.Length, cause)}}
}

// inputChanged is the error of [changedInput]: no record is to blame, so
// the task's input is not bisected.
type inputChanged struct{ te *schema.TaskError }

func (e inputChanged) Error() string { return e.te.Message }
func (e inputChanged) Unwrap() error { return e.te }

// summingReader computes the checksum of a byte range as a command reads
// it.
type summingReader struct {
	r io.Reader
	h hash.Hash32
	n int64
}

func (s *summingReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

// verify reads what the command left of the range and checks the whole
// range against the task's checksum.
func (s *summingReader) verify(t *schema.Task) error {
	if _, err := io.Copy(io.Discard, s); err != nil {
		return fmt.Errorf("reading %s at %d+%d for task %d: %w", t.Path, t.Offset, t.Length, t.Index, err)
	}
	if err := schema.VerifySum(t, s.h.Sum(nil), s.n); err != nil {
		return changedInput(t, err)
	}
	if s.n != t.Length {
		return changedInput(t, fmt.Errorf("read %d bytes of %d", s.n, t.Length))
	}
	return nil
}

func (p *processor) processKeyed(ctx context.Context, t schema.Task, attempt int) ([]output, error) {
	chunk, release, err := p.readChunk(ctx, t)
	if err != nil {
		return nil, err
	}
	defer release()
	keys := p.job.Record.Keys()
	cc := p.job.Record.CombineCommand
	parts := p.job.Record.Partitions
	if len(cc) > 0 {
		parts = 1 // the combiner command reads every pair, in one run
	}
	name := p.spillName(t, 0, attempt) + ".comb"
	comb, err := NewBoundedCombiner(p.job.Combiner, CombineConfig{
		Partitions: parts, Limit: p.combineLimit, Dir: p.spillDir, Name: name, Keys: keys,
	})
	if err != nil {
		return nil, err
	}
	defer comb.Close()
	counters := &counter.Set{}
	ctx = counter.NewContext(ctx, counters)
	exit, err := p.mapChunk(ctx, t, chunk, comb, counters)
	if err != nil {
		return nil, err
	}
	if len(cc) > 0 {
		combined, err := combineCommand(ctx, cc, p.job.Dir, p.job.Record.OkExit, comb, CombineConfig{
			Partitions: p.job.Record.Partitions, Limit: p.combineLimit, Dir: p.spillDir, Name: name + "d", Keys: keys,
		}, counters)
		if err != nil {
			return nil, err
		}
		comb.Close()
		comb = combined
		defer comb.Close()
	}
	if comb.Spilled() {
		outs, err := p.mergeSpilled(ctx, t, attempt, comb)
		if err != nil {
			return nil, err
		}
		outs[0].counters, outs[0].status, outs[0].exit = counters.List(), counters.LastStatus(), exit
		return outs, nil
	}
	runs, err := comb.EncodeRuns(p.job.Record.Partitions)
	if err != nil {
		return nil, fmt.Errorf("encoding output of task %d: %w", t.Index, err)
	}
	outs := make([]output, len(runs))
	for part, run := range runs {
		if outs[part], err = p.keep(ctx, t, part, attempt, run); err != nil {
			for _, o := range outs[:part] {
				removeSpill(o)
			}
			return nil, err
		}
	}
	outs[0].counters, outs[0].status, outs[0].exit = counters.List(), counters.LastStatus(), exit
	return outs, nil
}

// mapChunk runs the job's map (function or command) over a chunk of task
// t into comb, counting into counters. It returns the map command's exit
// status when --ok-exit accepted one other than 0, else 0.
func (p *processor) mapChunk(ctx context.Context, t schema.Task, chunk []byte, comb *Combiner, counters *counter.Set) (int, error) {
	mapOnly := p.job.Record.Reduce == schema.ReduceNone
	if p.job.Map != nil {
		// A Go map function (a built-in) reads the chunk alone: the
		// header, which no chunk holds, is skipped.
		var emit Emitter = comb
		if mapOnly {
			emit = mapOnlyEmitter{comb}
		}
		return 0, p.job.Map(ctx, chunk, emit)
	}
	return runStreaming(ctx, p.job.Record.MapCommand, p.job.Dir, p.job.Record.OkExit, command.NewBytes(t.Header, chunk), &lineEmitter{emit: comb, keys: p.job.Record.Keys(), mapOnly: mapOnly}, counters)
}

// mergeSpilled writes the output of a task whose combiner spilled: each
// partition's runs merged into one, streamed to a spill file unless it
// stays within inlineMax.
func (p *processor) mergeSpilled(ctx context.Context, t schema.Task, attempt int, comb *Combiner) ([]output, error) {
	outs := make([]output, p.job.Record.Partitions)
	fail := func(err error) ([]output, error) {
		for _, o := range outs {
			removeSpill(o)
		}
		return nil, err
	}
	for part := range outs {
		w := newSpillWriter(p.spillDir, p.spillName(t, part, attempt), p.inlineMax, p.syncSpills)
		bw := bufio.NewWriterSize(w, 256<<10)
		n, err := comb.WriteRun(ctx, part, bw)
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = w.putRunHeader(n)
		}
		if err != nil {
			w.abort()
			return fail(fmt.Errorf("merging the spilled output of task %d: %w", t.Index, err))
		}
		inline, path, err := w.finish()
		if err != nil {
			w.abort()
			return fail(err)
		}
		outs[part] = output{payload: inline, spill: path, size: w.size()}
		if err := p.shipSpill(ctx, &outs[part]); err != nil {
			return fail(err)
		}
	}
	return outs, nil
}

// keep makes encoded output data a result's payload, or, when it is
// larger than inlineMax, spills it to a file or (transport "object") puts
// it in the job's object store.
func (p *processor) keep(ctx context.Context, t schema.Task, part, attempt int, data []byte) (output, error) {
	size := int64(len(data))
	if len(data) <= p.inlineMax {
		return output{payload: data, size: size}, nil
	}
	if p.job.Record.Transport == schema.TransportObject {
		name := p.spillName(t, part, attempt)
		if err := p.data.put(ctx, name, bytes.NewReader(data)); err != nil {
			return output{}, err
		}
		return output{object: name, size: size}, nil
	}
	w := newSpillWriter(p.spillDir, p.spillName(t, part, attempt), 0, p.syncSpills)
	if _, err := w.Write(data); err != nil {
		w.abort()
		return output{}, err
	}
	_, path, err := w.finish()
	if err != nil {
		w.abort()
		return output{}, err
	}
	return output{spill: path, size: size}, nil
}

func removeSpill(o output) {
	if o.spill != "" {
		os.Remove(o.spill)
	}
}

// SpillPath is where a worker in spillDir puts a spilled output; the
// reducer resolves result references with it.
func SpillPath(spillDir, name string) string { return filepath.Join(spillDir, name) }

// fileCache keeps input files open across tasks: small chunks of one file
// would otherwise pay an open and a close each. ReadAt is safe for
// concurrent use, so tasks share a file.
type fileCache struct {
	mu    sync.Mutex
	files map[string]*os.File
}

// maxCachedFiles bounds the open files a worker keeps.
const maxCachedFiles = 64

// open returns the file at path; the caller calls done when it has read.
// Past maxCachedFiles, files are opened for one task and closed by done.
func (c *fileCache) open(path string) (f *os.File, done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.files[path]; ok {
		return f, func() {}, nil
	}
	if f, err = os.Open(path); err != nil {
		return nil, nil, err
	}
	if len(c.files) >= maxCachedFiles {
		return f, func() { f.Close() }, nil
	}
	if c.files == nil {
		c.files = make(map[string]*os.File)
	}
	c.files[path] = f
	return f, func() {}, nil
}

// openOnce opens path for one task; done closes it.
func openOnce(path string) (*os.File, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// close closes every cached file, once no task reads any more.
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, f := range c.files {
		f.Close()
		delete(c.files, p)
	}
}
