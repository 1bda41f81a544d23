package job

import (
	"context"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// Config describes a job. Zero fields take the documented defaults.
type Config struct {
	// ID names the job. Default: a generated ID.
	ID string
	// Pipeline is the ID of the pipeline whose stage the job is, recorded
	// so that jetmr status and discard find the stages. Default: none.
	Pipeline string
	// Kind is what the job does: one of schema.Kinds. Required.
	Kind schema.Kind
	// Inputs are files or directories (walked recursively), "-" for
	// standard input (read from Stdin as a stream), and .gz and .zst
	// files (decompressed as a stream, then split on lines). Required
	// unless Source is set.
	Inputs []string
	// Source produces the tasks instead of Inputs: any splitter.Source, such
	// as splitter.Lines over a reader. A job can be resumed only when its
	// source is deterministic and describes itself (splitter.Describer).
	Source splitter.Source
	// Registry resolves Map and Reduce names to Go functions. Default: a
	// registry of the built-ins (mapper.NewRegistry).
	Registry *mapper.Registry
	// Output is, for pipe, the output file ("" writes to Stdout) and, for
	// mapreduce, the output directory, which must not exist yet.
	Output string
	// Stdout receives a pipe job's output when Output is "". Default os.Stdout.
	Stdout io.Writer
	// Stdin is read for the input "-" (standard input). Default os.Stdin.
	Stdin io.Reader
	// Command is a pipe job's command (argv, no shell).
	Command []string
	// Records says how a pipe or mapreduce job's inputs divide into
	// records, so that no chunk cuts one (NUL-terminated, --recend and
	// --recstart, CSV), and how many header records each input has, which
	// every chunk's command reads first. The zero value is lines and no
	// header. Needs Inputs, not Source.
	Records splitter.Records
	// HeaderOnce keeps, in a pipe job's output, only the first task's copy
	// of the header its command prints for Records.Header (--header-once):
	// every other task's output must begin with what the command prints
	// for the header alone, which is dropped. Every input must have the
	// same header.
	HeaderOnce bool
	// The settings of one kind of job; those of other kinds are ignored.
	MapReduceConfig
	EachConfig
	// Migration describes a migrate job (schema.KindMigrate); its
	// ChunkSize counts rows per batch (default 1000). Required for one.
	Migration *Migration
	// ChunkSize is the bytes per task (items per task for an each job).
	// Default: splitter.DefaultChunkSize (splitter.DefaultItemsPerTask).
	ChunkSize int64
	// Memory is a mapreduce job's memory budget (--memory): the reduce's
	// fold state beyond 3/8 of it spills to sorted runs in the job's work
	// folder, merged when the job commits, and the default chunk size of
	// its map tasks shrinks to fit it. At least [MinMemory] per partition.
	// Default: [DefaultMemory].
	Memory int64
	// MemFree holds back new tasks while less memory than this is
	// available (--memfree). Default 0: no check.
	MemFree int64
	// Slots is how many tasks this process runs at once. Default: the
	// number of CPUs.
	Slots int
	// LocalWorkers is how many tasks the submitting process itself runs at
	// once; the other tasks go to jetmr workers (mapper.Pool) sharing the
	// broker. Default: Slots with the embedded broker, none with an
	// external one (Broker.URL set). Negative: none, which needs an
	// external broker. A job whose tasks no worker runs waits for one,
	// logging a warning every 10 s through Logger (the zero Logger is
	// silent: set LocalWorkers or start workers).
	LocalWorkers int
	// Retries is how many times a failed task is retried. Default 3; a
	// negative value means none.
	Retries int
	// OkExit are exit statuses of the job's commands that count as
	// success, besides 0 (--ok-exit): the pipe or each command, the map,
	// combiner and reducer commands. grep exits 1 when it selects no line,
	// which is no failure in a filter. Each is 0 to 255; see [ParseOkExit].
	OkExit []int
	// Timeout limits one attempt of a task; for a migrate job, one
	// transaction of a batch, and a batch whose SQL times out from its
	// second attempt on is split in half instead (see mapper's
	// processBatch). Default: no limit.
	Timeout time.Duration
	// Transport is how task data and large outputs travel: "shared" (byte
	// ranges and spill files on a filesystem every worker shares), "object"
	// (chunks shipped in the task messages or fetched from this process
	// over NATS, outputs through the JetStream object store, for workers
	// on other machines) or "auto" (the default: shared with
	// the embedded broker, object with an external one). A resumed job
	// keeps the transport it started with.
	Transport string
	// DataListen is the TCP address HOST:PORT on which this process
	// serves the chunks that workers fetch (transport "object") straight
	// to them, each connection authenticated by a secret of the job's run;
	// a worker that cannot connect fetches over NATS, and so do all when
	// the address cannot be listened on. Empty: a random port, on
	// loopback when this process reaches the NATS server on loopback,
	// else on every interface (and none when the NATS connection uses
	// TLS); "off": over NATS only.
	DataListen string
	// TaskTime, when set, sizes chunks adaptively so that a task takes
	// about this long (--task-time): ChunkSize (default 256 KiB for files,
	// 1000 rows for a migration) is the first size, and each finished task
	// moves it toward the observed throughput x TaskTime. The source must be
	// a [splitter.AdaptiveSource] (files are; a migration's key ranges are).
	TaskTime time.Duration
	// Window bounds the tasks published but not yet retired by the reducer,
	// and so the memory and stream space a job uses. Default: 8 per slot
	// and at least 32, more for small chunks (up to 4096, or 64 MiB of
	// chunks); 2 per slot for a migrate job.
	Window int
	// Resume continues the job named by ID from where it stopped or
	// crashed, without redoing committed tasks. The inputs, command and
	// functions must be the ones the job started with.
	Resume bool
	// RetryFailed, with Resume, runs the job's dead letters again; it is the
	// one resume that may change the command (or map and reduce).
	RetryFailed bool
	// Force lets the output replace a file or directory that exists at
	// Output; the replacement happens when the job completes, as one
	// rename. Without it an existing output is refused as bad input.
	Force bool
	// SkipBadRecords is how many bad records a pipe or mapreduce job may
	// leave out of its output (--skip-bad-records): a task that fails on
	// every attempt is bisected down to the records that fail on their
	// own, and the task's input without them runs once more. One more bad
	// record than this fails the job. Zero: none (the failed task is a
	// dead letter naming its bad records).
	SkipBadRecords int
	// Rejects is the file that receives the records skipped, each with its
	// place and how it failed, when the job completes (--rejects).
	// Default: the output's path with ".rejected" appended; required
	// when the output is standard output.
	Rejects string
	// S3 says which object store serves s3://bucket/key inputs; its zero
	// fields come from the standard AWS environment (see package
	// objstore). Workers read those inputs from the same store, with
	// credentials from their own environment.
	S3 objstore.Settings
	// Halt says when failed tasks stop the job. Default: never.
	Halt Halt
	// Speculative says whether a task that runs far longer than the
	// others gets a backup attempt on an idle slot once no task is
	// waiting (--speculative); the first of the two to finish is merged
	// and the other stopped. Default [SpeculateAuto].
	Speculative Speculation
	// Idempotent declares that the job's command may run twice on the
	// same input without harm (--idempotent), which an each or migrate
	// job needs for backup attempts.
	Idempotent bool
	// LossCheck is how often the lost-task watchdog looks; it fails the job
	// with [ErrTasksLost] after two looks in a row find tasks neither
	// queued, running, stored nor being merged. Default 5s.
	LossCheck time.Duration
	// Broker says which NATS to use. Default: embedded, in a store of the
	// job's own under the default root (see [OwnStore]), so that jobs run
	// side by side.
	Broker broker.Config
	// Observer receives the job's events: start and end, tasks published,
	// each task attempt (observe.NewProgress, NewMetrics, NewJobLog,
	// NewTrace, a Recorder, or several with observe.Multi). Optional.
	Observer observe.Observer
	// Started is called once the job is validated and recorded, before any
	// task runs, with its ID. Optional.
	Started func(jobID string)
	// Logger receives the job's logs. Zero value: none.
	Logger zerolog.Logger

	// dryRun marks a validation that must change nothing: a migration's
	// database is opened read-only (see DryRun).
	dryRun bool
	// upload stores an s3:// output once the job completed, before it is
	// recorded done; nil for other outputs.
	upload func(context.Context) error
	// outputURL is the URL of an s3:// output; Output is then its
	// staging path.
	outputURL string
	// rejectsURL is the URL the records skipped are uploaded to, next to
	// an s3:// output; "" when they stay in a local file.
	rejectsURL string
}

// MapReduceConfig holds the settings of a mapreduce job.
type MapReduceConfig struct {
	// Map and Reduce name a mapreduce job's functions: a built-in name, or a
	// command line (split into argv like a shell would, but never run
	// through one) in Hadoop Streaming style. Reduce "none"
	// (schema.ReduceNone) makes a map-only job: every pair the map emits
	// is written to its partition's part file, sorted by key.
	Map, Reduce string
	// Partitions is the number of reduce partitions. Default 1.
	Partitions int
	// Combiner is a command (split like Map) run on each map task's pairs,
	// sorted by key as a reducer command reads them, before they are
	// shipped: its key<TAB>value lines replace them. Only with a reducer
	// command or function: a built-in reduce combines by itself, and a
	// map-only job has nothing to combine. Optional.
	Combiner string
	// KeyFields is how many TAB-separated fields of a map command's output
	// line form the key (the rest is the value). Default 1.
	KeyFields int
	// PartitionFields is how many of the key's first fields pick its
	// partition, at most KeyFields: with PartitionFields < KeyFields a
	// reducer sees the keys of one group sorted by the rest of the key
	// (secondary sort). Default: KeyFields (the whole key).
	PartitionFields int
	// KeyOrder is how keys sort in the part files and a reducer's input:
	// "text" (bytewise, the default), "numeric" (by their leading
	// number, as sort -n), "reverse" or "numeric-reverse"; or one of these
	// per key field, separated by commas, the last applying to the fields
	// after it (see schema.ParseKeyOrder).
	KeyOrder string
	// ReduceOnWorkers runs each reduce partition on a worker rather than in
	// this process: once every map task is complete, a worker takes the
	// reduce task of each partition, merges the partition's results and
	// writes its part file next to Output, which this process renames into
	// place. It needs workers over NATS (Broker.URL, no LocalWorkers) that
	// share the output folder (Transport "shared"), and a local Output.
	ReduceOnWorkers bool
}

// EachConfig holds the settings of an each job (schema.KindEach), besides
// its Command.
type EachConfig struct {
	// Items are the job's items: Command runs once per item, its
	// placeholders ({}, {.}, {/}, {//}, {/.}, {#}) filled in as whole
	// arguments, the item appended when it has none. Required; none may
	// be empty or hold a NUL byte.
	Items []string
	// Shell runs Command as one sh -c script, the item passed as
	// positional parameter $1 (see command.Template.ShellScript).
	Shell bool
	// Dir is the working-directory template, e.g. "{}". Default: the
	// worker's own directory.
	Dir string
	// KeepOrder writes the output groups in item order (-k); by default
	// each batch's groups are written as it completes.
	KeepOrder bool
	// Join is a command run once after every item succeeded, with the
	// join file (one JSON object per line per item, in item order: seq,
	// item, exit, output; see reducer.JoinRecord) in place of {}, or on
	// stdin when it has no {}. Optional.
	Join []string
	// Builtin runs a built-in per item instead of Command:
	// mapper.ItemEcho or mapper.ItemNoop. Optional.
	Builtin string
}

// Speculation is whether a job runs backup attempts of slow tasks.
type Speculation int

const (
	// SpeculateAuto runs them for pipe and mapreduce jobs, whose commands
	// only transform their input (schema.Traits.Rerunnable), and for each
	// and migrate jobs declared Idempotent.
	SpeculateAuto Speculation = iota
	// SpeculateOff never runs them.
	SpeculateOff
	// SpeculateOn asks for them: an each or migrate job must then be
	// declared Idempotent.
	SpeculateOn
)

// Defaults.
const (
	DefaultRetries = 3
)

// Halt policies, with GNU parallel's meaning.
const (
	// HaltNever runs every task whatever fails.
	HaltNever = "never"
	// HaltSoon stops starting tasks once Fail tasks failed, lets running
	// ones finish, and ends the job.
	HaltSoon = "soon"
	// HaltNow kills running tasks once Fail tasks failed and ends the job.
	HaltNow = "now"
)

// Halt is a --halt policy.
type Halt struct {
	// When is HaltNever (default), HaltSoon or HaltNow.
	When string
	// Fail is the number of failed tasks that triggers the halt. Default 1.
	Fail int
}

func (h Halt) validate() error {
	switch h.When {
	case "", HaltNever:
		return nil
	case HaltSoon, HaltNow:
		if h.Fail < 1 {
			return badInput("--halt %s needs fail=N with N >= 1, e.g. --halt %s,fail=1", h.When, h.When)
		}
		return nil
	}
	return badInput("--halt %q is not valid: use never, soon,fail=N or now,fail=N", h.When)
}
