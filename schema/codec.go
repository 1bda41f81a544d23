package schema

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"
)

// Sentinel errors of the decoders.
var (
	// ErrMalformed wraps every decoding failure of a message that is not a
	// valid jetmr message.
	ErrMalformed = errors.New("malformed message")
	// ErrNewerVersion means the message was written by a newer jetmr than
	// this one; leave it for a worker that understands it.
	ErrNewerVersion = errors.New("message has a newer wire version")
)

// EncodeTask encodes t, stamping the oldest [Version] that carries it.
func EncodeTask(t Task) ([]byte, error) {
	t.V = versionFor(len(t.Header) > 0, false)
	if t.Fetch {
		t.V = fetchVersion
	}
	return msgpack.Marshal(&t)
}

// DecodeTask decodes and validates a task.
func DecodeTask(data []byte) (Task, error) {
	var t Task
	if err := decode(data, &t); err != nil {
		return Task{}, fmt.Errorf("decoding task: %w", err)
	}
	if err := checkVersion(t.V); err != nil {
		return Task{}, fmt.Errorf("decoding task: %w", err)
	}
	switch {
	case ValidateJobID(t.Job) != nil:
		return Task{}, fmt.Errorf("decoding task: %w: bad job ID %q", ErrMalformed, t.Job)
	case t.Offset < 0 || t.Length < 0:
		return Task{}, fmt.Errorf("decoding task %d: %w: negative range %d+%d", t.Index, ErrMalformed, t.Offset, t.Length)
	case t.Path != "" && t.Inline != nil && t.Sum == nil:
		return Task{}, fmt.Errorf("decoding task %d: %w: both a path and inline data", t.Index, ErrMalformed)
	case t.Inline != nil && t.Object != "":
		return Task{}, fmt.Errorf("decoding task %d: %w: both inline data and an object", t.Index, ErrMalformed)
	case t.Object != "" && t.Sum == nil:
		return Task{}, fmt.Errorf("decoding task %d: %w: an object without a checksum", t.Index, ErrMalformed)
	case t.Fetch && (t.Path == "" || t.Sum == nil || t.Inline != nil || t.Object != ""):
		return Task{}, fmt.Errorf("decoding task %d: %w: a fetched chunk needs a path and a checksum, and nothing else shipped", t.Index, ErrMalformed)
	}
	return t, nil
}

// EncodeRangeRequest encodes r, stamping the [Version] that carries it.
func EncodeRangeRequest(r RangeRequest) ([]byte, error) {
	r.V = fetchVersion
	return msgpack.Marshal(&r)
}

