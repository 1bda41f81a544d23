// Package pipeline runs jetmr job files: several stages (pipe, mapreduce,
// each, migrate) with dependencies between them, as `jetmr pipeline
// JOB.yaml` does.
//
// A job file is parsed with [Load] (or [Parse]), which checks everything
// in the file itself: unknown fields, stages with zero or two kinds,
// missing fields, values, duplicate names, unknown stage names, cycles,
// and `stage:NAME` inputs naming a stage that writes no file. Every such
// error is an [*Error] carrying the file and line, and matches
// [ErrInvalid]; all of them are found in one pass and returned joined,
// in file order. [Prepare] checks, in the same pass, the files the job
// reads and the folders it writes into, and the functions its stages
// name where their tasks run, and plans it: what jetmr pipeline does.
//
// [NewPlan] orders the stages into levels, estimates each stage's work
// from its input sizes and a throughput per kind, and finds the critical
// path: the chain of dependent stages with the most estimated work.
//
// [Run] runs a plan on one open broker: a stage starts when every stage it
// depends on has succeeded; stages that are ready at the same time share
// the pipeline's slots, the stage with the most work ahead of it (on the
// critical path) first and with the larger share. As stages finish, the
// throughput they achieved replaces the default estimates. A failed stage
// stops the stages that depend on it; the others run to the end. Run owns
// every goroutine it starts and waits for them before it returns.
//
// Each stage is a job run by package job on the pipeline's broker; the
// pipeline must not reach into a job's streams or records itself.
package pipeline
