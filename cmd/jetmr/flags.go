package main

import (
	"context"
	"errors"
	"fmt"

	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/splitter"
)

// commonFlags are the flags every job command takes.
type commonFlags struct {
	inputs    []string
	output    string
	jobs      string
	chunkSize string
	retries   int
	timeout   time.Duration
	store     string
	natsURL   string
	sync      string
	jobID     string
	report    string
	logLevel  string
	logFormat string
	quiet     bool
}

func (f *commonFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVarP(&f.inputs, "input", "i", nil, "input files or directories (repeatable; directories are walked recursively)")
	fs.StringVarP(&f.jobs, "jobs", "j", "", "tasks run at once: N, N% of cores, or auto (default: number of cores)")
	fs.StringVar(&f.chunkSize, "chunk-size", "", "bytes per task, e.g. 64KiB or 8MiB (default: sized from the input, 256KiB to 8MiB)")
	fs.IntVar(&f.retries, "retries", job.DefaultRetries, "retries of a failed task before it becomes a dead letter")
	fs.DurationVar(&f.timeout, "timeout", 0, "wall-time limit per task attempt, e.g. 30s (default: none)")
	fs.StringVar(&f.store, "store", "", "where the embedded NATS server keeps its data (default: $XDG_STATE_HOME/jetmr)")
	fs.StringVar(&f.natsURL, "nats", "", "URL of an external NATS server with JetStream (default: embedded)")
	fs.StringVar(&f.sync, "sync", broker.SyncInterval, "embedded server fsync policy: always or interval")
	fs.StringVar(&f.jobID, "job", "", "job ID (default: generated)")
	fs.StringVar(&f.report, "report", "", "write the run report as JSON to this file")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "", "log format: json or console (default: console on a terminal)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not print the summary line")
}

// config builds the job configuration shared by every job command.
func (f *commonFlags) config(cmd *cobra.Command, kind string) (job.Config, error) {
	log, err := newLogger(f.logLevel, f.logFormat, cmd.ErrOrStderr())
	if err != nil {
		return job.Config{}, err
	}
	slots, err := parseJobs(f.jobs)
	if err != nil {
		return job.Config{}, err
	}
	var chunk int64
	if f.chunkSize != "" {
		if chunk, err = splitter.ParseSize(f.chunkSize); err != nil {
			return job.Config{}, usageError{"--chunk-size: " + err.Error()}
		}
	}
	if len(f.inputs) == 0 {
		return job.Config{}, usageError{fmt.Sprintf("no input: give files or directories with -i (see jetmr %s --help)", cmd.Name())}
	}
	retries := f.retries
	if retries == 0 {
		retries = -1 // job.Config: negative means no retries
	}
	if f.sync != broker.SyncAlways && f.sync != broker.SyncInterval {
		return job.Config{}, usageError{fmt.Sprintf("--sync %q is not valid: use always or interval", f.sync)}
	}
	return job.Config{
		ID: f.jobID, Kind: kind, Inputs: f.inputs, Output: f.output, Stdout: cmd.OutOrStdout(),
		ChunkSize: chunk, Slots: slots, Retries: retries, Timeout: f.timeout,
		Broker: broker.Config{URL: f.natsURL, StoreDir: f.store, Sync: f.sync, Logger: log},
		Logger: log,
	}, nil
}

// parseJobs reads -j: N, N% of the cores, or auto (the cores).
func parseJobs(s string) (int, error) {
	cores := runtime.NumCPU()
	bad := usageError{fmt.Sprintf("-j %q is not valid: use a number of tasks (4), a share of the cores (50%%) or auto", s)}
	switch {
	case s == "" || s == "auto":
		return cores, nil
	case strings.HasSuffix(s, "%"):
		pct, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || pct <= 0 {
			return 0, bad
		}
		return max(1, int(float64(cores)*pct/100)), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, bad
	}
	return n, nil
}

// runJob runs cfg and prints the summary, dead letters and report.
func (f *commonFlags) runJob(ctx context.Context, cmd *cobra.Command, cfg job.Config) error {
	report, err := job.Run(ctx, cfg)
	if report != nil {
		stderr := cmd.ErrOrStderr()
		if !f.quiet {
			fmt.Fprintln(stderr, report.Summary())
		}
		printDeadLetters(stderr, report.DeadLetters)
		if f.report != "" {
			if werr := report.WriteFile(f.report); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	return err
}

func printDeadLetters(w interface{ Write([]byte) (int, error) }, dead []reducer.DeadLetter) {
	for _, d := range dead {
		where := ""
		if d.Path != "" {
			where = fmt.Sprintf(" (%s bytes %d-%d)", d.Path, d.Offset, d.Offset+d.Length)
		}
		fmt.Fprintf(w, "jetmr: dead letter: task %d%s after %d attempt(s): %s\n", d.Index, where, d.Attempts, d.Error.Message)
		if tail := strings.TrimSpace(d.Error.StderrTail); tail != "" {
			for _, line := range strings.Split(tail, "\n") {
				fmt.Fprintf(w, "jetmr:   stderr: %s\n", line)
			}
		}
	}
}

// inputsAndCommand splits positional arguments at "--": before it, more
// inputs; after it, the command.
func inputsAndCommand(cmd *cobra.Command, args []string) (inputs, argv []string) {
	dash := cmd.ArgsLenAtDash()
	if dash < 0 {
		return args, nil
	}
	return args[:dash], args[dash:]
}
