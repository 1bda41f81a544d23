package main

import (
	"context"
	"errors"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/objstore"
)

// Exit codes, as documented in README.md.
const (
	exitOK          = 0
	exitTasksFailed = 1
	exitBadInput    = 2
	exitBroker      = 3
	exitInterrupted = 130
)

// usageErr is command-line misuse found by the CLI itself: bad input like
// the library's, which names the flag in its message.
func usageErr(format string, args ...any) error { return errs.BadInput("", format, args...) }

// interruptedError reports a job stopped by SIGINT or SIGTERM.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

// exitCode maps an error to the documented exit code: the one place
// where the CLI decides it, by errors.As and errors.Is.
func exitCode(err error) int {
	var interrupted interruptedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &interrupted):
		return exitInterrupted
	case errors.Is(err, errs.ErrBadInput), errors.Is(err, broker.ErrConfig):
		return exitBadInput
	case errors.Is(err, job.ErrTasksFailed):
		return exitTasksFailed
	case errors.Is(err, broker.ErrUnreachable), errors.Is(err, broker.ErrStoreBusy), errors.Is(err, objstore.ErrUnavailable):
		return exitBroker
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	if isUnknownCommand(err) {
		return exitBadInput
	}
	return exitTasksFailed
}

// isUnknownCommand recognises cobra's error for "jetmr NOSUCHCOMMAND",
// the one misuse that reaches no command of ours to wrap it (flags and
// arguments are wrapped in root.go).
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// flagNames translates the settings that library errors name
// ("Config.ChunkSize") into the flags that set them: the one table from
// job.Config to the command line.
var flagNames = map[string]string{
	"Config.ID":              "--job",
	"Config.Resume":          "--resume",
	"Config.RetryFailed":     "--retry-failed",
	"Config.Partitions":      "--partitions",
	"Config.Combiner":        "--combiner",
	"Config.KeyFields":       "--key-fields",
	"Config.PartitionFields": "--partition-fields",
	"Config.KeyOrder":        "--key-order",
	"Config.ReduceOnWorkers": "--reduce-on-workers",
	"Config.Memory":          "--memory",
	"Config.ChunkSize":       "--chunk-size",
	"Config.TaskTime":        "--task-time",
	"Config.Timeout":         "--timeout",
	"Config.Transport":       "--transport",
	"Config.DataListen":      "--data-listen",
	"Config.LocalWorkers":    "--local-workers",
	"Config.Broker.URL":      "--nats",
	"Config.Join":            "--join",
	"Config.Shell":           "--shell",
	"Config.Output":          "-o",
	"Config.Broker.StoreDir": "--store",
	"Config.SkipBadRecords":  "--skip-bad-records",
	"Config.Rejects":         "--rejects",
	"Migration.MaxRate":      "--max-rate",
	"Config.Speculative":     "--speculative",
	"Config.Idempotent":      "--idempotent",
}

// message is what the user reads: the error's text, with the settings it
// names translated to their flags and without the sentinel prefixes that
// mean something to the exit code but nothing to the user.
func message(err error) string {
	msg := errs.Translate(err.Error(), flagNames)
	for _, prefix := range []string{broker.ErrUnreachable.Error() + ": ", broker.ErrConfig.Error() + ": ", objstore.ErrUnavailable.Error() + ": ", objstore.ErrChanged.Error() + ": "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	return msg
}
