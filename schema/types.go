package schema

import (
	"encoding/json"
	"errors"
	"time"
)

// Version is the newest wire version this jetmr reads and writes.
// Version 2 adds input headers (--header): a task that carries one
// (Task.Header), the failure that repeats it (Result.TaskHeader), the
// split checkpoint of such a task and the record of a job with headers.
// A worker that predates headers would run such a task without its
// header, so those messages are stamped 2 and it leaves them.
// Version 3 adds fetched chunks (Task.Fetch) and their range requests: a
// worker that predates them would read the task's Path itself, on a
// machine that may not have it, so those tasks are stamped 3 and it
// leaves them.
// Version 4 adds the Hadoop Streaming settings of a map-reduce job (key
// fields, partition fields, key order, a combiner command, map-only): a
// worker that predates them would cut, partition or sort its keys
// differently, so the record of such a job is stamped 4 and it leaves the
// job.
// Version 5 adds skip mode (--skip-bad-records): the record of a job that
// skips bad records (JobRecord.SkipBad) and a result that left records
// out (Result.Skipped). A worker that predates it would fail such a job's
// bad records instead of skipping them, and a reducer would merge the
// result without counting them.
// Version 6 adds reduce partitions run on workers (JobRecord.ReduceOnWorkers,
// [ReduceTask], [PartitionDone]): a worker that predates them would take
// the job's map tasks but never its reduce tasks, so the record of such a
// job is stamped 6 and it leaves the job.
// Version 7 keeps a map-only job's lines whole (--reduce none): a map task
// keeps in each value the TAB that separated it from its key, so that a
// line ending in a TAB comes back with it. The record of a map-only job is
// stamped 7: a worker that predates it would drop that TAB and the
// reducer would join key and value without one.
// Version 8 adds jobs whose tasks run in the submitting process only
// (JobRecord.LocalOnly): a worker that predates it would take the tasks
// of such a job, so its record is stamped 8 and it leaves the job.
// Version 9 keeps a migration's progress rows per run of its job
// (JobRecord.MigrationRun): a worker that predates it would claim the
// job's batches under the rows of no run, so the record of such a job is
// stamped 9 and it leaves the job. Version 10 sorts keys of 2 or more
// fields field by field in the text order (JobRecord.KeyTextByField): a
// worker that predates it would sort them bytewise, so such a record is
// stamped 10. Every other message is stamped 1,
// which every jetmr reads; so is [AttemptEnd] and [AttemptStart], which a
// jetmr that predates them never subscribes to.
const Version = 10

// Versions of the wire format, by the feature that introduced them.
const (
	// baseVersion is the version of messages that use nothing newer.
	baseVersion = 1
	// headerVersion added input headers.
	headerVersion = 2
	// fetchVersion added fetched tasks and range requests.
	fetchVersion = 3
	// streamingVersion added the Hadoop Streaming settings of a job.
	streamingVersion = 4
	// skipVersion added skip mode.
	skipVersion = 5
	// reduceVersion added reduce partitions run on workers.
	reduceVersion = 6
	// mapOnlyVersion added the values of map-only jobs kept with their TAB.
	mapOnlyVersion = 7
	// localOnlyVersion added jobs whose tasks run in the submitting
	// process only.
	localOnlyVersion = 8
	// migrationRunVersion added the runs of a migration's progress rows.
	migrationRunVersion = 9
	// textByFieldVersion added the text order field by field.
	textByFieldVersion = 10
)