// DecodeRangeRequest decodes and validates a range request.
func DecodeRangeRequest(data []byte) (RangeRequest, error) {
	var r RangeRequest
	if err := decode(data, &r); err != nil {
		return RangeRequest{}, fmt.Errorf("decoding range request: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return RangeRequest{}, fmt.Errorf("decoding range request: %w", err)
	}
	if r.Path == "" || r.Offset < 0 || r.Length <= 0 {
		return RangeRequest{}, fmt.Errorf("decoding range request of task %d: %w: range %q %d+%d", r.Index, ErrMalformed, r.Path, r.Offset, r.Length)
	}
	return r, nil
}

// EncodeResult encodes r, stamping the oldest [Version] that carries it.
func EncodeResult(r Result) ([]byte, error) {
	r.V = versionFor(len(r.TaskHeader) > 0, len(r.Skipped) > 0)
	return msgpack.Marshal(&r)
}

// DecodeResult decodes and validates a result.
func DecodeResult(data []byte) (Result, error) {
	var r Result
	if err := decode(data, &r); err != nil {
		return Result{}, fmt.Errorf("decoding result: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return Result{}, fmt.Errorf("decoding result: %w", err)
	}
	switch {
	case ValidateJobID(r.Job) != nil:
		return Result{}, fmt.Errorf("decoding result: %w: bad job ID %q", ErrMalformed, r.Job)
	case r.Partition < 0:
		return Result{}, fmt.Errorf("decoding result %d: %w: negative partition", r.Index, ErrMalformed)
	case r.End < r.Start:
		return Result{}, fmt.Errorf("decoding result %d: %w: ends before it starts", r.Index, ErrMalformed)
	case r.Payload != nil && r.Spill != "", r.Object != "" && (r.Payload != nil || r.Spill != ""):
		return Result{}, fmt.Errorf("decoding result %d: %w: output both inline, spilled or in an object", r.Index, ErrMalformed)
	}
	return r, nil
}

// EncodeJobRecord encodes j, stamping the oldest [Version] that carries
// it.
func EncodeJobRecord(j JobRecord) ([]byte, error) {
	j.V = versionFor(j.Header > 0 || j.HeaderOnce, j.SkipBad > 0)
	if j.streaming() && j.V < streamingVersion {
		j.V = streamingVersion
	}
	if j.ReduceOnWorkers {
		j.V = reduceVersion
	}
	if j.Reduce == ReduceNone {
		j.V = mapOnlyVersion
	}
	if j.LocalOnly {
		j.V = localOnlyVersion
	}
	if j.MigrationRun != "" {
		j.V = migrationRunVersion
	}
	if j.KeyTextByField && j.KeyFields > 1 && j.KeyOrder == "" {
		j.V = textByFieldVersion
	}
	if j.Builtin != "" {
		j.Map = j.Builtin // where workers that predate Builtin look for it
	}
	return msgpack.Marshal(&j)
}

// DecodeJobRecord decodes and validates a job record.
func DecodeJobRecord(data []byte) (JobRecord, error) {
	var j JobRecord
	if err := decode(data, &j); err != nil {
		return JobRecord{}, fmt.Errorf("decoding job record: %w", err)
	}
	if err := checkVersion(j.V); err != nil {
		return JobRecord{}, fmt.Errorf("decoding job record: %w", err)
	}
	if err := ValidateJobID(j.ID); err != nil {
		return JobRecord{}, fmt.Errorf("decoding job record: %w: %w", ErrMalformed, err)
	}
	if !j.Kind.Valid() {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: unknown kind %q", j.ID, ErrMalformed, j.Kind)
	}
	if j.Kind.Traits().Builtin && j.Builtin == "" {
		j.Builtin = j.Map // written before Builtin existed
	}
	if j.Kind.Traits().Builtin {
		j.Map = ""
	}
	if j.Partitions < 1 {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: %d partitions", j.ID, ErrMalformed, j.Partitions)
	}
	if j.SkipBad < 0 {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: skipping %d bad records", j.ID, ErrMalformed, j.SkipBad)
	}
	if _, err := ParseKeyOrder(j.KeyOrder); err != nil {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: %w", j.ID, ErrMalformed, err)
	}
	if j.KeyFields < 0 || j.PartitionFields < 0 || j.PartitionFields > max(j.KeyFields, 1) {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: %d partition fields of %d key fields", j.ID, ErrMalformed, j.PartitionFields, j.KeyFields)
	}
	if n := len(j.InputFingerprints); n > 0 && n != len(j.Inputs) {
		return JobRecord{}, fmt.Errorf("decoding job record %s: %w: %d input fingerprints for %d inputs", j.ID, ErrMalformed, n, len(j.Inputs))
	}
	return j, nil
}

func decode(data []byte, v any) (err error) {
	// msgpack reports malformed input as errors; the recover is a last line
	// of defence so that no byte sequence from the network can crash a worker.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	if err := checkBounds(data); err != nil {
		return err
	}
	if err := msgpack.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func checkVersion(v int) error {
	switch {
	case v > Version:
		return fmt.Errorf("%w: version %d, this jetmr understands up to %d", ErrNewerVersion, v, Version)
	case v < 1:
		return fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	return nil
}

// EncodeCheckpoint encodes a checkpoint (a *SplitCheckpoint or an
// *OutputCheckpoint), stamping the oldest [Version] that carries it.
func EncodeCheckpoint(c any) ([]byte, error) {
	switch c := c.(type) {
	case *SplitCheckpoint:
		c.V = versionFor(len(c.CursorHeader) > 0, false)
	case *OutputCheckpoint:
		c.V = baseVersion
	default:
		return nil, fmt.Errorf("schema.EncodeCheckpoint: unsupported type %T", c)
	}
	return msgpack.Marshal(c)
}

// DecodeSplitCheckpoint decodes a splitter checkpoint.
func DecodeSplitCheckpoint(data []byte) (SplitCheckpoint, error) {
	var c SplitCheckpoint
	if err := decode(data, &c); err != nil {
		return c, fmt.Errorf("decoding split checkpoint: %w", err)
	}
	return c, checkVersion(c.V)
}

// DecodeOutputCheckpoint decodes an output checkpoint.
func DecodeOutputCheckpoint(data []byte) (OutputCheckpoint, error) {
	var c OutputCheckpoint
	if err := decode(data, &c); err != nil {
		return c, fmt.Errorf("decoding output checkpoint: %w", err)
	}
	if c.Offset < 0 {
		return c, fmt.Errorf("decoding output checkpoint: %w: negative offset", ErrMalformed)
	}
	return c, checkVersion(c.V)
}

// versionFor returns the version of a message: skipVersion when it
// carries skip mode, headerVersion when it carries an input header, which
// older workers would drop, else baseVersion.
func versionFor(header, skip bool) int {
	switch {
	case skip:
		return skipVersion
	case header:
		return headerVersion
	}
	return baseVersion
}

// EncodeReduceTask encodes t, stamping the [Version] that carries it.
func EncodeReduceTask(t ReduceTask) ([]byte, error) {
	t.V = reduceVersion
	return msgpack.Marshal(&t)
}

// DecodeReduceTask decodes and validates a reduce task.
func DecodeReduceTask(data []byte) (ReduceTask, error) {
	var t ReduceTask
	if err := decode(data, &t); err != nil {
		return ReduceTask{}, fmt.Errorf("decoding reduce task: %w", err)
	}
	if err := checkVersion(t.V); err != nil {
		return ReduceTask{}, fmt.Errorf("decoding reduce task: %w", err)
	}
	switch {
	case ValidateJobID(t.Job) != nil:
		return ReduceTask{}, fmt.Errorf("decoding reduce task: %w: bad job ID %q", ErrMalformed, t.Job)
	case t.Partition < 0 || t.Partition >= maxPartitions:
		return ReduceTask{}, fmt.Errorf("decoding reduce task: %w: partition %d", ErrMalformed, t.Partition)
	case t.Dir == "":
		return ReduceTask{}, fmt.Errorf("decoding reduce task: %w: no parts folder", ErrMalformed)
	}
	return t, nil
}

// EncodePartitionDone encodes d, stamping the [Version] that carries it.
func EncodePartitionDone(d PartitionDone) ([]byte, error) {
	d.V = reduceVersion
	return msgpack.Marshal(&d)
}

// DecodePartitionDone decodes and validates a partition's done message.
func DecodePartitionDone(data []byte) (PartitionDone, error) {
	var d PartitionDone
	if err := decode(data, &d); err != nil {
		return PartitionDone{}, fmt.Errorf("decoding partition done: %w", err)
	}
	if err := checkVersion(d.V); err != nil {
		return PartitionDone{}, fmt.Errorf("decoding partition done: %w", err)
	}
	switch {
	case ValidateJobID(d.Job) != nil:
		return PartitionDone{}, fmt.Errorf("decoding partition done: %w: bad job ID %q", ErrMalformed, d.Job)
	case d.Partition < 0 || d.Partition >= maxPartitions:
		return PartitionDone{}, fmt.Errorf("decoding partition done: %w: partition %d", ErrMalformed, d.Partition)
	case d.Err != "" && d.Name == "":
	case d.Name == "" || d.Name != filepath.Base(d.Name) || d.Name[0] != '.' || d.Name == "." || d.Name == "..":
		return PartitionDone{}, fmt.Errorf("decoding partition done: %w: part file name %q", ErrMalformed, d.Name)
	}
	return d, nil
}

// maxPartitions bounds a partition number in a reduce task or done
// message; a job has at most 10,000 partitions.
const maxPartitions = 10000
