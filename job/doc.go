// Package job runs jetmr jobs end to end on one machine or against a NATS
// cluster: it validates a [Config] before anything starts, provisions the
// job's streams, and runs the splitter, local mapper workers and the
// reducer under one errgroup until every task is merged exactly once.
//
// Run blocks until the job is complete, failed or its context is
// cancelled; every goroutine it starts has returned when it returns.
// Errors are typed: [ErrBadInput] for the caller's input (nothing was
// started), broker.ErrUnreachable for infrastructure, [ErrTasksFailed] when
// tasks failed for good (the report lists them as dead letters).
//
// Kinds: pipe (a command over line-aligned chunks, output in input order),
// mapreduce (keyed), migrate (SQL per key-range batch) and each (a command
// per item: Config.Items, Command and the each fields; items are batched
// into tasks, each item keeps its own retries, exit status and output
// group, and Config.Join runs once after every item succeeded).
//
// The end of a job: a split of input files of known size shrinks its
// last chunks (splitter.Taper) so that the slots finish together, and a
// speculative job (Config.Speculative) runs a backup attempt of a task
// that runs far longer than the median once no task waits; the reducer
// merges whichever attempt's result comes first, by task index.
//
// Observers (Config.Observer) hear of every attempt of the job's tasks:
// the local workers report their own; the attempts of workers in other
// processes are reported from the attempt starts those workers announce
// (schema.AttemptStart), the results the reducer merges and the attempt
// ends they announce (schema.AttemptEnd). An attempt whose end was lost
// is dropped (observe.DropObserver) once its task is merged or runs
// again, its worker is gone, or the job ends (job/remote.go).
//
// The package owns a job's life cycle: its record in the jobs bucket, the
// splitter goroutine, the local workers and the reducer all run under the
// errgroup of [Run], which waits for them. It must not parse command-line
// flags (cmd/jetmr does) nor render reports (package observe does).
package job