// Task is one unit of map work: a byte range of an input file, or inline
// bytes when the data travels with the message.
type Task struct {
	V     int    `msgpack:"v"`
	Job   string `msgpack:"job"`
	Index uint64 `msgpack:"i"`
	// Path, Offset and Length name a byte range of a file that starts at the
	// beginning of a line and ends after a newline or at end of file.
	Path   string `msgpack:"path,omitempty"`
	Offset int64  `msgpack:"off,omitempty"`
	Length int64  `msgpack:"len,omitempty"`
	// Inline holds the task's data when it travels in the message. Path is
	// empty then, unless the data was read from Path by the splitter for
	// workers without a shared disk (transport "object"): Path, Offset and
	// Length then only say where it came from.
	Inline []byte `msgpack:"data,omitempty"`
	// Object names the object in the job's [DataBucket] that holds the
	// task's data. Submitters since [Version] 3 fetch large chunks
	// instead (Fetch); workers still read the objects of tasks published
	// before.
	Object string `msgpack:"obj,omitempty"`
	// Fetch says that the worker fetches the range Path, Offset, Length
	// from the job's submitter, which serves it on [RangeSubject]
	// (transport "object", chunks too large to travel inline), instead
	// of reading Path itself. Sum is required then.
	Fetch bool `msgpack:"fetch,omitempty"`
	// Sum is the [Checksum] of the task's data: of the data a splitter
	// shipped (inline or as an object), or of a byte range's bytes as the
	// splitter read them. A worker verifies it before it uses shipped
	// data, and as it reads a byte range, so that a file changed after it
	// was split fails the task instead of mixing two versions of the file.
	// Workers older than the checksum of byte ranges ignore it there.
	Sum []byte `msgpack:"sum,omitempty"`
	// Header is the header of the task's input (--header): the command
	// reads it before the task's data. It is not part of the data Sum
	// covers.
	Header []byte `msgpack:"hdr,omitempty"`
	// Backup marks a backup attempt of a task that is still running
	// elsewhere (see [JobRecord.Speculative]): the first of the two to
	// finish is merged. A backup attempt that fails is dropped rather than
	// retried: the original attempt decides the task's fate.
	Backup bool `msgpack:"backup,omitempty"`
}

// Shipped reports whether the task's data travels with it (inline, as an
// object or fetched from the submitter) rather than being read from Path
// by the worker.
func (t *Task) Shipped() bool { return t.Inline != nil || t.Object != "" || t.Fetch || t.Path == "" }

// RangeRequest asks a job's submitter, on [RangeSubject], for Length
// bytes of the input file Path from Offset: a piece of a fetched task's
// chunk (Task.Fetch). The reply's data is the bytes, or empty with the
// header [RangeErrorHeader] saying why not.
type RangeRequest struct {
	V      int    `msgpack:"v"`
	Index  uint64 `msgpack:"i"`
	Path   string `msgpack:"path"`
	Offset int64  `msgpack:"off"`
	Length int64  `msgpack:"len"`
}

// RangeErrorHeader is the header of a reply to a [RangeRequest] that the
// submitter could not serve: its value says why.
const RangeErrorHeader = "Jetmr-Range-Error"

// Pair is one key/value pair of keyed (map-reduce) output.
type Pair struct {
	Key   []byte
	Value []byte
}

