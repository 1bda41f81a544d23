package job

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
)

// Config describes a job. Zero fields take the documented defaults.
type Config struct {
	// ID names the job. Default: a generated ID.
	ID string
	// Kind is schema.KindPipe or schema.KindMapReduce. Required.
	Kind string
	// Inputs are files or directories (walked recursively). Required.
	Inputs []string
	// Output is, for pipe, the output file ("" writes to Stdout) and, for
	// mapreduce, the output directory, which must not exist yet.
	Output string
	// Stdout receives a pipe job's output when Output is "". Default os.Stdout.
	Stdout io.Writer
	// Command is a pipe job's command (argv, no shell).
	Command []string
	// Map and Reduce name a mapreduce job's functions: a built-in name, or a
	// command line (split into argv like a shell would, but never run
	// through one) in Hadoop Streaming style.
	Map, Reduce string
	// Partitions is the number of reduce partitions. Default 1.
	Partitions int
	// ChunkSize is the bytes per task. Default: splitter.DefaultChunkSize.
	ChunkSize int64
	// Slots is how many tasks this process runs at once. Default: the
	// number of CPUs.
	Slots int
	// Retries is how many times a failed task is retried. Default 3; a
	// negative value means none.
	Retries int
	// Timeout limits one attempt of a task. Default: no limit.
	Timeout time.Duration
	// Window bounds the tasks published but not yet retired by the reducer,
	// and so the memory and stream space a job uses. Default 8 per slot,
	// at least 32.
	Window int
	// Broker says which NATS to use. Default: embedded.
	Broker broker.Config
	// Logger receives the job's logs. Zero value: none.
	Logger zerolog.Logger
}

// Defaults.
const (
	DefaultRetries = 3
)
