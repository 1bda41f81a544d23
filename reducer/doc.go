// Package reducer merges the results of a job's tasks exactly once and
// writes the job's output; it feeds the run's statistics (package report)
// as it goes.
//
// A [Reducer] reads the job's results stream from its first message. Every
// (task, partition) pair is merged at most once: a result whose task index
// and partition were already merged (a redelivered task that ran twice, a
// publish that got through twice) is recognised and dropped. A task is
// complete when all its partitions are merged, or when its failure result
// arrives. The reducer owns its reading goroutine and waits for it.
//
// Sinks merge results: [OrderedSink] writes pipe outputs in input
// order; [KeyedSink] folds keyed outputs into partitions and writes them
// sorted by key; [EachSink] writes each job's per-item output groups and
// its join file; [CountSink] counts migrate batches. Output files are written under temporary names and renamed
// into place only when complete.
//
// The reducer reaches the job it merges for through one [Session]
// interface only. It must not acknowledge or republish tasks (the mappers
// do, or the Session on a --retry-failed round) nor change a job's record
// (the Session does); it reports what it merged through the statistics
// it returns.
package reducer
