package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nuid"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/internal/memory"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// plan is a validated job: its record, inputs and resolved functions.
type plan struct {
	cfg    Config
	record schema.JobRecord
	inputs []splitter.Input // the input files, when the source is files
	source splitter.Source
	reg    *mapper.Registry
	db     migrate.DB // a migrate job's database, closed by Run
	job    *mapper.Job
	total  int64
	// local is how many tasks this process runs at once (LocalWorkers).
	local int
	// chunkGiven is whether the caller chose the chunk size (a resume keeps
	// the job's own otherwise).
	chunkGiven bool
	// ownStore is set when the job runs in its own store under the
	// default root.
	ownStore bool
	// streamed is whether some inputs are read as streams (standard input,
	// compressed files); totalKnown whether total counts the bytes tasks
	// read (a compressed file's size does not).
	streamed, totalKnown bool
}

// defaultWindow sizes the window of outstanding tasks: at least 8 per slot
// (32 in all) so that workers never wait for the splitter, more for small
// chunks so that the round trips of many tiny tasks overlap, and never so
// many that their chunks add up to more than 64 MiB (4096 at most).
func defaultWindow(chunkSize int64, slots int) int {
	byBytes := int64(64<<20) / max(chunkSize, 1)
	return int(min(max(byBytes, int64(8*slots), 32), 4096))
}

// minStreamChunk is the least default chunk size of a job with streamed
// inputs; spooledChunkMax bounds the chunks (and lines) of streamed inputs
// spooled to files (transport "shared"); with transport "object" they
// travel in the task messages and splitter.DefaultStreamChunkMax bounds
// them.
const (
	minStreamChunk  = 1 << 20
	spooledChunkMax = 64 << 20
)

// DefaultBatchRows is the rows per batch of a migrate job.
const DefaultBatchRows = 1000

// initialAdaptiveChunk is the first chunk of input files sized by
// --task-time: small enough that the first tasks finish soon and inform
// the sizer.
const initialAdaptiveChunk = 256 << 10

// close releases what validate opened.
func (p *plan) close() {
	if p.db != nil {
		p.db.Close()
	}
}

// NewID returns a fresh job ID.
func NewID() string { return strings.ToLower(nuid.Next()) }

