package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

func newStatusCommand() *cobra.Command {
	var (
		nats    natsFlags
		store   string
		asJSON  bool
		jobArgs = func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("status takes at most one JOB")
			}
			return nil
		}
	)
	cmd := &cobra.Command{
		Use:   "status [JOB] [--json] [--store DIR | --nats URL]",
		Short: "List jobs, their progress, dead letters and disk used, and the workers seen",
		Long: `status lists the jobs of this machine's embedded stores (every job store
under the default root, or the --store given) or of a NATS server (--nats):
state (running, done, failed or stopped), tasks done and failed of the
total, dead letters, tasks in flight, bytes in and out as the run report
counts them, disk used, and when they started; with --nats also the workers
alive now. A job whose process died is stopped. With JOB it shows that job
in detail, with its failed tasks. --json prints the same figures as JSON.

A running job's figures come from the snapshot its process records every
second; a stopped job's are counted from its streams.

Exit codes: 2 for an unknown JOB or a --store that holds no store, 3 when
NATS cannot be reached.`,
		Example: `  jetmr status
  jetmr status 3fo8k2 --json
  jetmr status --nats nats://127.0.0.1:4222`,
		Args: jobArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			bc := nats.brokerConfig(zerolog.Nop())
			bc.StoreDir, bc.Name = store, "jetmr status"
			if bc.URL != "" && store != "" {
				return usageErr("status reads --nats or --store, not both")
			}
			jobs, workers, err := statusOf(ctx, bc, args)
			out := cmd.OutOrStdout()
			if errors.Is(err, job.ErrUnknownJob) {
				// A pipeline ID names no job: its stages are jobs ID-STAGE
				// in the pipeline's own store, or in the store given.
				if stages := pipelineStages(ctx, bc, args[0]); len(stages) > 0 {
					if asJSON {
						return printJSON(out, struct {
							Pipeline string       `json:"pipeline"`
							Jobs     []job.Status `json:"jobs"`
						}{args[0], stages})
					}
					where := discardFlags(bc)
					if where == "-" {
						where = " --nats URL"
					}
					fmt.Fprintf(out, "pipeline %s: %d stage job(s); jetmr status %s-STAGE%s shows one\n", args[0], len(stages), args[0], where)
					printJobs(out, stages)
					return nil
				}
			}
			if err != nil {
				if len(args) == 1 {
					return unknownJobHint(err, bc, args[0])
				}
				return err
			}
			switch {
			case asJSON && len(args) == 1:
				return printJSON(out, jobs[0])
			case asJSON:
				return printJSON(out, struct {
					Jobs    []job.Status          `json:"jobs"`
					Workers []schema.WorkerStatus `json:"workers,omitempty"`
				}{jobs, workers})
			case len(args) == 1:
				printJob(out, jobs[0], workers, discardFlags(bc))
			default:
				printJobs(out, jobs)
				if bc.URL != "" {
					printWorkers(out, workers)
				}
			}
			return nil
		},
	}
	nats.register(cmd.Flags())
	cmd.Flags().StringVar(&store, "store", "", "read this embedded store only (default: every job store under $XDG_STATE_HOME/jetmr)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}

// pipelineStages lists the stage jobs of pipeline id from the store or
// server bc names, or from the pipeline's own store under the default
// root; none when id names no pipeline there.
func pipelineStages(ctx context.Context, bc broker.Config, id string) []job.Status {
	if bc.URL != "" || bc.StoreDir != "" {
		jobs, _, err := statusOf(ctx, bc, nil)
		if err != nil {
			return nil
		}
		return slices.DeleteFunc(jobs, func(st job.Status) bool { return pipelineOf(st) != id })
	}
	dir, err := broker.DefaultJobStoreDir(id)
	if err != nil {
		return nil
	}
	if info, err := broker.InspectStore(dir); err != nil || !info.Exists {
		return nil
	}
	bc.StoreDir = dir
	jobs, err := job.LocalJobs(ctx, bc)
	if err != nil {
		return nil
	}
	var stages []job.Status
	for _, st := range jobs {
		if strings.HasPrefix(st.ID, id+"-") {
			stages = append(stages, st)
		}
	}
	return stages
}

// statusOf reads the jobs (one job with args) and, with --nats, the
// workers.
func statusOf(ctx context.Context, bc broker.Config, args []string) ([]job.Status, []schema.WorkerStatus, error) {
	if bc.URL == "" {
		if len(args) == 1 {
			st, err := job.LocalJobStatus(ctx, bc, args[0])
			return []job.Status{st}, nil, err
		}
		jobs, err := job.LocalJobs(ctx, bc)
		return jobs, nil, err
	}
	b, err := broker.Open(ctx, bc)
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	workers, err := job.Workers(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	if len(args) == 1 {
		st, err := job.JobStatus(ctx, b, args[0])
		return []job.Status{st}, workers, err
	}
	jobs, err := job.Jobs(ctx, b)
	return jobs, workers, err
}

func printJSON(out io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the status: %w", err)
	}
	_, err = fmt.Fprintf(out, "%s\n", data)
	return err
}

func printJobs(out io.Writer, jobs []job.Status) {
	if len(jobs) == 0 {
		fmt.Fprintln(out, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATE\tDONE/TOTAL\tFAILED\tDEAD\tIN FLIGHT\tIN\tOUT\tDISK\tSTARTED")
	for _, st := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", st.ID, orDash(st.Kind), state(st), taskProgress(st),
			st.TasksFailed, st.DeadLetters, st.InFlight, size(st.BytesIn), size(st.BytesOut), size(st.DiskBytes), started(st))
	}
	tw.Flush()
}

func printWorkers(out io.Writer, workers []schema.WorkerStatus) {
	fmt.Fprintln(out)
	if len(workers) == 0 {
		fmt.Fprintln(out, "no workers alive")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tSLOTS\tJOBS\tREFUSED\tLAST HEARTBEAT")
	for _, w := range workers {
		refused := make([]string, 0, len(w.Refused))
		for id := range w.Refused {
			refused = append(refused, id)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s ago\n", w.Name, w.Slots, orDash(strings.Join(w.Jobs, ",")),
			orDash(strings.Join(refused, ",")), time.Since(time.Unix(0, w.Seen)).Round(time.Second))
	}
	tw.Flush()
}

func printJob(out io.Writer, st job.Status, workers []schema.WorkerStatus, where string) {
	r := st.Record
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job:\t%s\n", st.ID)
	fmt.Fprintf(tw, "kind:\t%s\n", st.Kind)
	fmt.Fprintf(tw, "state:\t%s\n", state(st))
	fmt.Fprintf(tw, "started:\t%s\n", started(st))
	if len(r.Inputs) > 0 {
		fmt.Fprintf(tw, "inputs:\t%s\n", strings.Join(r.Inputs, " "))
	}
	if r.MigrationRun != "" {
		fmt.Fprintf(tw, "progress rows:\tjetmr_batches, job %s, run %s\n", r.ID, r.MigrationRun)
	}
	if st.Output != "" {
		fmt.Fprintf(tw, "output:\t%s\n", st.Output)
	}
	if st.Staged != "" {
		fmt.Fprintf(tw, "staged:\t%s (not uploaded yet)\n", st.Staged)
	}
	switch {
	case len(r.Command) > 0:
		fmt.Fprintf(tw, "command:\t%s\n", shellWords(r.Command))
	case r.Kind.Traits().Keyed:
		fmt.Fprintf(tw, "map:\t%s\n", r.Map+shellWords(r.MapCommand))
		fmt.Fprintf(tw, "reduce:\t%s\n", r.Reduce+shellWords(r.ReduceCommand))
	}
	fmt.Fprintf(tw, "tasks:\t%s done, %d failed, %d in flight\n", taskProgress(st), st.TasksFailed, st.InFlight)
	if st.BackupsRun > 0 {
		fmt.Fprintf(tw, "backups:\t%d run for slow tasks, %d finished first\n", st.BackupsRun, st.BackupsWon)
	}
	fmt.Fprintf(tw, "dead letters:\t%d\n", st.DeadLetters)
	if st.SkippedRecords > 0 {
		fmt.Fprintf(tw, "skipped records:\t%d of --skip-bad-records %d\n", st.SkippedRecords, r.SkipBad)
	}
	// A resumed run reads only the tasks left, so these are its figures,
	// not the job's.
	fmt.Fprintf(tw, "bytes:\t%s in, %s out (last run)\n", size(st.BytesIn), size(st.BytesOut))
	if len(st.Counters) > 0 {
		fmt.Fprintf(tw, "counters:\t%s\n", report.FormatCounters(st.Counters))
	}
	if st.Message != "" {
		fmt.Fprintf(tw, "status:\t%s\n", st.Message)
	}
	fmt.Fprintf(tw, "disk used:\t%s\n", size(st.DiskBytes))
	if st.Store != "" {
		fmt.Fprintf(tw, "store:\t%s\n", st.Store)
	}
	var running, refusing []string
	for _, w := range workers {
		for _, id := range w.Jobs {
			if id == st.ID {
				running = append(running, fmt.Sprintf("%s (%d slots, seen %s ago)", w.Name, w.Slots, time.Since(time.Unix(0, w.Seen)).Round(time.Second)))
			}
		}
		if why, ok := w.Refused[st.ID]; ok {
			refusing = append(refusing, w.Name+": "+why)
		}
	}
	switch {
	case r.LocalOnly:
		// jetmr workers leave it (older ones refuse it): only the
		// submitter's own workers, which have no heartbeat, run it.
		fmt.Fprintf(tw, "workers:\tnone: its tasks run in the process that submitted it only\n")
	case len(workers) > 0:
		fmt.Fprintf(tw, "workers:\t%s\n", orDash(strings.Join(running, ", ")))
	}
	for _, why := range refusing {
		fmt.Fprintf(tw, "refused by:\t%s\n", why)
	}
	tw.Flush()
	printDeadLetters(out, st.Failed)
	for _, rec := range st.Skipped {
		fmt.Fprintf(out, "jetmr: skipped record: %s\n", rec.Describe())
	}
	if st.Malformed > 0 {
		fmt.Fprintf(out, "jetmr: dead letter: %d malformed message(s)\n", st.Malformed)
	}
	if hint := nextStep(st, where); hint != "" {
		fmt.Fprintln(out, hint)
	}
}

// nextStep says what to do with a job that did not complete; where are
// the flags naming its store, or "-" when they cannot be printed.
func nextStep(st job.Status, where string) string {
	why := recordUnresumable(st.Record)
	switch {
	case st.State != schema.StateFailed && st.State != schema.StateStopped:
		return ""
	case st.UploadPending:
		return fmt.Sprintf("jetmr: job %s completed, but its output was not uploaded; it is kept in %s: upload it: run the job's command again with --job %s --resume added (it runs nothing again and reads no input: give it </dev/null for standard input)",
			st.ID, st.Record.Output, st.ID)
	case inputChanged(st.Failed):
		hint := fmt.Sprintf("jetmr: job %s cannot be resumed: its input changed while it ran (its finished tasks read the earlier version): run the job's command again without --resume", st.ID)
		if where == "-" {
			return hint + ", once the job is dropped with jetmr discard"
		}
		return fmt.Sprintf("%s, once the job is dropped with:\n  jetmr discard %s%s", hint, st.ID, where)
	case why != "" && where == "-":
		return fmt.Sprintf("jetmr: job %s %s, so it cannot be resumed", st.ID, why)
	case why != "":
		return fmt.Sprintf("jetmr: job %s %s, so it cannot be resumed; drop it with:\n  jetmr discard %s%s", st.ID, why, st.ID, where)
	}
	// The record does not keep the command line the job was started
	// with, so the hint names the flags to add to it.
	flags, once := "--resume", ""
	if st.DeadLetters > 0 || len(st.Failed) > 0 || len(st.OverLimit) > 0 {
		// Plain --resume would find the same dead letters and fail again.
		flags, once = "--resume --retry-failed", " (once its failed tasks are fixed)"
	}
	if need := skipFound(st); need > 0 {
		// The refused tasks fail again under the same limit.
		flags, once = fmt.Sprintf("--resume --retry-failed --skip-bad-records %d", need),
			fmt.Sprintf(" (the %d bad record(s) found so far; or once its failed tasks are fixed)", need)
	}
	if p := pipelineOf(st); p != "" {
		// A stage is resumed with its pipeline, which skips the stages
		// done; discarding the pipeline drops every stage of it.
		hint := fmt.Sprintf("jetmr: job %s is stage %s of pipeline %s: continue the pipeline: run its jetmr pipeline command again with --job %s %s added%s",
			st.ID, strings.TrimPrefix(st.ID, p+"-"), p, p, flags, once)
		if where == "-" {
			return hint
		}
		return fmt.Sprintf("%s, or drop it with:\n  jetmr discard %s%s", hint, p, where)
	}
	hint := fmt.Sprintf("jetmr: continue it: run the job's command again with --job %s %s added%s", st.ID, flags, once)
	if where == "-" {
		return hint
	}
	return fmt.Sprintf("%s, or drop it with:\n  jetmr discard %s%s", hint, st.ID, where)
}

// skipFound counts the bad records the job found, skipped or in the tasks
// refused for holding more than its --skip-bad-records; 0 when no task was
// refused so.
func skipFound(st job.Status) int { return badRecordsFound(st.Failed, int(st.SkippedRecords)) }

// pipelineOf is the pipeline whose stage job st is, as its record says
// or, for a stage recorded before records said it, when it ran in that
// pipeline's own store under the default root (jobs/PIPELINE, holding jobs
// PIPELINE-STAGE); "" for other jobs.
func pipelineOf(st job.Status) string {
	if st.Record.Pipeline != "" {
		return st.Record.Pipeline
	}
	if st.Store == "" || filepath.Base(filepath.Dir(st.Store)) != broker.JobsDir {
		return ""
	}
	p := filepath.Base(st.Store)
	if !strings.HasPrefix(st.ID, p+"-") {
		return ""
	}
	if def, err := broker.DefaultJobStoreDir(p); err != nil || def != st.Store {
		return ""
	}
	return p
}

// recordUnresumable says why a job recorded as r cannot be resumed, or ""
// when it can: what it read or wrote cannot be read or written again.
func recordUnresumable(r schema.JobRecord) string {
	switch {
	case slices.Contains(r.Inputs, splitter.Stdin):
		return "read standard input, which cannot be read again"
	case r.Kind.Traits().Ordered && r.Output == "":
		return "wrote to stdout"
	}
	return ""
}

// shellWords is argv quoted as a shell would read it back.
func shellWords(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shellQuote(a)
	}
	return strings.Join(words, " ")
}

// discardFlags are the flags that make jetmr discard look where bc looks:
// none for the default store, --store DIR, or --nats URL with the files
// that hold the credentials; "-" when the URL itself holds a secret, which
// is never printed.
func discardFlags(bc broker.Config) string {
	switch {
	case bc.URL != "" && strings.Contains(bc.URL, "@"):
		return "-"
	case bc.URL != "":
		flags := " --nats " + shellQuote(bc.URL)
		for _, f := range [][2]string{{"--token-file", bc.TokenFile}, {"--creds", bc.Creds}, {"--tls-ca", bc.TLSCA}} {
			if f[1] != "" {
				flags += " " + f[0] + " " + shellQuote(f[1])
			}
		}
		return flags
	case bc.StoreDir != "":
		return " --store " + shellQuote(bc.StoreDir)
	}
	return ""
}

func state(st job.Status) string {
	switch {
	case st.State != schema.StateRunning || st.PID == 0:
		return st.State
	case st.Store == "" && st.Host != "": // on a NATS server: the submitter may be elsewhere
		return fmt.Sprintf("running (pid %d on %s)", st.PID, st.Host)
	}
	return fmt.Sprintf("running (pid %d)", st.PID)
}

func taskProgress(st job.Status) string {
	if st.Splitting {
		return fmt.Sprintf("%d/%d+", st.TasksDone, st.TasksTotal)
	}
	return fmt.Sprintf("%d/%d", st.TasksDone, st.TasksTotal)
}

func size(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

func started(st job.Status) string {
	if st.Started.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s ago)", st.Started.Format(time.DateTime), time.Since(st.Started).Round(time.Second))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
