package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/pipeline"
)

// pipelineFlags are the flags of jetmr pipeline: those of the job
// commands that apply to a whole pipeline, and --dry-run.
type pipelineFlags struct {
	commonFlags
	dryRun bool
}

// pipelineShared are the job commands' flags jetmr pipeline takes too.
var pipelineShared = []string{
	"jobs", "store", "nats", "token-file", "creds", "tls-ca", "replicas", "local-workers", "transport", "data-listen", "sync", "job", "resume", "retry-failed", "force", "report", "log-level", "log-format", "quiet",
	"progress", "metrics", "joblog", "trace",
}

// register adds the shared flags, bound to f.commonFlags as the job
// commands bind them, with the pipeline's meaning where it differs.
func (f *pipelineFlags) register(cmd *cobra.Command) {
	var all cobra.Command
	f.commonFlags.register(&all)
	for _, name := range pipelineShared {
		cmd.Flags().AddFlag(all.Flags().Lookup(name))
	}
	fs := cmd.Flags()
	fs.Lookup("jobs").Usage = "tasks run at once by the whole pipeline, shared by its running stages: N, N% of the cores, or auto; a jobs: field in the job file replaces the default"
	fs.Lookup("job").Usage = "pipeline ID; stage NAME runs as job ID-NAME (default: generated and printed)"
	fs.Lookup("resume").Usage = "continue the pipeline named by --job: skip the stages that are done, resume the others"
	fs.Lookup("retry-failed").Usage = "with --resume: run the dead letters of failed stages again"
	fs.Lookup("force").Usage = "replace the outputs of stages that exist (each when its stage completes); without it the pipeline is refused before any stage runs"
	fs.Lookup("report").Usage = "write the run report as JSON to this file (stages, critical path, every stage's report)"
	fs.Lookup("quiet").Usage = "do not print the pipeline ID, the stages and the summary"
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan (levels, estimates, critical path) and run nothing")
}

