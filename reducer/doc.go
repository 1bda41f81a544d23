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
// sources in the one merge's order. A range reads each run with its
// format's own reader (schema.RunScanner, runfile.Reader) started at that
// mark's offset, which checks what a read from the run's start checks. Range 0 writes the part file, the
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
// file is the worker's, removed only once the output is complete.
//
// # Reusing runs on resume
//
// A resume replays the results stream from its first message, which
// holds every task's result (and the results' spill files stay) until the
// job completes; the duplicate check restarts with it, so the reducer
// hands each (task, partition) result to Merge once, and it is the same
// message, with the same bytes, as the run before merged: the first of
// its kind in the stream. Without more, a new sink removes the runs it
// finds and folds the whole stream again. With KeyedConfig.Fingerprint,
// a fold's lane records each run it spills (its table, or kept runs
// merged into one) for a resume, and a sink with KeyedConfig.Resume
// reuses the recorded runs instead of folding their results again.
//
// A run is recorded by a manifest next to it, "fold-pP-N.run.manifest":
// the job's fingerprint (its ID and creation time), the fold, key order
// and partitions, the partition, the run's number N and size, and for
// each task result folded into the run since the partition's previous
// run, how many of the result's pairs (counted in the order of the
// result's own run) it holds and whether the result's last pair is among
// them. A lane folds one result at a time and spills when its table is
// full, often in the middle of a result, which then goes on in the next
// run; kept runs are whole results. So the partition's runs 0 to N hold
// of each result a prefix of its pairs, the whole result when a manifest
// marks its last pair, and nothing in two runs.
//
// The commit point of a run is the rename of its manifest into place.
// The steps, and what a crash after each leaves: the run is written as
// fold-pP-N.run.tmp (a crash leaves the temporary file, which a resume
// removes) and renamed (a run without a manifest: discarded); the
// manifest is written as .manifest.tmp (removed on resume) and renamed
// (a recorded run: reused). With --sync always (KeyedConfig.Sync) the run
// is fsynced before its manifest is written, and the manifest and the
// folder around its rename, so that a power loss cannot keep a manifest
// whose run is lost; without it a process crash loses nothing written,
// and what a power loss tears is caught by the checks below. Runs and
// manifests are removed only at Commit, as the merge consumes them and
// once the output is in place, or by a sink that does not resume; a crash
// halfway leaves runs without manifests or manifests without runs, which
// are discarded. Code that rewrites or merges recorded runs before Commit
// must remove their manifests first (and record what it writes), or a
// manifest would describe a file that holds more than it says.
//
// A resumed sink takes, per partition, runs 0, 1, ... up to the first
// that fails a check: its manifest exists, is whole (a CRC-32C guards
// it), names this job, fold, key order and partitions, this partition and
// run, and lists no result an earlier run holds whole; its run has the
// size the manifest gives and reads to its end marker. That run and every
// later one of the partition are removed, with every other file in the
// work folder. The runs taken are a prefix of the partition's runs, so
// they hold of each result a prefix of its pairs: held(r) pairs, or the
// whole result. Merge then drops a result held whole (its pairs are in
// the runs; the reducer still counts the task, its counters and
// statistics from the replay), and the lane folds a result held in part
// from its pair held(r)+1 on, skipping the first held(r). Every pair of
// every merged result is therefore folded exactly once: in a reused run,
// or afresh, never both. What the stopped run held only in memory (its
// tables and the kept runs not yet merged) is in no recorded run and is
// folded again. New runs are numbered after the reused ones and their
// manifests count only the pairs they fold, so that the prefix property
// holds for a second resume too. Suspend (a job interrupted, or with
// failed tasks) merges each partition's kept runs and spills its table as
// recorded runs, unless a lane failed, so that the resume of a job that
// stopped gracefully folds nothing again. Reducer commands, ReduceFuncs
// and [RunPartition] record no runs: they merge the stream again.
//
// Spilling changes no result: folds are associative and commutative over
// partials (see package fold), and the merge meets a key's partials from
// every run before it emits the key. The one exception is a sum that
// turned float, whose last bits depend on the grouping of its additions;
// they already depend on the order in which results arrive.
package reducer
