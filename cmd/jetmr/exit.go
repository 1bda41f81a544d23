package main

import (
	"context"
	"errors"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
)

// Exit codes, as documented in README.md.
const (
	exitOK          = 0
	exitTasksFailed = 1
	exitBadInput    = 2
	exitBroker      = 3
	exitInterrupted = 130
)

// usageError marks command-line misuse found by the CLI itself.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// interruptedError reports a job stopped by SIGINT or SIGTERM.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

func exitCode(err error) int {
	var (
		usage       usageError
		interrupted interruptedError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &interrupted):
		return exitInterrupted
	case errors.As(err, &usage), errors.Is(err, job.ErrBadInput), errors.Is(err, broker.ErrConfig):
		return exitBadInput
	case errors.Is(err, job.ErrTasksFailed):
		return exitTasksFailed
	case errors.Is(err, broker.ErrUnreachable), errors.Is(err, broker.ErrStoreBusy):
		return exitBroker
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	if isFlagError(err) {
		return exitBadInput
	}
	return exitTasksFailed
}

// isFlagError recognises cobra's and pflag's parse errors, which are plain
// errors.
func isFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "unknown command", "accepts ", "requires "} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// message strips the sentinel prefixes that mean something to the exit
// code but nothing to the user.
func message(err error) string {
	msg := err.Error()
	for _, prefix := range []string{job.ErrBadInput.Error() + ": ", broker.ErrUnreachable.Error() + ": ", broker.ErrConfig.Error() + ": "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	return msg
}