func newPipelineCommand() *cobra.Command {
	var f pipelineFlags
	cmd := &cobra.Command{
		Use:   "pipeline [flags] JOB.yaml",
		Short: "Run a job file of stages (pipe, mapreduce, each, migrate) in dependency order",
		Long: `pipeline runs the stages of a job file. Each stage is one of pipe,
mapreduce, each or migrate, with the options of that command's flags
(input, output, command, map, reduce, partitions, chunk_size, jobs,
retries, timeout, io, halt, memfree; db, table, key, sql, where for
migrate). A stage starts when every stage in its depends_on has
succeeded; an input "stage:NAME" reads stage NAME's output and depends
on it. Paths are relative to the current directory.

The whole file is checked before anything runs: unknown fields, missing
fields, bad values, unknown or duplicate stage names, dependency cycles,
missing inputs and map, reduce or combiner names that resolve to nothing
are refused with the file and line, every problem at once (exit 2).

Stages ready at the same time run at once and share the -j slots; the
stage with the most estimated work ahead of it (on the critical path)
starts first and gets the larger share. Estimates come from input sizes
and the throughput of the stages finished so far. --dry-run prints the
plan: levels, estimates and the critical path.

A failed stage stops the stages that depend on it; the others run to the
end (exit 1; exit 2 when the stage's job was refused as bad input once it
started, such as a map function no worker has). Stage NAME runs as job
ID-NAME; --resume --job ID skips the stages that are done and resumes the
others.`,
		Example: `  jetmr pipeline --dry-run build.yaml
  jetmr pipeline -j 8 --report run.json build.yaml
  jetmr pipeline --job nightly --resume build.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("pipeline needs one job file, e.g. jetmr pipeline build.yaml (see jetmr pipeline --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, args[0]) },
	}
	f.register(cmd)
	return cmd
}

func (f *pipelineFlags) run(cmd *cobra.Command, path string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	local, err := f.localWorkers(cmd)
	if err != nil {
		return err
	}
	// Every problem of the file, and of the functions its stages name
	// where their tasks run, is refused at once, on a dry run too.
	plan, err := pipeline.Prepare(path, pipeline.Options{
		BrokerConfig: broker.Config{URL: f.nats.url}, LocalWorkers: local, Transport: f.transport, DataListen: f.dataAddr,
	})
	if err != nil {
		return err
	}
	file := plan.File
	if f.dryRun {
		return plan.WriteText(stdout)
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	stderr = stderrLines(stderr, f.logFormat, log)
	spec := f.jobs
	if !cmd.Flags().Changed("jobs") && file.Jobs != "" {
		spec = file.Jobs
	}
	slots, why, err := job.Slots(spec, job.SlotOptions{Command: true})
	if err != nil {
		return err
	}
	log.Info().Int("slots", slots).Str("why", why).Msg("concurrency")
	if f.sync != broker.SyncAlways && f.sync != broker.SyncInterval {
		return usageErr("--sync %q is not valid: use always or interval", f.sync)
	}
	switch {
	case f.resume && f.jobID == "":
		return usageErr("--resume needs --job ID: the pipeline ID printed when it started")
	case f.retryFail && !f.resume:
		return usageErr("--retry-failed reruns the dead letters of an earlier run: add --resume --job ID")
	case f.jobID == "":
		f.jobID = job.NewID()
	}
	if err := checkFilePath("--report", f.report); err != nil {
		return err
	}
	ctx := cmd.Context()
	w, err := f.watch.start(ctx, cmd)
	if err != nil {
		return err
	}
	if err := replicasFlag(f.replicas, f.nats.url); err != nil {
		return errors.Join(err, w.close())
	}
	given := f.brokerConfig(log)
	bcfg, err := job.OwnStore(given, f.jobID, f.resume)
	if err != nil {
		return errors.Join(err, w.close())
	}
	b, err := broker.Open(ctx, bcfg)
	if err != nil {
		return errors.Join(err, w.close())
	}
	defer b.Close()
	// The pipeline ID is printed once a stage starts or is found done,
	// not before a refusal.
	announce := sync.OnceFunc(func() {
		if !f.quiet {
			fmt.Fprintf(stderr, "jetmr: pipeline %s\n", f.jobID)
		}
	})
	opts := pipeline.Options{
		ID: f.jobID, Broker: b, BrokerConfig: bcfg, Slots: slots, Resume: f.resume, RetryFailed: f.retryFail, Force: f.force,
		LocalWorkers: local, Transport: f.transport, DataListen: f.dataAddr,
		Stdout: stdout, Observer: w.observer, Logger: log,
	}
	if !f.quiet {
		opts.StageStarted = func(s *pipeline.StagePlan, id string, slots int) {
			announce()
			fmt.Fprintf(stderr, "jetmr: stage %s started: job %s on %d slot(s)\n", s.Name, id, slots)
		}
		opts.StageEnded = func(r pipeline.StageReport) {
			announce()
			fmt.Fprintf(stderr, "jetmr: stage %s %s in %.2fs\n", r.Name, r.State, r.Seconds)
			if r.Report != nil {
				for _, line := range r.Report.Warnings() {
					fmt.Fprintln(stderr, line)
				}
				printDeadLetters(stderr, r.Report.DeadLetters)
			}
		}
	}
	openErr := w.open(stderr)
	report, err := pipeline.Run(ctx, plan, opts)
	err = errors.Join(err, openErr, w.close())
	if report != nil {
		err = errors.Join(err, f.finish(stderr, report, w))
	}
	if errors.Is(err, context.Canceled) {
		cmd, note := resumeHint(f.jobID, "")
		return interruptedError{fmt.Sprintf("interrupted: pipeline %s stopped; continue it with:\n  %s%s", f.jobID, cmd, note)}
	}
	if errors.Is(err, job.ErrBadInput) && !errors.Is(err, job.ErrTasksFailed) && keptStages(report) {
		// A stage refused once it ran left nothing, but the stages done
		// before it keep their work for --resume, which runs it afresh.
		cmd, note := resumeHint(f.jobID, "")
		err = fmt.Errorf("%w\ncontinue it, once fixed, with:\n  %s%s", err, cmd, note)
	}
	if errors.Is(err, job.ErrTasksFailed) {
		cmd, note := resumeHint(f.jobID, "--retry-failed")
		err = fmt.Errorf("%w\nrun the failed tasks again, once fixed, with:\n  %s%s", err, cmd, note)
		if where := discardFlags(given); where != "-" {
			// Discarding the pipeline drops its stages, and what they
			// staged, from the store this run used: its own under the
			// default root, or the --store or --nats given.
			fmt.Fprintf(stderr, "jetmr: pipeline %s keeps its stages' state and staged outputs for --resume; drop them with:\n  jetmr discard %s%s\n", f.jobID, f.jobID, where)
		}
	}
	return err
}

// keptStages reports whether a pipeline run left stages done for --resume
// to skip.
func keptStages(r *pipeline.Report) bool {
	if r == nil {
		return false
	}
	for _, s := range r.Stages {
		if s.State == pipeline.StateDone || s.State == pipeline.StateAlreadyDone {
			return true
		}
	}
	return false
}

// finish prints the stages and writes --report.
func (f *pipelineFlags) finish(stderr io.Writer, report *pipeline.Report, w *watch) error {
	if !f.quiet {
		if err := report.WriteText(stderr); err != nil {
			return err
		}
	}
	if f.report == "" {
		return nil
	}
	attempts := w.recorder.Attempts()
	return writeJSON(f.report, runFile{
		Report: report.Summary(attempts), Attempts: attempts, DroppedAttempts: w.recorder.Dropped(),
		Stages: report.ObserveStages(), Pipeline: report,
	})
}
