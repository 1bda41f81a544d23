package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nuid"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/internal/memory"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/objstore"
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
	// nullKeys counts a migrate job's rows whose key is NULL, which no
	// batch covers.
	nullKeys int64
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
	// rejects is where the records skipped go (skip mode); "" otherwise.
	rejects string
	// s3 is the object store of s3:// inputs; nil when there are none.
	s3 *schema.S3Service
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

// validate turns cfg into a plan in three phases: fill the defaults,
// check every setting (pure, reporting every problem at once), then open
// what the job needs (its database, its inputs, its output's folder).
// Nothing is opened unless every check passed.
func validate(ctx context.Context, cfg Config) (*plan, error) {
	cfg = withDefaults(cfg)
	if err := check(cfg); err != nil {
		return nil, err
	}
	return open(ctx, cfg)
}

// withDefaults fills the settings left zero. An ID is chosen only for a
// new job: a resumed one must name its own.
func withDefaults(cfg Config) Config {
	if cfg.ID == "" && !cfg.Resume {
		cfg.ID = NewID()
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	if cfg.Memory == 0 {
		cfg.Memory = DefaultMemory()
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Observer == nil {
		cfg.Observer = observe.Multi() // one that ignores every event
	}
	return cfg
}

// check checks the settings that need nothing opened, and returns every
// problem it finds, joined, each a bad input naming its setting.
func check(cfg Config) error {
	var errs []error
	bad := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Resume && cfg.ID == "" {
		bad(badSetting("Config.Resume", "Config.Resume needs Config.ID: the job ID printed when the job started"))
	}
	if cfg.RetryFailed && !cfg.Resume {
		bad(badSetting("Config.RetryFailed", "Config.RetryFailed reruns the dead letters of an earlier run: add Config.Resume and Config.ID"))
	}
	bad(cfg.Halt.validate())
	if cfg.ID != "" {
		if err := schema.ValidateJobID(cfg.ID); err != nil {
			bad(badSetting("Config.ID", "%v", err))
		}
	}
	if cfg.Partitions < 1 || cfg.Partitions > 10000 {
		bad(badSetting("Config.Partitions", "Config.Partitions %d is not valid: use 1 to 10000", cfg.Partitions))
	} else if min := MinMemory * int64(cfg.Partitions); cfg.Memory < min {
		bad(badSetting("Config.Memory", "Config.Memory %s is below what the reduce needs to hold one key per partition: use at least %s for %d partition(s)", sizeText(cfg.Memory), sizeText(min), cfg.Partitions))
	}
	if cfg.ChunkSize < 0 {
		bad(badSetting("Config.ChunkSize", "Config.ChunkSize %d is not valid: use a positive size such as 64KiB or 8MiB", cfg.ChunkSize))
	}
	if cfg.TaskTime < 0 || (cfg.TaskTime > 0 && cfg.TaskTime < time.Millisecond) {
		bad(badSetting("Config.TaskTime", "Config.TaskTime %s is not valid: use a duration of 1ms or more, such as 2s", cfg.TaskTime))
	}
	if cfg.Timeout < 0 {
		bad(badSetting("Config.Timeout", "Config.Timeout %s is not valid: use a positive duration such as 30s", cfg.Timeout))
	}
	if cfg.SkipBadRecords < 0 {
		bad(badSetting("Config.SkipBadRecords", "Config.SkipBadRecords %d is not valid: use 0 or more bad records to skip", cfg.SkipBadRecords))
	} else if cfg.SkipBadRecords > 0 && (cfg.Records.Format != "" || cfg.Records.Start != "") {
		// The mapper bisects only records it can cut anywhere by their end.
		bad(badSetting("Config.SkipBadRecords", "Config.SkipBadRecords finds bad records by splitting a failed task's input at line (or --recend) ends; records of --format or --recstart cannot be split so, and no record would be skipped: drop Config.SkipBadRecords, or those record options"))
	}
	if cfg.Rejects != "" && cfg.SkipBadRecords == 0 { // a negative one is refused above
		bad(badSetting("Config.Rejects", "Config.Rejects receives the records Config.SkipBadRecords skips: add Config.SkipBadRecords N, or drop Config.Rejects"))
	}
	bad(checkOkExit(cfg))
	bad(CheckMemFree(cfg.MemFree))
	bad(cfg.checkSpeculative())
	_, err := localWorkers(cfg)
	bad(err)
	_, err = opsOf(cfg.Kind)
	bad(err)
	_, err = transport(cfg.Transport, cfg.Broker.URL != "")
	bad(err)
	bad(checkDataListen(cfg.DataListen))
	bad(checkReduceOnWorkers(cfg))
	return errors.Join(errs...)
}

// open prepares a checked configuration: it opens what the job's kind
// needs and its inputs, sizes its chunks and fills its record. It closes
// what it opened when it fails.
func open(ctx context.Context, cfg Config) (_ *plan, err error) {
	p := &plan{cfg: cfg, chunkGiven: cfg.ChunkSize != 0, reg: cfg.Registry, source: cfg.Source}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.local, _ = localWorkers(cfg) // checked
	if p.reg == nil {
		p.reg = mapper.NewRegistry()
	}
	ops := kinds[cfg.Kind]
	if cfg.Kind == schema.KindMigrate {
		// A migration has no output to put its rejects next to, and its
		// preparation opens the database and creates the progress table:
		// its rejects file is checked first, so that a refusal writes
		// nothing (and again below, to record it).
		if err := p.checkRejects(); err != nil {
			return nil, err
		}
	}
	if ops.prepare != nil {
		if err := ops.prepare(p, ctx); err != nil {
			return nil, err
		}
	}
	if err := p.checkRecords(); err != nil {
		return nil, err
	}
	if p.source == nil {
		if err := p.resolveInputs(ctx); err != nil {
			return nil, err
		}
	}
	if err := p.sizeChunks(); err != nil {
		return nil, err
	}
	p.record = schema.JobRecord{
		ID: cfg.ID, Pipeline: cfg.Pipeline, Kind: cfg.Kind, Partitions: cfg.Partitions, ChunkSize: p.cfg.ChunkSize, Memory: cfg.Memory,
		Retries: p.cfg.Retries, OkExit: okExit(cfg.OkExit), TimeoutNanos: int64(cfg.Timeout), TaskTimeNanos: int64(cfg.TaskTime), Created: time.Now().UnixNano(),
		State: schema.StateRunning, OutputURL: cfg.outputURL,
	}
	if d, ok := p.source.(splitter.Describer); ok {
		p.record.Inputs, p.record.InputSizes = d.Describe()
	}
	rec := p.cfg.Records
	p.record.Header, p.record.RecEnd, p.record.RecStart, p.record.Format, p.record.HeaderOnce = rec.Header, rec.End, rec.Start, rec.Format, cfg.HeaderOnce
	if f, ok := p.source.(splitter.Fingerprinter); ok {
		p.record.InputFingerprints = recordFingerprints(f.Fingerprints())
	}
	// Workers run the job's commands here, where its relative paths were
	// written; a resume keeps the record's. A directory that cannot be
	// named (removed) leaves each worker in its own, as before.
	p.record.WorkDir, _ = os.Getwd()
	p.record.Speculative = cfg.speculative()
	p.record.TaperSlots = p.taperSlots()
	p.record.S3 = p.s3
	p.record.Transport, _ = transport(cfg.Transport, cfg.Broker.URL != "") // checked
	p.record.ReduceOnWorkers = cfg.ReduceOnWorkers
	p.record.Force = cfg.Force && cfg.Output != ""
	if in, ok := p.source.(splitter.Inputs); ok && p.record.Transport == schema.TransportShared {
		in.Max = spooledChunkMax // spooled chunks do not travel in messages
		p.source = in
	}
	if err := ops.check(p); err != nil {
		return nil, err
	}
	if err := p.checkRejects(); err != nil {
		return nil, err
	}
	if p.job, err = p.resolve(p.record); err != nil {
		return nil, err
	}
	return p, nil
}

// sizeChunks measures the source and chooses the chunk size and the
// window of outstanding tasks the caller left to jetmr.
func (p *plan) sizeChunks() error {
	cfg := p.cfg
	if d, ok := p.source.(splitter.Describer); ok {
		_, sizes := d.Describe()
		for _, n := range sizes {
			p.total += n
		}
	}
	p.totalKnown = !p.streamed
	if cfg.TaskTime > 0 && p.streamed {
		return badSetting("Config.TaskTime", "Config.TaskTime sizes chunks of files read by byte ranges; standard input and compressed inputs are read as streams: use Config.ChunkSize for them")
	}
	if cfg.TaskTime > 0 {
		if _, ok := p.source.(splitter.AdaptiveSource); !ok {
			return badSetting("Config.TaskTime", "Config.TaskTime needs a source that can be split adaptively (input files or a migration's key ranges); use Config.ChunkSize for this one")
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
		if cfg.Kind.Traits().Keyed {
			p.cfg.ChunkSize = min(p.cfg.ChunkSize, mapChunkCap(cfg.Memory, cfg.Slots))
		}
		if p.streamed {
			// The size of a stream is not known (a compressed file's is
			// not its size): chunks of 1 MiB at least.
			p.cfg.ChunkSize = max(p.cfg.ChunkSize, minStreamChunk)
		}
	}
	if p.cfg.Window <= 0 {
		p.cfg.Window = defaultWindow(p.cfg.ChunkSize, cfg.Slots)
		if cfg.Kind.Traits().Split == schema.SplitKeys {
			// Batches start when published: keep the queue short, so that
			// --max-rate and --pause-when govern when batches start.
			p.cfg.Window = 2 * cfg.Slots
		}
	}
	return nil
}

// checkRecords checks the job's record options (Config.Records and
// Config.HeaderOnce), whose messages name the flags that set them.
func (p *plan) checkRecords() error {
	rec := p.cfg.Records
	if rec.IsZero() && !p.cfg.HeaderOnce {
		return nil
	}
	if p.cfg.Kind.Traits().Split != schema.SplitFiles {
		return badSetting("Config.Records", "record options (--header, --format, --recend, --recstart, -0) apply to pipe and mapreduce jobs: drop them")
	}
	if p.source != nil {
		return badSetting("Config.Records", "record options (--header, --format, --recend, --recstart, -0) apply to input files; a job with its own Config.Source cuts its own chunks: drop them")
	}
	if err := rec.Validate(); err != nil {
		return err // bad input already
	}
	if p.cfg.HeaderOnce {
		if !p.cfg.Kind.Traits().Ordered {
			return badSetting("Config.HeaderOnce", "--header-once applies to pipe jobs, whose output is one stream: drop it")
		}
		if rec.Header == 0 {
			return badSetting("Config.HeaderOnce", "--header-once keeps one copy of the header the command prints: give the number of header lines with --header N")
		}
		p.cfg.Records.SameHeader = true
	}
	return nil
}

// resolveInputs resolves the input paths into the job's source: input
// files by byte ranges, or, when standard input or a compressed file is
// among them, each input in turn with those read as streams.
func (p *plan) resolveInputs(ctx context.Context) error {
	if slices.ContainsFunc(p.cfg.Inputs, objstore.IsURL) {
		return p.resolveObjects(ctx)
	}
	inputs, err := splitter.ResolveInputs(p.cfg.Inputs)
	if err != nil {
		return err // bad input already
	}
	p.inputs, p.source = inputs, splitter.Files(inputs)
	if rec := p.cfg.Records; !rec.IsZero() {
		p.source = splitter.RecordFiles{Inputs: inputs, Records: rec}
		if err := splitter.CheckHeaders(ctx, inputs, rec); err != nil {
			return err
		}
	}
	for _, in := range inputs {
		if in.Path == splitter.Stdin && p.cfg.Resume && !p.uploadStaged() {
			return badSetting("Config.Resume", "standard input (-i -) cannot be read again, so a job reading it cannot be resumed: run it again without Config.Resume")
		}
		p.streamed = p.streamed || in.Streamed()
	}
	if p.streamed {
		p.source = splitter.Inputs{Inputs: inputs, Stdin: p.cfg.Stdin, Records: p.cfg.Records}
	}
	return nil
}

// listTimeout bounds listing a job's s3:// inputs.
const listTimeout = time.Minute

// resolveObjects lists the s3:// inputs into the job's source: objects
// cut into ranges by size, which the workers read themselves.
func (p *plan) resolveObjects(ctx context.Context) error {
	for _, in := range p.cfg.Inputs {
		if !objstore.IsURL(in) {
			return badSetting("Config.Inputs", "input %s is a path and other inputs are s3:// URLs: a job reads either files or objects; run one job for each", in)
		}
	}
	if p.cfg.Records.Format == splitter.FormatCSV {
		return badSetting("Config.Records", "--format csv follows quotes from the start of each input, which needs every byte before a chunk: workers read s3:// inputs by byte ranges, so CSV is not available for them: copy the objects to a local or shared folder first, or drop --format csv if no quoted field holds a newline")
	}
	svc, err := objstore.Resolve(p.cfg.S3)
	if err != nil {
		return err
	}
	client, err := objstore.Open(svc)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	inputs, err := client.Inputs(lctx, p.cfg.Inputs)
	if err != nil {
		return err
	}
	p.inputs, p.s3 = inputs, &svc
	p.source = client.Source(inputs, p.cfg.Records)
	return nil
}

// recordFingerprints converts the splitter's fingerprints for the job
// record.
func recordFingerprints(fps []splitter.Fingerprint) []schema.InputFingerprint {
	out := make([]schema.InputFingerprint, len(fps))
	for i, fp := range fps {
		out[i] = schema.InputFingerprint{Size: fp.Size, ModTime: fp.ModTime, Dev: fp.Dev, Ino: fp.Ino, ETag: fp.ETag}
	}
	return out
}

func (p *plan) validatePipe() error {
	if err := p.checkCommand(p.cfg.Command); err != nil {
		return badInput("%w", err)
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
	if err := p.checkExists(out); err != nil {
		return err
	}
	p.record.Output = out
	return nil
}

// checkExists refuses an output that exists, unless --force replaces it or
// the job is resumed (its output appears only when it completes).
func (p *plan) checkExists(out string) error {
	if p.cfg.Force || p.cfg.Resume {
		return nil
	}
	if _, err := os.Lstat(out); err == nil {
		return &outputExistsError{path: p.cfg.Output}
	}
	return nil
}

// checkRejects records how many bad records the job may skip and checks
// the file that receives them: next to the output unless Config.Rejects
// names one, refused like the output when it exists.
func (p *plan) checkRejects() error {
	if p.cfg.SkipBadRecords <= 0 {
		return nil
	}
	p.record.SkipBad = p.cfg.SkipBadRecords
	path := p.cfg.Rejects
	if path == "" {
		switch {
		case p.cfg.Kind == schema.KindMigrate:
			return badSetting("Config.Rejects", "a migration has no output file to put the rows Config.SkipBadRecords skips next to: add Config.Rejects FILE")
		case p.record.Output == "":
			return badSetting("Config.Rejects", "the output is standard output, so the records Config.SkipBadRecords skips need a file of their own: add Config.Rejects FILE")
		}
		path = p.record.Output + RejectsSuffix
	}
	abs, err := p.checkFilePath("Config.Rejects", path)
	if err != nil {
		return err
	}
	if abs == p.record.Output {
		return badSetting("Config.Rejects", "Config.Rejects %s is the output: choose another file", path)
	}
	if _, ok := within(p.record.Output, abs); ok && p.record.Output != "" && p.cfg.Kind.Traits().Keyed {
		return badSetting("Config.Rejects", "Config.Rejects %s is inside output %s, a folder that the output replaces whole when the job completes (with --force), the file with it: choose a file outside it, such as %s",
			path, p.cfg.Output, p.record.Output+RejectsSuffix)
	}
	if db := sqliteFile(p.cfg); db != "" && sameFile(abs, db) {
		return badSetting("Config.Rejects", "Config.Rejects %s is the database the job migrates: choose another file", path)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return badSetting("Config.Rejects", "Config.Rejects %s is a directory: give a file path", path)
	}
	if !p.cfg.Force && !p.cfg.Resume {
		if _, err := os.Lstat(abs); err == nil {
			return &outputExistsError{path: path, setting: "Config.Rejects"}
		}
	}
	p.rejects = abs
	return nil
}

// sqliteFile is the absolute path of the SQLite file a migrate job
// migrates; "" for other jobs and databases.
func sqliteFile(cfg Config) string {
	if cfg.Migration == nil {
		return ""
	}
	path, ok := strings.CutPrefix(cfg.Migration.DB, "sqlite:")
	if !ok {
		return ""
	}
	abs, err := filepath.Abs(strings.TrimPrefix(path, "//"))
	if err != nil {
		return ""
	}
	return abs
}

// sameFile reports whether the paths a and b name one file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// RejectsSuffix is appended to the output's path to name the file of the
// records a job skipped, unless Config.Rejects names one.
const RejectsSuffix = ".rejected"

func (p *plan) validateMapReduce() error {
	if p.cfg.Output == "" {
		return badInput("mapreduce needs an output directory: add -o DIR")
	}
	out, err := p.checkOutputPath(p.cfg.Output)
	if err != nil {
		return err
	}
	if err := p.checkExists(out); err != nil {
		return err
	}
	p.record.Output = out
	if p.record.Map, p.record.MapCommand, err = p.resolveMap(p.cfg.Map); err != nil {
		return err
	}
	p.record.Reduce, p.record.ReduceCommand, err = p.resolveReduce(p.cfg.Reduce)
	return errors.Join(err, p.checkStreaming())
}

// PartitionFieldsHint says which partition fields are valid with keyFields
// key fields, in the words of the settings partition and key (the command
// line's, a pipeline file's or the library's), for a message that refuses
// a partition field count.
func PartitionFieldsHint(keyFields int, partition, key string) string {
	if keyFields == 1 {
		return fmt.Sprintf("it counts the key's first fields that pick the partition, and the key has one field (%s 1): leave %s out, or raise %s for a secondary sort", key, partition, key)
	}
	return fmt.Sprintf("it counts the key's first fields that pick the partition: give 1 to %d (%s is %d), or leave it out to partition by the whole key", keyFields, key, keyFields)
}

// checkStreaming checks a mapreduce job's Hadoop Streaming settings (key
// fields, partition fields, key order, combiner) and records them.
func (p *plan) checkStreaming() error {
	c := p.cfg.MapReduceConfig
	var problems []error
	if c.KeyFields < 0 {
		problems = append(problems, badSetting("Config.KeyFields", "Config.KeyFields %d is not valid: the key is a line's first N TAB-separated fields, N 1 or more", c.KeyFields))
	}
	keyFields := max(c.KeyFields, 1)
	switch {
	case c.PartitionFields < 0:
		problems = append(problems, badSetting("Config.PartitionFields", "Config.PartitionFields %d is not valid: %s", c.PartitionFields, PartitionFieldsHint(keyFields, "Config.PartitionFields", "Config.KeyFields")))
	case c.PartitionFields > keyFields:
		problems = append(problems, badSetting("Config.PartitionFields", "Config.PartitionFields %d is more than the %d key fields: use at most %d, or raise Config.KeyFields", c.PartitionFields, keyFields, keyFields))
	}
	order, err := schema.ParseKeyOrder(c.KeyOrder)
	if err != nil {
		problems = append(problems, badSetting("Config.KeyOrder", "Config.KeyOrder: %v", err))
	} else if n := schema.KeyOrderCount(c.KeyOrder); n > keyFields {
		problems = append(problems, badSetting("Config.KeyOrder", "Config.KeyOrder %q gives %d orders for %d key fields: give at most %d, one per key field (the last one applies to the fields after it), or raise Config.KeyFields to %d", c.KeyOrder, n, keyFields, keyFields, n))
	}
	if err := p.resolveCombiner(); err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	if c.KeyFields > 1 {
		p.record.KeyFields = c.KeyFields
		p.record.KeyTextByField = true
	}
	if c.PartitionFields < keyFields {
		p.record.PartitionFields = c.PartitionFields
	}
	p.record.KeyOrder = schema.FormatKeyOrder(order)
	return nil
}

// checkOutputPath checks that the output's folder exists, that the output
// is none of the inputs and lies outside the input directories, and that
// it is not a device, named pipe or socket; it returns its absolute path,
// a symbolic link's target for a link (the file the job publishes).
func (p *plan) checkOutputPath(path string) (string, error) {
	return p.checkFilePath("", path)
}

// checkFilePath checks a path the job will write like the output:
// setting names it ("Config.Rejects"; "" for the output, -o) in the
// messages.
func (p *plan) checkFilePath(setting, path string) (string, error) {
	what, choose := "output", "-o"
	if setting != "" {
		what, choose = setting, setting
	}
	out, err := filepath.Abs(path)
	if err != nil {
		return "", badSetting(setting, "%s %s: %v", what, path, err)
	}
	if out, err = followLinks(out); err != nil {
		return "", badSetting(setting, "%s %s cannot be resolved (%v): check the path, or choose another %s", what, path, err, choose)
	}
	parent := filepath.Dir(out)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return "", badSetting(setting, "the folder of %s %s (%s) does not exist: create it first", what, path, parent)
	}
	outInfo, statErr := os.Stat(out)
	if statErr == nil && !outInfo.Mode().IsRegular() && !outInfo.IsDir() {
		return "", badSetting(setting, "%s %s is a %s, and jetmr writes a new file and renames it over the path when the job completes, which would replace the %s: %s",
			what, path, splitter.DescribeMode(outInfo.Mode()), splitter.DescribeMode(outInfo.Mode()), p.specialFix(setting, path))
	}
	if err := p.checkOutsideInputs(setting, what, path, choose, out); err != nil {
		return "", err
	}
	if err := p.checkHoldsNoInput(setting, what, path, choose, out); err != nil {
		return "", err
	}
	for _, in := range p.inputs {
		if in.Path == out {
			return "", badSetting(setting, "%s %s is also an input: choose another %s", what, path, choose)
		}
		if statErr == nil {
			if inInfo, err := os.Stat(in.Path); err == nil && os.SameFile(inInfo, outInfo) {
				return "", badSetting(setting, "%s %s is the same file as input %s: choose another %s", what, path, in.Path, choose)
			}
		}
	}
	return out, nil
}

// CheckOutputPlace applies the rules of a job's output path to output,
// before the job is configured (a pipeline checks its stages' outputs so
// before any stage runs): a symbolic link is followed; a device, named
// pipe or socket is refused, and so is an output inside one of the input
// directories. A missing path, or a missing input, is no error here. It
// returns an error wrapping [ErrBadInput].
func CheckOutputPlace(kind schema.Kind, output string, inputs []string) error {
	p := &plan{cfg: Config{Kind: kind, Inputs: inputs}}
	out, err := filepath.Abs(output)
	if err != nil {
		return nil // the job's own check says why
	}
	if out, err = followLinks(out); err != nil {
		return badInput("output %s cannot be resolved (%v): check the path, or choose another -o", output, err)
	}
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		return badInput("output %s is a %s, and jetmr writes a new file and renames it over the path when the job completes, which would replace the %s: %s",
			output, splitter.DescribeMode(fi.Mode()), splitter.DescribeMode(fi.Mode()), p.specialFix("", output))
	}
	if err := p.checkOutsideInputs("", "output", output, "-o", out); err != nil {
		return err
	}
	return p.checkHoldsNoInput("", "output", output, "-o", out)
}

// maxLinks bounds the symbolic links followLinks follows, as the kernel
// does, so that a loop of links is an error.
const maxLinks = 40

// followLinks returns the path that writing to the absolute path out
// reaches: out itself, or, when out is a symbolic link, the file it
// points to (which may not exist yet), so that the job publishes its
// output there and the link stays a link.
func followLinks(out string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(out)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return out, nil
		}
		target, err := os.Readlink(out)
		if err != nil {
			return "", fmt.Errorf("reading the link %s: %w", out, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(out), target)
		}
		out = filepath.Clean(target)
	}
	return "", fmt.Errorf("following links from %s: more than %d links", out, maxLinks)
}

