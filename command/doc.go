// Package command runs the user's commands for jetmr: argv only, never
// through a shell; each in its own process group so that a timeout or a
// cancellation kills the command and every child it started; failures
// described as a *schema.TaskError with the exit status, the signal and the
// tail of stderr.
package command
