package pipeline

import (
	"time"

	"github.com/jetmr/jetmr/splitter"

	"github.com/jetmr/jetmr/schema"
)

// kinds lists the stage kinds in the order messages name them.
var kinds = func() []string {
	names := make([]string, len(schema.Kinds))
	for i, k := range schema.Kinds {
		names[i] = string(k)
	}
	return names
}()

// StageRef is the prefix of an input naming another stage's output.
const StageRef = "stage:"

// File is a parsed job file.
type File struct {
	// Path is the file's name as given, for messages.
	Path string
	// Jobs is the pipeline's total slots ("N", "N%" or "auto"); the -j
	// flag overrides it. Default "auto".
	Jobs string
	// Defaults apply to every stage that does not set the option itself.
	Defaults StageOptions
	// Stages in file order.
	Stages []*Stage
}

// Stage is one stage of a job file.
type Stage struct {
	Name string
	// Kind is the stage's kind: the jetmr command it runs as.
	Kind schema.Kind
	// DependsOn lists the stages that must succeed before this one starts,
	// those named in depends_on and those whose output it reads.
	DependsOn []string
	// Line is where the stage starts in the file.
	Line int

	Pipe      *PipeSpec
	MapReduce *MapReduceSpec
	Each      *EachSpec
	Migrate   *MigrateSpec

	// pos records the line of each field, for messages.
	pos map[string]int
	// In a file with problems: broken is set on a stage whose kind is not
	// known (none, two, or not a mapping), and failed holds the fields
	// (keyed as pos) whose value is missing or could not be read. Checks
	// that would only repeat such a problem are skipped.
	broken bool
	failed map[string]bool
}

// StageOptions are the options every stage kind takes, as the commands' flags.
type StageOptions struct {
	// Jobs caps the stage's slots: "N", "N%" or "auto" (-j).
	Jobs string
	// IO marks a command that mostly waits (--io).
	IO bool
	// ChunkSize is bytes per task ("64KiB"), rows for migrate (--chunk-size).
	ChunkSize string
	// Retries of a failed task (--retries); nil: the default.
	Retries *int
	// OkExit are the exit statuses of the stage's commands that count as
	// success besides 0 (--ok-exit); written "0,1".
	OkExit []int
	// Timeout per task attempt (--timeout).
	Timeout time.Duration
	// TaskTime sizes chunks adaptively toward this task time (--task-time).
	TaskTime time.Duration
	// Halt policy (--halt).
	Halt string
	// MemFree holds back tasks below this much free memory (--memfree).
	MemFree string
	// SkipBadRecords is how many bad records a pipe or mapreduce stage may
	// leave out of its output (--skip-bad-records), into the file next to
	// it named OUTPUT.rejected.
	SkipBadRecords int
}

// PipeSpec is a pipe stage: `jetmr pipe -i INPUT... -o OUTPUT -- COMMAND`.
type PipeSpec struct {
	StageOptions
	RecordSpec
	Input   []string
	Output  string
	Command []string
}

// RecordSpec says how a pipe or mapreduce stage's inputs divide into
// records and what header each has, as the flags of jetmr pipe do:
// header, header_once (pipe only), null, recend, recstart and format.
// recend and recstart are taken as YAML gives them ("\n\n" in double
// quotes is two newlines).
type RecordSpec struct {
	Header     int
	HeaderOnce bool
	Null       bool
	RecEnd     string
	RecStart   string
	Format     string

	recendSet bool // recend was given, if empty
}

// records returns the splitter's records of the spec, which checkKind
// has checked.
func (r RecordSpec) records() splitter.Records {
	rec := splitter.Records{Header: r.Header, End: r.RecEnd, Start: r.RecStart, Format: r.Format}
	if r.Null {
		rec.End = "\x00"
	}
	if rec.Format == splitter.FormatLines {
		rec.Format = ""
	}
	return rec
}

// MapReduceSpec is a mapreduce stage.
type MapReduceSpec struct {
	StageOptions
	RecordSpec
	Input      []string
	Output     string
	Map        string
	Reduce     string
	Partitions int
	// The Hadoop Streaming settings, as jetmr mapreduce's --combiner,
	// --key-fields, --partition-fields and --key-order (see
	// job.MapReduceConfig): combiner, key_fields (default 1),
	// partition_fields (default 0: the whole key) and key_order.
	Combiner        string
	KeyFields       int
	PartitionFields int
	KeyOrder        string
}

// EachSpec is an each stage: one task per item.
type EachSpec struct {
	StageOptions
	// Items, or ItemsFile (one item a line): exactly one is given.
	Items     []string
	ItemsFile string
	Command   []string
	// Dir runs each command in this directory ({} is the item).
	Dir       string
	Shell     bool
	KeepOrder bool
	// Join runs once after every item succeeded.
	Join []string
}

// MigrateSpec is a migrate stage.
type MigrateSpec struct {
	StageOptions
	DB        string
	Table     string
	Key       string
	SQL       string
	Where     string
	MaxRate   float64
	PauseWhen string
}

// Inputs returns the stage's input paths and stage references.
func (s *Stage) Inputs() []string {
	switch {
	case s.Pipe != nil:
		return s.Pipe.Input
	case s.MapReduce != nil:
		return s.MapReduce.Input
	}
	return nil
}

// Output returns the file or directory the stage writes, "" when it
// writes none (a pipe stage to stdout, each, migrate).
func (s *Stage) Output() string {
	switch {
	case s.Pipe != nil:
		return s.Pipe.Output
	case s.MapReduce != nil:
		return s.MapReduce.Output
	}
	return ""
}

// Options returns the stage's common options.
func (s *Stage) Options() StageOptions {
	switch {
	case s.Pipe != nil:
		return s.Pipe.StageOptions
	case s.MapReduce != nil:
		return s.MapReduce.StageOptions
	case s.Each != nil:
		return s.Each.StageOptions
	case s.Migrate != nil:
		return s.Migrate.StageOptions
	}
	return StageOptions{}
}

// line is where field of the stage is, or the stage's own line.
func (s *Stage) line(field string) int {
	if l, ok := s.pos[field]; ok {
		return l
	}
	return s.Line
}
