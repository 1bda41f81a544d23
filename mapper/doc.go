// Package mapper runs a job's tasks: a [Worker] pulls the tasks of one job
// from its shared durable consumer, runs each (a pipe command over a chunk,
// a map function or command and its map-side combine, an each job's items,
// a migrate batch), and publishes the task's results before it
// acknowledges the task. A [Pool] watches the jobs bucket and runs a
// Worker for every running job it can run (jetmr worker), except a job
// whose tasks run in its submitting process only; it starts its watch
// again when the watch may have lost its consumer on the server.
//
// Goroutines: [Worker.Run] owns one goroutine per running task (under an
// errgroup, at most Config.Slots at once) and the heartbeat goroutine of
// each task, and waits for all of them before it returns; [Pool.Run] owns
// its job watcher, its heartbeat and one Worker per job, and waits for
// them too. A task whose attempt is cancelled is not acknowledged, so the
// server redelivers it.
//
// A task's bytes reach the worker in one place, processor.shipped and
// readChunk: a byte range of a file it reads itself (transport shared),
// bytes inline in the task, a chunk fetched from the job's submitter
// (Task.Fetch, package internal/transfer) or an object of an older
// submitter; each is checked against the task's CRC-32C.
//
// Outputs larger than Config.InlineMax are spilled to files in
// Config.SpillDir (or shipped to the job's object store) and only their
// name travels in the result message. A failed attempt is retried with a
// backoff; the last one is published as a failure result with the
// *schema.TaskError of the command. A pipe or mapreduce task whose last
// attempt failed is first bisected, in the worker that ran it, down to
// the records of its chunk that fail alone (see isolate.go): the failure
// result names them, or, in skip mode, the chunk without them runs once
// more and its outputs are published with the records left out.
//
// A map-reduce task cuts its command's lines into keys and values, and
// partitions and sorts its pairs, as the job's schema.Keys say
// (--key-fields, --partition-fields, --key-order); a combiner command runs
// on the sorted pairs before they are shipped. The counters and status
// its commands report (command.RunReporting) and its Go map function adds
// (package counter) travel with the successful result of partition 0
// only, so that the reducer, which merges each partition of a task once,
// counts them once; a failed attempt's are dropped.
//
// A worker in another process than the job's submitter announces, for
// the submitter's observers, each attempt as it starts
// (schema.AttemptStart, each item's attempt for an each job) and each
// that ends without a result the job merges (schema.AttemptEnd), in core
// NATS messages: a lost one costs a line of the submitter's job log or
// its count of running attempts, never a result.
//
// In a speculative job (schema.JobRecord.Speculative) a worker announces
// each attempt's start and end on the job's attempt subject and listens on
// its cancel subject: an attempt whose task the job announces merged (from
// another attempt, a backup or the original) is stopped with cause
// [ErrSuperseded] and its task acknowledged. A backup attempt
// (schema.Task.Backup) that fails is acknowledged and dropped, never
// retried nor dead-lettered: the original attempt decides.
//
// For a job that reduces its partitions on workers
// (schema.JobRecord.ReduceOnWorkers) the Pool runs a reduce worker next to
// the job's Worker, while the job runs and while it commits: it takes the
// job's reduce tasks one at a time from their shared durable consumer,
// has [reducer.RunPartition] merge the partition into a part file in the
// job's parts folder, sends heartbeats meanwhile, announces the part on
// the partition's done subject and then acknowledges the task. A task
// interrupted (the worker stops) is handed back; one killed returns after
// the ack wait and is reduced again from the results stream.
//
// The package must not touch the job's output files, the results stream's
// consumer or the jobs bucket's records: merging results and writing
// output belong to package reducer, and a job's life cycle to package job.
// User commands run only through package command, in [Job.Dir]: the
// submitter's directory (schema.JobRecord.WorkDir) when this machine has
// it, else the process's own, which the Pool warns of once per job.
package mapper
