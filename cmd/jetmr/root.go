package main

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/errs"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "jetmr",
		Short: "Run large parallel jobs as chunks on NATS JetStream",
		Long: `jetmr splits large inputs into chunks on NATS JetStream, runs them on
bounded-concurrency mappers and merges the results exactly once.
It runs an embedded NATS server by default; --nats joins a real cluster.

Exit codes: 0 all tasks succeeded; 1 some tasks failed; 2 bad usage or
input (nothing started); 3 NATS or the store unreachable; 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%w (see jetmr %s --help)", err, cmd.Name())
	})
	root.AddCommand(newPipeCommand(), newMapReduceCommand(), newEachCommand(), newMigrateCommand(), newPipelineCommand(), newReportCommand())
	root.AddCommand(newServerCommand(), newWorkerCommand(), newStatusCommand())
	// Wrong arguments to a command are bad usage, exit 2, like bad flags.
	for _, c := range root.Commands() {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				err := check(cmd, args)
				if err == nil || errors.Is(err, errs.ErrBadInput) {
					return err
				}
				return usageErr("%w (see jetmr %s --help)", err, cmd.Name())
			}
		}
	}
	return root
}

// newLogger builds the zerolog logger the flags ask for: console output
// when stderr is a terminal, JSON otherwise, warnings and errors only by
// default.
func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usageErr("--log-level %q is not valid: use trace, debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Logger{}, usageErr("--log-format %q is not valid: use json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