// specialFix is the fix a message refusing a device, named pipe or
// socket as the file of setting (path) offers.
func (p *plan) specialFix(setting, path string) string {
	switch {
	case setting != "":
		return fmt.Sprintf("give %s a regular file's path", setting)
	case !p.cfg.Kind.Traits().Keyed:
		return fmt.Sprintf("leave out -o and redirect standard output instead (> %s)", path)
	default:
		return "give -o the path of a directory to create"
	}
}

// checkOutsideInputs refuses a path the job writes (out, absolute and
// resolved) inside one of its input directories: the files the job writes
// there while it runs, or the output of an earlier run, would be read as
// input when the job is run or resumed again.
func (p *plan) checkOutsideInputs(setting, what, path, choose, out string) error {
	realOut := out
	if dir, err := filepath.EvalSymlinks(filepath.Dir(out)); err == nil {
		realOut = filepath.Join(dir, filepath.Base(out))
	}
	for _, in := range p.cfg.Inputs {
		if in == splitter.Stdin || objstore.IsURL(in) {
			continue
		}
		if fi, err := os.Stat(in); err != nil || !fi.IsDir() {
			continue
		}
		abs, err := filepath.Abs(in)
		if err != nil {
			continue
		}
		for _, dir := range []string{abs, realPath(abs)} {
			for _, o := range []string{out, realOut} {
				if rel, err := filepath.Rel(dir, o); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					return badSetting(setting, "%s %s is inside input directory %s, where it would be read as input when the job runs again: choose %s outside the inputs", what, path, in, choose)
				}
			}
		}
	}
	return nil
}

