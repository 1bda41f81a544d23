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
// sorted by key (in the job's key order, KeyedConfig.Keys: every sort,
// run check and merge compares keys with schema.Keys.Compare); [EachSink] writes each job's per-item output groups and
// its join file; [CountSink] counts migrate batches. Output files are written under temporary names and renamed
// into place only when complete.
//
// A job that reduces its partitions on workers
// (schema.JobRecord.ReduceOnWorkers) has a [PartsSink] instead of a
// KeyedSink: it merges nothing, and at Commit publishes one reduce task
// per partition (the only tasks this package publishes), waits for each
// partition's done message and renames the part files they name into the
// output. On the worker, [RunPartition] merges one partition from its
// results subject with the same duplicate check by task index, through a
// one-partition KeyedSink that keeps the results' spill files, so that a
// second worker can merge the partition again.
//
// The reducer reaches the job it merges for through one [Session]
// interface only. It must not acknowledge or republish tasks (the mappers
// do, or the Session on a --retry-failed round) nor change a job's record
// (the Session does); it reports what it merged through the statistics
// it returns, the user counters of each result it merges included
// (schema.Result.Counters, counted once per task like its output).
//
// # Spilled fold state and exactly-once
//
// A [KeyedSink] with a fold keeps each partition's state in a
// [fold.Table] within its share of KeyedConfig.Memory. Past it, the lane
// writes the table as a sorted run file (see internal/runfile) in the work
// folder and empties it; at Commit the partition's runs and its last
// table are merged k-way, equal keys folded, at most FanIn files open at
// once (more runs are merged in passes), into the part file.
//
// A lane whose first results hold mostly keys it has not seen (more than
// half of the pairs it folded were new keys, after some 64,000 pairs)
// stops hashing: it keeps each further result's run, which the map side
// sorted and combined, as it is (the result's spill file, or its inline
// payload written to the work folder), and at Commit merges the kept runs
// with the spilled ones and the table. Every 32 kept runs are merged into
// one spilled run as they arrive, so that the final merge reads few files.
// Merging sorted runs costs O(n log k) comparisons of neighbouring keys
// where hashing each of n keys once into a large table costs a cache miss.
//
// A partition that has more than one core to itself at Commit
// (KeyedConfig.Parallel over the number of partitions) and runs of a few
// MiB or more splits its final merge by key ranges: the runs are scanned
// once in parallel (their encoding, count and key order checked, every
// 512th key marked with its offset), the marks and the table's keys give
// the bounds of twice as many ranges as cores, and each range is merged
// by its own goroutine from the last mark before its first key, the
// sources in the one merge's order. Range 0 writes the part file, the
// others a file each in the work folder, appended to the part file in
// order: the part file is the same bytes as one merge writes.
//
// Exactly-once holds because a spilled or kept run is only ever a
// rearrangement of results this process merged: the lane spills what it
// folded, or keeps a result's run, each (task, partition) result having
// passed the reducer's duplicate check once, and the kept runs, the
// spilled runs and the table together always hold each merged result
// once. A spilled run is written under a temporary name and renamed when
// complete, so a run file is never half a state; a kept result's spill
// file is the worker's, removed only once the output is complete. Runs are
// not reused across processes: a new sink (a resumed job, or a run that
// restarted after a crash) removes the runs it finds and rebuilds its
// state by replaying the results stream from its first message, which
// holds every task's result (and the results' spill files stay) until the
// job completes; the duplicate check restarts with it, so each result is
// folded or kept once in the new state. Reusing runs would need each run
// to record the task indexes it covers and a resume to skip exactly those
// while replaying; the replay is the simpler argument, at the price of
// folding the stream again.
//
// Spilling changes no result: folds are associative and commutative over
// partials (see package fold), and the merge meets a key's partials from
// every run before it emits the key. The one exception is a sum that
// turned float, whose last bits depend on the grouping of its additions;
// they already depend on the order in which results arrive.
package reducer
