// Package command runs the user's commands for jetmr: argv only, never
// through a shell; each in its own process group so that a timeout or a
// cancellation kills the command and every child it started; failures
// described as a *schema.TaskError with the exit status, the signal and the
// tail of stderr.
//
// [Template] fills an each job's placeholders ({}, {.}, {/}, {//}, {/.},
// {#}) into whole arguments, never shell text; [Template.ShellScript] and
// [ShellArgv] make the --shell form, which passes the item to sh as a
// positional parameter. [RunCombined] runs a command with its stdout and
// stderr on one pipe, for an item's output group.
//
// A stdin given as [Bytes] (a chunk held in memory) is written into the
// command's stdin pipe, grown to hold it where the system allows, before
// the command starts; any other reader is copied as the command reads.
//
// [Run] and [RunCombined] block until the command and every process of its
// group has ended; the goroutines that copy its input and output are
// theirs and end with them. Nothing else in jetmr starts a user's process: every command
// (pipe, map, reduce, each item, join) runs through this package. It must
// not know about jobs, tasks or the broker.
package command
