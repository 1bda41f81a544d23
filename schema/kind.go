package schema

import "slices"

// Kind is what a job does with its tasks. The kind is decided once, when
// a job is configured (job.Config.Kind, a pipeline stage's key), and
// travels in [JobRecord.Kind]; what differs between kinds is read from its
// [Traits] instead of comparing kinds.
type Kind string

// Job kinds.
const (
	// KindPipe runs a command over line-aligned chunks of input files and
	// writes its outputs in input order.
	KindPipe Kind = "pipe"
	// KindMapReduce maps chunks of input files to key/value pairs and folds
	// them per key into partitions.
	KindMapReduce Kind = "mapreduce"
	// KindMigrate runs SQL per key-range batch of a table.
	KindMigrate Kind = "migrate"
	// KindEach runs a command once per item; its tasks carry batches of
	// items ([ItemBatch]) and its results per-item outcomes ([ItemResults]).
	KindEach Kind = "each"
)

// Kinds lists every kind, in the order messages name them.
var Kinds = []Kind{KindPipe, KindMapReduce, KindEach, KindMigrate}

// Valid reports whether k is one of [Kinds].
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

func (k Kind) String() string { return string(k) }

// Split is how a kind's work is cut into tasks.
type Split int

const (
	// SplitFiles: byte ranges of input files, on line boundaries.
	SplitFiles Split = iota + 1
	// SplitItems: batches of items carried in the task messages.
	SplitItems
	// SplitKeys: key ranges of a database table.
	SplitKeys
)

// Traits is what differs between kinds: how the work splits, what a
// task carries, how results merge and what the report counts.
type Traits struct {
	// Split is how the work is cut into tasks.
	Split Split
	// Keyed: results are sorted runs of key/value pairs, folded per key
	// into partitions.
	Keyed bool
	// Ordered: the output is the tasks' outputs in input order.
	Ordered bool
	// PerItem: each item of a task keeps its own attempts, exit status
	// and timeout, so the task as a whole has neither.
	PerItem bool
	// Builtin: JobRecord.Builtin may name a built-in item function.
	Builtin bool
	// WholeTimeout: the job's timeout bounds a whole attempt of a task;
	// otherwise it bounds each part (a migrate batch's transactions, an
	// each job's items).
	WholeTimeout bool
	// Rows: results count rows, and the report shows rows per second.
	Rows bool
	// Adaptive: chunks may be sized by a task time (--task-time).
	Adaptive bool
	// Bisect: a task that fails on every attempt is bisected down to the
	// records of its input that fail on their own, which skip mode may
	// leave out (--skip-bad-records).
	Bisect bool
	// Rerunnable: a task's command only transforms its input into its
	// output, so running it twice is harmless, and slow tasks get backup
	// attempts by default (see [JobRecord.Speculative]). An each or
	// migrate command may have effects outside its output: it gets them
	// only when declared idempotent.
	Rerunnable bool
}

// kindTraits is the one table of what differs between kinds.
var kindTraits = map[Kind]Traits{
	KindPipe:      {Split: SplitFiles, Ordered: true, WholeTimeout: true, Adaptive: true, Rerunnable: true, Bisect: true},
	KindMapReduce: {Split: SplitFiles, Keyed: true, WholeTimeout: true, Adaptive: true, Rerunnable: true, Bisect: true},
	KindEach:      {Split: SplitItems, PerItem: true, Builtin: true},
	KindMigrate:   {Split: SplitKeys, Rows: true, Adaptive: true},
}

// Traits returns what is particular to k; the zero Traits for a kind that
// is not valid.
func (k Kind) Traits() Traits { return kindTraits[k] }