// Result is the outcome of one attempt of a task, for one reduce partition.
// A successful task of a job with R partitions yields R results; a failed
// task yields one result with Err set, on partition 0.
type Result struct {
	V         int    `msgpack:"v"`
	Job       string `msgpack:"job"`
	Index     uint64 `msgpack:"i"`
	Partition int    `msgpack:"p"`
	Attempt   int    `msgpack:"att"`
	// Round is the job's retry round the result belongs to: 0 for the first
	// run, n after the n-th resume with --retry-failed.
	Round  int    `msgpack:"round,omitempty"`
	Worker string `msgpack:"w"`
	Slot   int    `msgpack:"slot"`
	// Slots is the worker's concurrency, WorkerStart when it started: the
	// reducer derives utilization from them.
	Slots       int   `msgpack:"slots"`
	WorkerStart int64 `msgpack:"wstart"`
	// Start and End bound the task's processing, in Unix nanoseconds.
	Start    int64 `msgpack:"start"`
	End      int64 `msgpack:"end"`
	BytesIn  int64 `msgpack:"in"`
	BytesOut int64 `msgpack:"out"`
	// Payload holds the output inline; Spill names a file holding it instead
	// when it is too large for a message. For keyed jobs the output is a run
	// (see [AppendRun]); for pipe jobs it is the command's stdout.
	Payload []byte `msgpack:"data,omitempty"`
	Spill   string `msgpack:"spill,omitempty"`
	// Object names the object in the job's [DataBucket] holding the
	// output instead, for workers that share no disk with the reducer.
	Object string     `msgpack:"obj,omitempty"`
	Err    *TaskError `msgpack:"err,omitempty"`
	// Path, Offset and Length repeat the task's input range in a failure
	// result, so that its dead letter says which input failed; TaskData
	// repeats a small inline task (a migrate batch), so that
	// --retry-failed can publish it again.
	Path     string `msgpack:"path,omitempty"`
	Offset   int64  `msgpack:"off,omitempty"`
	Length   int64  `msgpack:"len,omitempty"`
	TaskData []byte `msgpack:"tdata,omitempty"`
	// TaskHeader repeats the task's Header in a failure result, so that
	// --retry-failed can publish the task again with it.
	TaskHeader []byte `msgpack:"thdr,omitempty"`
	// Counters are the user counters the task's commands or functions
	// reported (reporter:counter:GROUP,NAME,AMOUNT), on the successful
	// result of partition 0 only, so that each task's count once; Status
	// is the last status message (reporter:status:MSG). A reducer that
	// predates them ignores them.
	Counters []Counter `msgpack:"ctr,omitempty"`
	Status   string    `msgpack:"status,omitempty"`
	// Exit is the exit status of the task's command when --ok-exit
	// accepted one other than 0 (JobRecord.OkExit), for the job log of
	// the submitter; 0 otherwise. A jetmr that predates it ignores it.
	Exit int `msgpack:"exit,omitempty"`
	// Backup marks the result of a backup attempt (see [Task.Backup]).
	Backup bool `msgpack:"backup,omitempty"`
	// Isolation is what the worker learned by running parts of a failed
	// task's input once its attempts ran out: the records that fail on
	// their own. Nil when the task was not bisected.
	Isolation *Isolation `msgpack:"iso,omitempty"`
	// Skipped are the bad records a task of a job with SkipBad left out of
	// its output (skip mode), repeated in every partition's result; Path,
	// Offset and Length then say which input range the task covered.
	Skipped []BadRecord `msgpack:"skipped,omitempty"`
}

// Isolation is the outcome of bisecting a failed task's input.
type Isolation struct {
	// Records are the records that failed when run on their own, in input
	// order.
	Records []BadRecord `msgpack:"recs,omitempty"`
	// Attempts counts the extra runs the bisection took.
	Attempts int `msgpack:"att"`
	// Outcome says what the bisection found: [IsolatedRecords],
	// [IsolatedFlaky], [IsolatedNoRecord], [IsolatedTooMany],
	// [IsolatedKey] or [IsolatedItems].
	Outcome string `msgpack:"outcome"`
}

// Outcomes of an [Isolation].
const (
	// IsolatedRecords: Records fail on their own, and the input without
	// them succeeds.
	IsolatedRecords = "records"
	// IsolatedFlaky: the input failed, but no record fails on its own (a
	// flaky command, or one that fails on a combination of records);
	// Records holds those found before.
	IsolatedFlaky = "flaky"
	// IsolatedNoRecord: the command fails on an empty input too: no record
	// is to blame.
	IsolatedNoRecord = "no-record"
	// IsolatedTooMany: more records failed than skip mode allows; Records
	// holds the first of them.
	IsolatedTooMany = "too-many"
	// IsolatedKey: a migrate batch's SQL fails on the rows of the key of
	// Records' one record alone (found by halving the batch's key range in
	// transactions rolled back).
	IsolatedKey = "key"
	// IsolatedItems: the items of an each task in Records failed on every
	// attempt, each run alone, and its other items succeeded.
	IsolatedItems = "items"
)