// checkHoldsNoInput refuses a path the job writes (out, absolute and
// resolved) that is one of its inputs or holds one, the other direction
// of checkOutsideInputs: an output folder replaced with Config.Force
// goes whole when the job completes, with the inputs in it. An output
// folder is refused, too, when it is or holds the working directory,
// where the job's commands run and which the replacement would empty.
// The comparison is by path, so that it holds for inputs an earlier
// stage of a pipeline has yet to write.
func (p *plan) checkHoldsNoInput(setting, what, path, choose, out string) error {
	outs := []string{out, realPath(out)}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(out)); err == nil {
		outs = append(outs, filepath.Join(dir, filepath.Base(out)))
	}
	var inputs []string
	for _, in := range p.cfg.Inputs {
		if in == splitter.Stdin || objstore.IsURL(in) {
			continue
		}
		inputs = append(inputs, in)
	}
	for _, in := range p.inputs {
		if in.Path != splitter.Stdin {
			inputs = append(inputs, in.Path)
		}
	}
	for _, in := range inputs {
		abs, err := filepath.Abs(in)
		if err != nil {
			continue
		}
		for _, i := range []string{abs, realPath(abs)} {
			for _, o := range outs {
				switch rel, ok := within(o, i); {
				case ok && rel == ".":
					return badSetting(setting, "%s %s is also an input: choose another %s", what, path, choose)
				case ok:
					return badSetting(setting, "input %s is inside %s %s, a folder that the output replaces whole when the job completes (with --force), the input with it: choose %s outside the inputs", in, what, path, choose)
				}
			}
		}
	}
	if setting != "" || !p.cfg.Kind.Traits().Keyed {
		return nil // an output file: refused when it is a folder
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	for _, w := range []string{wd, realPath(wd)} {
		for _, o := range outs {
			if rel, ok := within(o, w); ok {
				is := "is"
				if rel != "." {
					is = "holds"
				}
				return badSetting(setting, "%s %s %s the working directory %s, a folder that the output replaces whole when the job completes (with --force), every file in it too: give %s a folder of its own, such as %s", what, path, is, wd, choose, filepath.Join(path, "out"))
			}
		}
	}
	return nil
}