func validate(ctx context.Context, cfg Config) (_ *plan, err error) {
	if cfg.Resume && cfg.ID == "" {
		return nil, badInput("--resume needs --job ID: the job ID printed when the job started")
	}
	if cfg.RetryFailed && !cfg.Resume {
		return nil, badInput("--retry-failed reruns the dead letters of an earlier run: add --resume --job ID")
	}
	if err := cfg.Halt.validate(); err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	if err := schema.ValidateJobID(cfg.ID); err != nil {
		return nil, badInput("%v", err)
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	if cfg.Partitions < 1 || cfg.Partitions > 10000 {
		return nil, badInput("--partitions %d is not valid: use 1 to 10000", cfg.Partitions)
	}
	if cfg.ChunkSize < 0 {
		return nil, badInput("chunk size %d is not valid: use a positive size such as 64KiB or 8MiB", cfg.ChunkSize)
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.TaskTime < 0 || (cfg.TaskTime > 0 && cfg.TaskTime < time.Millisecond) {
		return nil, badInput("--task-time %s is not valid: use a duration of 1ms or more, such as 2s", cfg.TaskTime)
	}
	if cfg.Timeout < 0 {
		return nil, badInput("timeout %s is not valid: use a positive duration such as 30s", cfg.Timeout)
	}
	if err := CheckMemFree(cfg.MemFree); err != nil {
		return nil, err
	}
	if cfg.Observer == nil {
		cfg.Observer = observe.Multi() // one that ignores every event
	}
	p := &plan{cfg: cfg, chunkGiven: cfg.ChunkSize != 0, reg: cfg.Registry, source: cfg.Source}
	if p.local, err = localWorkers(cfg); err != nil {
		return nil, err
	}
	if p.reg == nil {
		p.reg = mapper.NewRegistry()
	}
	if cfg.Kind == schema.KindMigrate {
		if m := cfg.Migration; m != nil && strings.HasPrefix(m.DB, "sqlite:") && p.local == 0 {
			return nil, badInput("a SQLite database is a file on this machine, which jetmr workers elsewhere cannot open: run the batches here with --local-workers N, or migrate a PostgreSQL database")
		}
		if err := p.openMigration(ctx); err != nil {
			return nil, err
		}
		if p.cfg.ChunkSize == 0 {
			p.cfg.ChunkSize = DefaultBatchRows
		}
	}
	if cfg.Kind == schema.KindEach {
		if err := p.prepareEach(); err != nil {
			return nil, err
		}
	}
	if err := p.checkRecords(); err != nil {
		p.close()
		return nil, err
	}
	if p.source == nil {
		if err := p.resolveInputs(); err != nil {
			p.close()
			return nil, err
		}
	}
	var names []string
	var sizes []int64
	if d, ok := p.source.(splitter.Describer); ok {
		names, sizes = d.Describe()
	}
	for _, n := range sizes {
		p.total += n
	}
	p.totalKnown = !p.streamed
	if cfg.TaskTime > 0 && p.streamed {
		p.close()
		return nil, badInput("--task-time sizes chunks of files read by byte ranges; standard input and compressed inputs are read as streams: use --chunk-size for them")
	}
	if cfg.TaskTime > 0 {
		if _, ok := p.source.(splitter.AdaptiveSource); !ok {
			p.close()
			return nil, badInput("--task-time needs a source that can be split adaptively (input files or a migration's key ranges); use --chunk-size for this one")
		}
		if p.cfg.ChunkSize == 0 {
			p.cfg.ChunkSize = initialAdaptiveChunk
		}
		if p.cfg.Window <= 0 {
			// Chunks are sized when published: a short queue lets sizes
			// follow the tasks' observed times. With an external broker,
			// workers elsewhere may run more tasks than this process's -j.
			p.cfg.Window = 2 * cfg.Slots
			if cfg.Broker.URL != "" {
				p.cfg.Window = max(p.cfg.Window, 32)
			}
		}
	}
	if p.cfg.ChunkSize == 0 {
		p.cfg.ChunkSize = splitter.DefaultChunkSize(p.total, cfg.Slots)
		if p.streamed {
			// The size of a stream is not known (a compressed file's is
			// not its size): chunks of 1 MiB at least.
			p.cfg.ChunkSize = max(p.cfg.ChunkSize, minStreamChunk)
		}
	}
	if p.cfg.Window <= 0 {
		p.cfg.Window = defaultWindow(p.cfg.ChunkSize, cfg.Slots)
		if cfg.Kind == schema.KindMigrate {
			// Batches start when published: keep the queue short, so that
			// --max-rate and --pause-when govern when batches start.
			p.cfg.Window = 2 * cfg.Slots
		}
	}
	p.record = schema.JobRecord{
		ID: cfg.ID, Kind: cfg.Kind, Partitions: cfg.Partitions, ChunkSize: p.cfg.ChunkSize,
		Retries: p.cfg.Retries, TimeoutNanos: int64(cfg.Timeout), TaskTimeNanos: int64(cfg.TaskTime), Created: time.Now().UnixNano(),
		State: schema.StateRunning,
	}
	p.record.Inputs, p.record.InputSizes = names, sizes
	rec := p.cfg.Records
	p.record.Header, p.record.RecEnd, p.record.RecStart, p.record.Format, p.record.HeaderOnce = rec.Header, rec.End, rec.Start, rec.Format, cfg.HeaderOnce
	if f, ok := p.source.(splitter.Fingerprinter); ok {
		p.record.InputFingerprints = recordFingerprints(f.Fingerprints())
	}
	if p.record.Transport, err = transport(cfg.Transport, cfg.Broker.URL != ""); err != nil {
		p.close()
		return nil, err
	}
	if in, ok := p.source.(splitter.Inputs); ok && p.record.Transport == schema.TransportShared {
		in.Max = spooledChunkMax // spooled chunks do not travel in messages
		p.source = in
	}
	if m := cfg.Migration; cfg.Kind == schema.KindMigrate {
		p.record.DB, p.record.Table, p.record.Key, p.record.Where, p.record.SQL = m.DB, m.Table, m.Key, m.Where, m.SQL
	}
	switch cfg.Kind {
	case schema.KindPipe:
		err = p.validatePipe()
	case schema.KindMapReduce:
		err = p.validateMapReduce()
	case schema.KindMigrate:
	case schema.KindEach:
		err = p.validateEach()
	default:
		err = badInput("job kind %q is not valid: use %s, %s, %s or %s", cfg.Kind, schema.KindPipe, schema.KindMapReduce, schema.KindMigrate, schema.KindEach)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	if p.job, err = p.resolve(p.record); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// checkRecords checks the job's record options (Config.Records and
// HeaderOnce).
func (p *plan) checkRecords() error {
	rec := p.cfg.Records
	if rec.IsZero() && !p.cfg.HeaderOnce {
		return nil
	}
	if p.cfg.Kind != schema.KindPipe && p.cfg.Kind != schema.KindMapReduce {
		return badInput("--header, --format, --recend, --recstart and -0 apply to pipe and mapreduce jobs: drop them")
	}
	if p.source != nil {
		return badInput("record options (--header, --format, --recend, --recstart, -0) apply to input files; a job with its own Source cuts its own chunks: drop them")
	}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if p.cfg.HeaderOnce {
		if p.cfg.Kind != schema.KindPipe {
			return badInput("--header-once applies to pipe jobs, whose output is one stream: drop it")
		}
		if rec.Header == 0 {
			return badInput("--header-once keeps one copy of the header the command prints: give the number of header lines with --header N")
		}
		p.cfg.Records.SameHeader = true
	}
	return nil
}

// resolveInputs resolves the input paths into the job's source: input
// files by byte ranges, or, when standard input or a compressed file is
// among them, each input in turn with those read as streams.
func (p *plan) resolveInputs() error {
	inputs, err := splitter.ResolveInputs(p.cfg.Inputs)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	p.inputs, p.source = inputs, splitter.Files(inputs)
	if rec := p.cfg.Records; !rec.IsZero() {
		p.source = splitter.RecordFiles{Inputs: inputs, Records: rec}
	}
	for _, in := range inputs {
		if in.Path == splitter.Stdin && p.cfg.Resume {
			return badInput("standard input (-i -) cannot be read again, so a job reading it cannot be resumed: run it again without --resume")
		}
		p.streamed = p.streamed || in.Streamed()
	}
	if p.streamed {
		p.source = splitter.Inputs{Inputs: inputs, Stdin: p.cfg.Stdin, Records: p.cfg.Records}
	}
	return nil
}

// recordFingerprints converts the splitter's fingerprints for the job
// record.
func recordFingerprints(fps []splitter.Fingerprint) []schema.InputFingerprint {
	out := make([]schema.InputFingerprint, len(fps))
	for i, fp := range fps {
		out[i] = schema.InputFingerprint{Size: fp.Size, ModTime: fp.ModTime, Dev: fp.Dev, Ino: fp.Ino}
	}
	return out
}

func (p *plan) validatePipe() error {
	if err := command.Check(p.cfg.Command); err != nil {
		return fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	p.record.Command = p.cfg.Command
	if p.cfg.Output == "" {
		return nil
	}
	out, err := p.checkOutputPath(p.cfg.Output)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return badInput("output %s is a directory: give a file path to -o", p.cfg.Output)
	}
	p.record.Output = out
	return nil
}

func (p *plan) validateMapReduce() error {
	if p.cfg.Output == "" {
		return badInput("mapreduce needs an output directory: add -o DIR")
	}
	out, err := p.checkOutputPath(p.cfg.Output)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(out); err == nil && !p.cfg.Resume {
		return badInput("output directory %s already exists: remove it or choose another -o", p.cfg.Output)
	}
	for _, in := range p.cfg.Inputs {
		if in == splitter.Stdin {
			continue
		}
		abs, _ := filepath.Abs(in)
		if rel, err := filepath.Rel(abs, out); err == nil && !strings.HasPrefix(rel, "..") {
			return badInput("output directory %s is inside input %s: choose an -o outside the inputs", p.cfg.Output, in)
		}
	}
	p.record.Output = out
	if p.record.Map, p.record.MapCommand, err = p.resolveMap(p.cfg.Map); err != nil {
		return err
	}
	p.record.Reduce, p.record.ReduceCommand, err = p.resolveReduce(p.cfg.Reduce)
	return err
}

// checkOutputPath checks that the output's folder exists and that the
// output is none of the inputs, and returns its absolute path.
func (p *plan) checkOutputPath(path string) (string, error) {
	out, err := filepath.Abs(path)
	if err != nil {
		return "", badInput("output %s: %v", path, err)
	}
	parent := filepath.Dir(out)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return "", badInput("the folder of output %s (%s) does not exist: create it first", path, parent)
	}
	outInfo, statErr := os.Stat(out)
	for _, in := range p.inputs {
		if in.Path == out {
			return "", badInput("output %s is also an input: choose another -o", path)
		}
		if statErr == nil {
			if inInfo, err := os.Stat(in.Path); err == nil && os.SameFile(inInfo, outInfo) {
				return "", badInput("output %s is the same file as input %s: choose another -o", path, in.Path)
			}
		}
	}
	return out, nil
}

func (p *plan) resolveMap(spec string) (string, []string, error) {
	if spec == "" {
		return "", nil, badInput("mapreduce needs --map: a built-in (%s) or a command", p.reg.MapNames())
	}
	_, ok, err := p.reg.Map(spec)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --map: %v", ErrBadInput, err)
	}
	if ok || p.workerFunction(spec) {
		return spec, nil, nil
	}
	argv, err := splitCommand("--map", spec, p.reg.MapNames())
	return "", argv, err
}

func (p *plan) resolveReduce(spec string) (string, []string, error) {
	if spec == "" {
		return "", nil, badInput("mapreduce needs --reduce: a built-in (%s) or a command", p.reg.ReduceNames())
	}
	if _, _, ok := p.reg.Reduce(spec); ok {
		return spec, nil, nil
	}
	argv, err := splitCommand("--reduce", spec, p.reg.ReduceNames())
	return "", argv, err
}

func splitCommand(flag, spec, builtins string) ([]string, error) {
	argv, err := command.Split(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, flag, err)
	}
	if err := command.Check(argv); err != nil {
		if len(argv) == 1 && !strings.ContainsRune(argv[0], '/') && !errors.Is(err, command.ErrNotExecutable) {
			return nil, badInput("%s %q is neither a built-in (%s) nor a command on PATH", flag, spec, builtins)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, flag, err)
	}
	return argv, nil
}

// CheckMemFree refuses, with an error wrapping [ErrBadInput], a --memfree
// (Config.MemFree) that this machine can never have free: more than its
// memory, or its cgroup's limit. The local workers would wait for it
// forever.
func CheckMemFree(memFree int64) error {
	if memFree < 0 {
		return badInput("--memfree %d is not valid: give a size such as 2GiB", memFree)
	}
	if memFree == 0 {
		return nil
	}
	total, err := memory.Total()
	if err != nil || memFree <= total {
		return nil // no figure to check against: the workers wait as asked
	}
	return badInput("--memfree %s is more than the %s of memory this machine has (or its cgroup allows), so no task would ever start: give less, e.g. --memfree %dMiB",
		humanize.IBytes(uint64(memFree)), humanize.IBytes(uint64(total)), total/8>>20)
}