// BadRecord is one record of a task's input that fails on its own: a
// line (or record) of a file, or the rows of one key of a migrate batch.
type BadRecord struct {
	// Key is the key of a migrate batch's failing rows; the other fields
	// but Err are zero then.
	Key string `msgpack:"key,omitempty"`
	// Item is the item of an each job whose command failed on every
	// attempt, and Seq its 1-based number in the job's item list ({#});
	// the other fields but Err are zero then (Preview and Data hold the
	// item too).
	Item string `msgpack:"item,omitempty"`
	Seq  uint64 `msgpack:"seq,omitempty"`
	// Offset is the record's byte offset in the input file (in the task's
	// data when the task has no path); Length its length, terminator
	// included.
	Offset int64 `msgpack:"off"`
	Length int64 `msgpack:"len"`
	// Preview holds the record's first bytes.
	Preview []byte `msgpack:"pre,omitempty"`
	// Data holds the whole record, for the rejects file of skip mode, when
	// it is small enough to travel in a result; empty otherwise.
	Data []byte `msgpack:"data,omitempty"`
	// Err is how the command failed on the record alone.
	Err TaskError `msgpack:"err"`
}

// Counter is one user counter: its group, its name and its value.
type Counter struct {
	Group string `msgpack:"g" json:"group"`
	Name  string `msgpack:"n" json:"name"`
	Value int64  `msgpack:"v" json:"value"`
	// Saturated is set when the counter's sum went past the range of an
	// int64: Value is then pinned at the bound it passed (math.MaxInt64
	// or math.MinInt64) and no longer changes.
	Saturated bool `msgpack:"sat,omitempty" json:"saturated,omitempty"`
}

// Duration is the task's processing time.
func (r *Result) Duration() time.Duration { return time.Duration(r.End - r.Start) }

// TaskError describes why a task failed.
type TaskError struct {
	Message string `msgpack:"msg" json:"message"`
	// Permanent marks a failure that a retry cannot fix (an SQL error such
	// as a constraint violation): the task becomes a dead letter at once.
	Permanent bool `msgpack:"perm,omitempty" json:"permanent,omitempty"`
	// InputChanged marks the failure of a task whose input changed while
	// the job ran (a file's bytes no longer those split, an object
	// written again): the job cannot be resumed, only run again. Workers
	// older than the field leave it unset.
	InputChanged bool   `msgpack:"chg,omitempty" json:"input_changed,omitempty"`
	ExitStatus   int    `msgpack:"exit,omitempty" json:"exit_status,omitempty"`
	Signal       string `msgpack:"sig,omitempty" json:"signal,omitempty"`
	StderrTail   string `msgpack:"stderr,omitempty" json:"stderr_tail,omitempty"`
}

func (e *TaskError) Error() string { return e.Message }