// within reports whether path is dir or lies inside it, by their names
// (both absolute and clean), and path relative to dir.
func within(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// CheckOutsideOutput refuses a file that setting names (a report, job
// log or trace that the caller writes) inside the output folder of a job
// of cfg: the folder is replaced whole when the job completes (with
// Force, one that exists), and the file with it. Links are followed on
// both sides. It returns an error wrapping [ErrBadInput].
func CheckOutsideOutput(setting, path string, cfg Config) error {
	if path == "" || cfg.Output == "" || !cfg.Kind.Traits().Keyed || objstore.IsURL(cfg.Output) {
		return nil
	}
	out, err := filepath.Abs(cfg.Output)
	if err != nil {
		return nil // the job's own check says why
	}
	file, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	for _, o := range []string{out, linkedPath(out)} {
		for _, f := range []string{file, linkedPath(file)} {
			if _, ok := within(o, f); ok {
				return badSetting(setting, "%s %s is inside output %s, a folder that the output replaces whole when the job completes (with --force), the file with it: choose a path outside it, e.g. %s",
					setting, path, cfg.Output, filepath.Join(filepath.Dir(out), filepath.Base(path)))
			}
		}
	}
	return nil
}

// linkedPath is [realPath], or, for a path that does not exist (yet),
// path in its folder with the folder's links resolved.
func linkedPath(path string) string {
	if r := realPath(path); r != path {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

// realPath is path with its symbolic links resolved, or path itself when
// they cannot be.
func realPath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

func (p *plan) resolveMap(spec string) (string, []string, error) {
	if spec == "" {
		return "", nil, badInput("mapreduce needs --map: a built-in (%s) or a command", p.reg.MapNames())
	}
	_, ok, err := p.reg.Map(spec)
	if err != nil {
		return "", nil, badInput("--map: %w", err)
	}
	if ok || p.workerFunction(spec) {
		return spec, nil, nil
	}
	argv, err := p.splitCommand("--map", spec, p.reg.MapNames())
	return "", argv, err
}

func (p *plan) resolveReduce(spec string) (string, []string, error) {
	names := p.reg.ReduceNames() + ", " + schema.ReduceNone + " (map only)"
	if spec == "" {
		return "", nil, badInput("mapreduce needs --reduce: a built-in (%s) or a command", names)
	}
	if _, _, ok := p.reg.Reduce(spec); ok || spec == schema.ReduceNone {
		return spec, nil, nil
	}
	argv, err := p.splitCommand("--reduce", spec, names)
	return "", argv, err
}

// resolveCombiner checks Config.Combiner against the reduce resolved
// into the record, and records the combiner's command.
func (p *plan) resolveCombiner() error {
	c := p.cfg.Combiner
	if c == "" {
		return nil
	}
	switch {
	case p.record.Reduce == schema.ReduceNone:
		return badSetting("Config.Combiner", "a combiner has nothing to combine in a map-only job (reduce none): drop Config.Combiner, or give a reduce")
	case len(p.record.ReduceCommand) == 0 && p.isFold(p.record.Reduce):
		return badSetting("Config.Combiner", "the built-in reduce %s already combines map-side: drop Config.Combiner, or give a reducer command", p.record.Reduce)
	}
	argv, err := command.Split(c)
	if err == nil {
		err = p.checkCommand(argv)
	}
	if err != nil {
		return badSetting("Config.Combiner", "Config.Combiner %q: %w", c, err)
	}
	p.record.CombineCommand = argv
	return nil
}

// CheckFunctions resolves a mapreduce job's Config.Map, Config.Reduce and
// Config.Combiner as the job's validation does: each a built-in of
// Config.Registry or a command (on PATH, or a path). A map that is
// neither passes when it may name a function of the job's workers: when
// this process runs none of the job's tasks (Config.LocalWorkers, given
// Config.Broker.URL) and the map is a bare name. It returns every problem
// found, each wrapping [ErrBadInput] and naming its setting
// (errs.BadInputError.Setting: Config.Map, Config.Reduce or
// Config.Combiner), for a caller that gives functions to several jobs (a
// pipeline's stages) and refuses them before the first starts.
func CheckFunctions(cfg Config) error {
	p := &plan{cfg: cfg, reg: cfg.Registry}
	if p.reg == nil {
		p.reg = mapper.NewRegistry()
	}
	local, err := localWorkers(p.cfg)
	if err != nil {
		local = 1 // a placement refused elsewhere: no map is left to workers
	}
	p.local = local
	var mapErr, reduceErr error
	if p.record.Map, p.record.MapCommand, mapErr = p.resolveMap(p.cfg.Map); mapErr != nil {
		mapErr = badSetting("Config.Map", "%w", mapErr)
	}
	if p.record.Reduce, p.record.ReduceCommand, reduceErr = p.resolveReduce(p.cfg.Reduce); reduceErr != nil {
		return errors.Join(mapErr, badSetting("Config.Reduce", "%w", reduceErr)) // the combiner is checked against the reduce
	}
	return errors.Join(mapErr, p.resolveCombiner())
}

// isFold reports whether reduce names a built-in fold, which combines
// map-side by itself.
func (p *plan) isFold(reduce string) bool {
	f, _, _ := p.reg.Reduce(reduce)
	return f != nil
}

func (p *plan) splitCommand(flag, spec, builtins string) ([]string, error) {
	argv, err := command.Split(spec)
	if err != nil {
		return nil, badInput("%s: %w", flag, err)
	}
	if err := p.checkCommand(argv); err != nil {
		if len(argv) == 1 && !strings.ContainsRune(argv[0], '/') && !errors.Is(err, command.ErrNotExecutable) {
			return nil, badInput("%s %q is neither a built-in (%s) nor a command on PATH", flag, spec, builtins)
		}
		return nil, badInput("%s: %w", flag, err)
	}
	return argv, nil
}

// ParseOkExit parses the exit statuses of --ok-exit: numbers 0 to 255
// separated by commas ("0,1"). It returns an error wrapping
// [ErrBadInput] naming Config.OkExit for anything else.
func ParseOkExit(s string) ([]int, error) {
	var codes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 255 {
			return nil, badSetting("Config.OkExit", "Config.OkExit %q is not valid: give exit statuses 0 to 255 separated by commas, such as 0,1", s)
		}
		codes = append(codes, n)
	}
	return codes, nil
}

// checkOkExit checks Config.OkExit: statuses 0 to 255, for the kinds of
// jobs that run commands.
func checkOkExit(cfg Config) error {
	if len(cfg.OkExit) == 0 {
		return nil
	}
	if cfg.Kind == schema.KindMigrate && len(okExit(cfg.OkExit)) > 0 {
		return badSetting("Config.OkExit", "Config.OkExit applies to the commands of pipe, each and mapreduce jobs; a migrate job runs SQL: drop it")
	}
	for _, n := range cfg.OkExit {
		if n < 0 || n > 255 {
			return badSetting("Config.OkExit", "Config.OkExit %d is not valid: give exit statuses 0 to 255, such as 0,1", n)
		}
	}
	return nil
}

// okExit is the record's OkExit: the statuses other than 0, sorted, each
// once (nil when there are none).
func okExit(codes []int) []int {
	var out []int
	for _, n := range codes {
		if n != 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
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

// checkReduceOnWorkers checks that a job that reduces its partitions on
// workers has workers that can: outside ones, sharing the output folder.
func checkReduceOnWorkers(cfg Config) error {
	if !cfg.ReduceOnWorkers {
		return nil
	}
	const setting = "Config.ReduceOnWorkers"
	tr, _ := transport(cfg.Transport, cfg.Broker.URL != "")
	switch {
	case cfg.Kind != schema.KindMapReduce:
		return badSetting(setting, "reducing partitions on workers is for mapreduce jobs: drop --reduce-on-workers")
	case cfg.Broker.URL == "":
		return badSetting(setting, "reducing partitions on workers needs workers over NATS: add --nats URL and start jetmr worker processes, or drop --reduce-on-workers")
	case cfg.LocalWorkers > 0:
		return badSetting(setting, "reducing partitions on workers runs them on outside workers only: drop --local-workers, or drop --reduce-on-workers")
	case tr != schema.TransportShared:
		return badSetting(setting, "reducing partitions on workers needs workers that share the output folder: add --transport shared, or drop --reduce-on-workers")
	case objstore.IsURL(cfg.Output):
		return badSetting(setting, "reducing partitions on workers writes part files into a shared folder, not to %s: choose a local -o, or drop --reduce-on-workers", cfg.Output)
	}
	return nil
}
