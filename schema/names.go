package schema

import (
	"fmt"
	"regexp"
)

// Names of the per-job JetStream resources. A job's ID is part of its
// stream names and subjects, so it is limited to characters that are valid
// in both (see [ValidateJobID]).
const (
	// JobsBucket is the key-value bucket holding one [JobRecord] per job,
	// keyed by job ID, plus checkpoints under "<job>.ckpt.<name>".
	JobsBucket = "jetmr_jobs"
	// MapperConsumer is the durable consumer that all mappers of a job share.
	MapperConsumer = "mappers"
	// ReducerConsumer is the durable consumer of a job's results stream.
	ReducerConsumer = "reducer"
	// subjectRoot prefixes every subject jetmr publishes on.
	subjectRoot = "jetmr"
)

var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateJobID reports whether id can name a job: 1 to 64 ASCII letters,
// digits, '-' or '_'.
func ValidateJobID(id string) error {
	if !jobIDPattern.MatchString(id) {
		return fmt.Errorf("job ID %q is not valid: use 1 to 64 letters, digits, '-' or '_'", id)
	}
	return nil
}

// TaskStream is the work-queue stream holding a job's outstanding tasks.
func TaskStream(job string) string { return "JETMR_" + job + "_TASKS" }

// ResultStream is the stream holding a job's task results until the job ends.
func ResultStream(job string) string { return "JETMR_" + job + "_RESULTS" }

// DataBucket is the object store bucket of a job's shipped chunks and
// outputs (transport "object"); its stream is "OBJ_" + DataBucket.
func DataBucket(job string) string { return "JETMR_" + job + "_DATA" }

// ChunkObject is the name of task index's chunk in [DataBucket]: a task
// published again (a resume) ships the same chunk under the same name.
func ChunkObject(index uint64) string { return fmt.Sprintf("chunk-%d", index) }

// RangeSubject is the subject on which a job's submitter serves the
// byte ranges of fetched chunks (core NATS request and reply; no stream
// holds it).
func RangeSubject(job string) string { return subjectRoot + "." + job + ".ranges" }

// TaskSubject is the subject tasks of a job are published on.
func TaskSubject(job string) string { return subjectRoot + "." + job + ".tasks" }

// ReduceStream is the work-queue stream of a job's reduce tasks (a job
// whose record has ReduceOnWorkers).
func ReduceStream(job string) string { return "JETMR_" + job + "_REDUCE" }

// ReduceSubject is the subject of the reduce task of one partition.
func ReduceSubject(job string, partition int) string {
	return fmt.Sprintf("%s.%s.reduce.%d", subjectRoot, job, partition)
}

// ReduceSubjects is the wildcard subject of a job's reduce tasks.
func ReduceSubjects(job string) string { return subjectRoot + "." + job + ".reduce.>" }

// ReduceMsgID is the Nats-Msg-Id of the reduce task of one partition in
// one reduce stage (a [ReduceTask]'s Stage).
func ReduceMsgID(job, stage string, partition int) string {
	return fmt.Sprintf("%s/reduce/%s/%d", job, stage, partition)
}

// ReducerWorkers is the durable consumer of a job's reduce tasks that the
// workers share.
const ReducerWorkers = "reducers"

// DoneSubject is where a worker announces the part file of a partition
// it reduced (a [PartitionDone]). It lies within [ResultSubjects], in the
// results stream, apart from every partition's [ResultSubject].
func DoneSubject(job string, partition int) string {
	return fmt.Sprintf("%s.%s.results.done.%d", subjectRoot, job, partition)
}

// DoneSubjects is the wildcard subject of a job's [DoneSubject]s.
func DoneSubjects(job string) string { return subjectRoot + "." + job + ".results.done.>" }

// DoneMsgID is the Nats-Msg-Id of a partition's done message in one
// reduce stage.
func DoneMsgID(job, stage string, partition int) string {
	return fmt.Sprintf("%s/done/%s/%d", job, stage, partition)
}

// ResultSubjects is the wildcard subject of all results of a job.
func ResultSubjects(job string) string { return subjectRoot + "." + job + ".results.>" }

// ResultSubject is the subject of results for one reduce partition.
func ResultSubject(job string, partition int) string {
	return fmt.Sprintf("%s.%s.results.%d", subjectRoot, job, partition)
}

// MalformedSubject is where a worker reports a task message it could not
// decode, so that the job lists it instead of losing it silently. It lies
// within [ResultSubjects], in the results stream.
func MalformedSubject(job string) string { return subjectRoot + "." + job + ".results.malformed" }

// TaskMsgID is the Nats-Msg-Id of a task: publishing the same task twice
// within the stream's duplicate window stores it once.
func TaskMsgID(job string, index uint64) string { return fmt.Sprintf("%s/%d", job, index) }

// FailureMsgID is the Nats-Msg-Id of the failure result of a task that ran
// out of attempts in a retry round.
func FailureMsgID(job string, index uint64, round int) string {
	return fmt.Sprintf("%s/%d/failed/%d", job, index, round)
}

// RetryMsgID is the Nats-Msg-Id of a task published again in a retry round.
func RetryMsgID(job string, index uint64, round int) string {
	return fmt.Sprintf("%s/%d/retry/%d", job, index, round)
}

// Checkpoint keys in [JobsBucket].
const (
	CheckpointSplit  = "split"
	CheckpointOutput = "output"
)

// CheckpointKey is the key of a job's checkpoint in [JobsBucket].
func CheckpointKey(job, name string) string { return job + ".ckpt." + name }

// ResultMsgID is the Nats-Msg-Id of the final result of one task for one
// partition: a redelivered task whose result was already stored is dropped
// by the server, and the reducer drops any duplicate that gets through.
func ResultMsgID(job string, index uint64, partition int) string {
	return fmt.Sprintf("%s/%d/%d", job, index, partition)
}

// SkippedMsgID is the Nats-Msg-Id of a result that left bad records out
// (skip mode): the reducer may refuse it for holding more than the job may
// skip, so the task's result in a later retry round must not be dropped
// as its duplicate.
func SkippedMsgID(job string, index uint64, partition, round int) string {
	return fmt.Sprintf("%s/%d/%d/skipped/%d", job, index, partition, round)
}

// BackupMsgID is the Nats-Msg-Id of the backup attempt of a task (see
// [Task.Backup]): one backup per task.
func BackupMsgID(job string, index uint64) string { return fmt.Sprintf("%s/%d/backup", job, index) }

// AttemptSubject is the (core NATS, not stored) subject on which the
// workers of a speculative job announce each attempt's start and end (an
// [AttemptNote]), so that the job can tell which tasks run long.
func AttemptSubject(job string) string { return subjectRoot + "." + job + ".attempts" }

// AttemptEndSubject is the (core NATS, not stored) subject on which
// workers announce the attempts of a job's tasks that end without a result
// the job merges (an [AttemptEnd]), so that its submitter can report them.
func AttemptEndSubject(job string) string { return subjectRoot + "." + job + ".ended" }

// AttemptStartSubject is the (core NATS, not stored) subject on which
// workers in other processes than the job's submitter announce each
// attempt of a job's tasks as it starts (an [AttemptStart]), so that its
// submitter can count it running.
func AttemptStartSubject(job string) string { return subjectRoot + "." + job + ".started" }

// CancelSubject is the (core NATS, not stored) subject on which a
// speculative job announces the index of each task that had a backup once
// it is merged: workers stop the attempts of that task still running.
func CancelSubject(job string) string { return subjectRoot + "." + job + ".cancel" }