// UnmarshalJSON reads a TaskError written with its JSON keys, or with the
// field names of earlier versions (ExitStatus, StderrTail), which run
// reports and status snapshots written before may hold.
func (e *TaskError) UnmarshalJSON(data []byte) error {
	type plain TaskError
	var v struct {
		plain
		OldExitStatus int    `json:"ExitStatus"`
		OldStderrTail string `json:"StderrTail"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*e = TaskError(v.plain)
	if e.ExitStatus == 0 {
		e.ExitStatus = v.OldExitStatus
	}
	if e.StderrTail == "" {
		e.StderrTail = v.OldStderrTail
	}
	return nil
}

// ErrPermanent matches every error that a retry of its task cannot fix,
// such as a built-in fold given a value it cannot read: the task becomes a
// dead letter after its first attempt. Mark one with [Permanent].
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as one a retry cannot fix: the result matches
// [ErrPermanent] and err, and reads as err.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// JobRecord describes a job: what it runs and over which inputs. It lives
// in [JobsBucket] so that workers and a resumed run see the same job.
type JobRecord struct {
	V      int      `msgpack:"v"`
	ID     string   `msgpack:"id"`
	Kind   Kind     `msgpack:"kind"`
	Inputs []string `msgpack:"inputs"`
	// InputSizes are the sizes of Inputs when the job started, so that a
	// resume can refuse inputs that changed.
	InputSizes []int64 `msgpack:"sizes,omitempty"`
	// InputFingerprints identify the version of each of Inputs read when
	// the job started, in the same order, so that a resume can refuse a
	// file edited in place or replaced, even at the same size. Records of
	// jobs started before fingerprints have none; their resume compares
	// InputSizes only.
	InputFingerprints []InputFingerprint `msgpack:"fprints,omitempty"`
	Output            string             `msgpack:"output,omitempty"`
	// OutputURL is the s3:// URL of an object-storage output, which the
	// job writes to its staging path Output and uploads once complete;
	// empty for other outputs and in records written before the field.
	OutputURL string `msgpack:"outurl,omitempty"`
	// Force is set when the job was started to replace what exists at
	// Output (--force): a resume replaces it too, when the job
	// completes, where one of a job started without it refuses an output
	// that appeared while the job was stopped.
	Force   bool     `msgpack:"force,omitempty"`
	Command []string `msgpack:"cmd,omitempty"`
	// Map is a mapreduce job's built-in map function ("" when the map is
	// MapCommand). Records written before Builtin existed keep an each
	// job's built-in here too; DecodeJobRecord moves it to Builtin.
	Map        string   `msgpack:"map,omitempty"`
	MapCommand []string `msgpack:"mapcmd,omitempty"`
	Reduce     string   `msgpack:"reduce,omitempty"`
	// ReduceCommand is set when the reduce is a command, not a built-in.
	ReduceCommand []string `msgpack:"redcmd,omitempty"`
	// ReduceOnWorkers runs each reduce partition of a map-reduce job on a
	// worker (--reduce-on-workers): once every map task is complete the
	// submitter publishes a [ReduceTask] per partition on [ReduceSubject],
	// the worker that takes one writes the partition's part file into
	// the job's parts folder, which workers and submitter share, and
	// announces it with a [PartitionDone].
	ReduceOnWorkers bool `msgpack:"redw,omitempty"`
	Partitions      int  `msgpack:"parts"`
	// Migration of a table: the database URL, the table, its key column,
	// the splitting filter and the SQL run per key-range batch.
	DB        string `msgpack:"db,omitempty"`
	Table     string `msgpack:"table,omitempty"`
	Key       string `msgpack:"key,omitempty"`
	Where     string `msgpack:"where,omitempty"`
	SQL       string `msgpack:"sql,omitempty"`
	ChunkSize int64  `msgpack:"chunk"`
	// LocalOnly keeps the job's tasks in the process that submitted it
	// (its local workers): they use what only that machine has, the file
	// of a SQLite database. jetmr worker processes leave the job; its
	// record is stamped 8, so that workers older than the field, which
	// would take its tasks, refuse it too.
	LocalOnly bool `msgpack:"localonly,omitempty"`
	// Memory is the job's memory budget (--memory); a worker bounds each
	// map task's combiner by its share of it. Zero in records of jobs
	// started before it existed: workers then use a default.
	Memory  int64 `msgpack:"memory,omitempty"`
	Retries int   `msgpack:"retries"`
	// OkExit are the exit statuses other than 0 that count as success for
	// the job's commands (--ok-exit): a task whose command exits with one
	// of them is done, its output kept. Workers older than the field
	// count them as failures.
	OkExit []int `msgpack:"okexit,omitempty"`
	// Pipeline is the ID of the pipeline whose stage the job is, so that
	// jetmr status and discard find a pipeline's stages in any store;
	// empty for other jobs and in records of stages run before it existed.
	Pipeline string `msgpack:"pipeline,omitempty"`
	// TimeoutNanos limits one attempt; zero means no limit.
	TimeoutNanos int64 `msgpack:"timeout,omitempty"`
	// Transport says how task data and large outputs reach workers and the
	// reducer: [TransportShared] (file ranges and spill files on a shared
	// filesystem; the default) or [TransportObject].
	Transport string `msgpack:"transport,omitempty"`
	// S3 says which service serves the job's s3:// inputs, as the
	// submitting process resolved it, so that every worker reads them from
	// the same one; nil when the job has none. Credentials are never part
	// of it: each worker takes its own from its environment.
	S3 *S3Service `msgpack:"s3,omitempty"`
	// TaskTimeNanos, when set, is the time a task should take (--task-time):
	// chunks are sized adaptively from ChunkSize on, and split with a
	// write-ahead cursor.
	TaskTimeNanos int64  `msgpack:"tasktime,omitempty"`
	Created       int64  `msgpack:"created"`
	State         string `msgpack:"state"`
	// Tasks is the number of tasks, known once splitting finished (0 before).
	Tasks uint64 `msgpack:"tasks,omitempty"`
	// Round counts the resumes with --retry-failed: a task that failed in an
	// earlier round runs again in the current one.
	Round int `msgpack:"round,omitempty"`
	// MigrationRun names this run of a migrate job in the database's
	// progress table: new for each fresh run of the job ID, kept by its
	// resumes, so that a fresh run never takes the batches an earlier run
	// committed for done. Empty in records written before it, whose
	// progress rows have run ''. A worker that predates it fails the
	// job's batches, whose claims then name no run.
	MigrationRun string `msgpack:"mrun,omitempty"`

	// WorkDir is the working directory of the process that submitted the
	// job, absolute. Its commands (pipe, map, combiner, reducer on
	// workers, each items) run there on every worker that has it, so that
	// relative paths in items and commands mean what they meant to the
	// submitter; a worker that lacks it runs them in its own directory.
	// A resume keeps the first run's. Records written before it have
	// none, and workers that predate it ignore it: their commands run in
	// the worker's own directory, as they always did.
	WorkDir string `msgpack:"wdir,omitempty"`
	// Dir is an each job's working-directory template ("": WorkDir); a
	// relative one is relative to WorkDir. Shell runs its Command as one
	// sh -c script.
	Dir   string `msgpack:"dir,omitempty"`
	Shell bool   `msgpack:"shell,omitempty"`
	// Builtin is an each job's built-in item function, run instead of
	// Command. EncodeJobRecord writes it under "map" as well, for workers
	// that predate it.
	Builtin string `msgpack:"builtin,omitempty"`

	// Records says how a pipe or map-reduce job's inputs divide into
	// records: the number of header records of each input (--header),
	// the record end and start (--recend, --recstart, -0) and the format
	// (--format). HeaderOnce (--header-once) keeps the header a pipe
	// job's command prints only in the first task's output.
	Header     int    `msgpack:"hdrn,omitempty"`
	RecEnd     string `msgpack:"recend,omitempty"`
	RecStart   string `msgpack:"recstart,omitempty"`
	Format     string `msgpack:"format,omitempty"`
	HeaderOnce bool   `msgpack:"hdronce,omitempty"`

	// SkipBad is how many bad records (isolated by bisecting failed
	// tasks) the job may leave out of its output (--skip-bad-records);
	// one more fails the job.
	SkipBad int `msgpack:"skipbad,omitempty"`

	// The Hadoop Streaming settings of a map-reduce job (see [Keys]): the
	// key fields of a map output line (--key-fields), the partition fields
	// (--partition-fields) and the key order (--key-order, as
	// [ParseKeyOrder] reads it). CombineCommand (--combiner) runs on each
	// map task's sorted output before it is shipped.
	KeyFields       int      `msgpack:"keyf,omitempty"`
	PartitionFields int      `msgpack:"partf,omitempty"`
	KeyOrder        string   `msgpack:"korder,omitempty"`
	CombineCommand  []string `msgpack:"combcmd,omitempty"`
	// KeyTextByField is set on the jobs of 2 or more key fields that this
	// version records: their text order compares keys field by field
	// ([Keys.TextByField]). A job recorded without it, and resumed, sorts
	// its keys bytewise as its runs were sorted.
	KeyTextByField bool `msgpack:"ktfield,omitempty"`

	// Speculative lets the job run a backup attempt of a task that runs
	// far longer than the others once no task is waiting (--speculative):
	// its workers announce their attempts on [AttemptSubject] and stop an
	// attempt whose task is announced on [CancelSubject].
	Speculative bool `msgpack:"spec,omitempty"`
	// TaperSlots, when set, shrinks the chunks toward the end of the input
	// so that the last tasks end together: a chunk is at most the bytes
	// still to split / (2 x TaperSlots), never below a floor that keeps the
	// per-task overhead small nor above ChunkSize. It is kept in the record so that a resume cuts the same
	// chunks.
	TaperSlots int `msgpack:"taper,omitempty"`
}

// S3Service is where an S3-compatible object store is reached.
type S3Service struct {
	// Endpoint is the service's URL, e.g. https://s3.amazonaws.com or
	// http://127.0.0.1:9000.
	Endpoint string `msgpack:"endpoint"`
	// PathStyle addresses buckets in the URL's path rather than its host
	// name (MinIO, Ceph).
	PathStyle bool `msgpack:"pathstyle,omitempty"`
	// Region is the buckets' region; "" lets the client ask the service.
	Region string `msgpack:"region,omitempty"`
}

// Keys returns the job's key settings. A record whose KeyOrder does not
// parse was refused by DecodeJobRecord.
func (j *JobRecord) Keys() Keys {
	order, _ := ParseKeyOrder(j.KeyOrder)
	return Keys{Fields: j.KeyFields, PartitionFields: j.PartitionFields, Order: order, TextByField: j.KeyTextByField}
}

// streaming reports whether the record uses a Hadoop Streaming setting
// that older workers lack: streamingVersion.
func (j *JobRecord) streaming() bool {
	return j.KeyFields > 1 || j.PartitionFields > 0 || j.KeyOrder != "" || len(j.CombineCommand) > 0 || j.Reduce == ReduceNone
}

// ReduceNone is the reduce of a map-only job (--reduce none): every pair
// the map emits is written, sorted by key, to its partition's part file.
const ReduceNone = "none"

// InputFingerprint identifies one version of an input file. Standard
// input has the zero fingerprint.
type InputFingerprint struct {
	Size int64 `msgpack:"size"`
	// ModTime is the modification time in Unix nanoseconds.
	ModTime int64 `msgpack:"mtime"`
	// Dev and Ino are the file's device and inode numbers.
	Dev uint64 `msgpack:"dev"`
	Ino uint64 `msgpack:"ino"`
	// ETag is an object's entity tag (an input read from an object
	// store); "" for files.
	ETag string `msgpack:"etag,omitempty"`
}

// Transports of task data and large outputs.
const (
	// TransportShared: workers read input byte ranges and spill files by
	// path, on a filesystem they share with the submitter.
	TransportShared = "shared"
	// TransportObject: the splitter ships each chunk inline in the task
	// message when it is small; a worker fetches a larger one from the
	// submitter over NATS (Task.Fetch). Workers put large outputs in the
	// JetStream object store. Nothing needs a shared disk.
	TransportObject = "object"
)

// Job states.
const (
	// StateRunning: the job is running, or its process crashed; --resume
	// continues it.
	StateRunning = "running"
	// StateCommitting: every task is merged and the output is being renamed
	// into place.
	StateCommitting = "committing"
	// StateDone: the output is complete and published.
	StateDone = "done"
	// StateFailed: tasks failed for good; --resume --retry-failed reruns them.
	StateFailed = "failed"
	// StateStopped: the job was interrupted; --resume continues it.
	StateStopped = "stopped"
)

// SplitCheckpoint records how far a job's splitter got: every task below
// Published is stored in the task stream, or done.
type SplitCheckpoint struct {
	V         int    `msgpack:"v"`
	Published uint64 `msgpack:"pub"`
	// Done is set once every task is published; Published is the total then.
	Done bool `msgpack:"done,omitempty"`
	// Cursor, for sources that change as the job runs, is the chunk of task
	// CursorIndex, recorded before that task is published: a resume
	// publishes it again and splits on after it.
	Cursor      []byte `msgpack:"cursor,omitempty"`
	CursorIndex uint64 `msgpack:"cidx,omitempty"`
	// CursorPath, CursorOffset and CursorLength are the cursor chunk of a
	// file source split adaptively (--task-time), whose ranges cannot be
	// cut the same way twice.
	CursorPath   string `msgpack:"cpath,omitempty"`
	CursorOffset int64  `msgpack:"coff,omitempty"`
	CursorLength int64  `msgpack:"clen,omitempty"`
	// CursorHeader is the cursor chunk's header (--header).
	CursorHeader []byte `msgpack:"chdr,omitempty"`
}

// HasCursor reports whether the checkpoint holds a write-ahead cursor.
func (c SplitCheckpoint) HasCursor() bool { return c.Cursor != nil || c.CursorPath != "" }

// OutputCheckpoint records how much of an ordered output file is durable:
// the outputs of tasks below Next fill its first Offset bytes, synced to
// disk.
type OutputCheckpoint struct {
	V      int    `msgpack:"v"`
	Next   uint64 `msgpack:"next"`
	Offset int64  `msgpack:"off"`
}

// ReduceTask asks a worker to reduce one partition of a job whose record
// has ReduceOnWorkers: to merge the first result of each of the job's
// Tasks tasks on [ResultSubject] of the partition and write the part file
// into Dir.
type ReduceTask struct {
	V         int    `msgpack:"v"`
	Job       string `msgpack:"job"`
	Partition int    `msgpack:"p"`
	// Tasks is the number of the job's tasks, all complete (0 for an
	// empty input: the partition's reduce then reads nothing).
	Tasks uint64 `msgpack:"tasks"`
	// Dir is the job's parts folder, shared by workers and submitter.
	Dir string `msgpack:"dir"`
	// Stage names the submitter's reduce stage that published the task:
	// each run of a job reduces afresh, and reads only the done messages
	// of its own stage, so a failed stage's answers never fail a resume.
	Stage string `msgpack:"stage,omitempty"`
}

// PartitionDone announces that a worker wrote the part file of one
// partition: Name is its file name in the job's parts folder. A reduce
// that failed for good (its reducer command exited non-zero, say) says
// why in Err instead, and names no file.
type PartitionDone struct {
	V         int    `msgpack:"v"`
	Job       string `msgpack:"job"`
	Partition int    `msgpack:"p"`
	Name      string `msgpack:"name"`
	Worker    string `msgpack:"w"`
	// Tasks counts the tasks merged, BytesOut the part file's size.
	Tasks    uint64 `msgpack:"tasks"`
	BytesOut int64  `msgpack:"out"`
	// Counters are what the partition's reduce reported; Status the last
	// status message it set, "" if none.
	Counters []Counter `msgpack:"ctr,omitempty"`
	Status   string    `msgpack:"status,omitempty"`
	Err      string    `msgpack:"err,omitempty"`
	// Stage is the [ReduceTask]'s.
	Stage string `msgpack:"stage,omitempty"`
}
