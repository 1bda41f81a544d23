package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

func newStatusCommand() *cobra.Command {
	var (
		nats  natsFlags
		store string
	)
	cmd := &cobra.Command{
		Use:   "status [JOB] [--nats URL]",
		Short: "List jobs, their progress, dead letters and the workers seen",
		Long: `status lists the jobs a NATS server (or, without --nats, the embedded
store) knows: kind, state, tasks done of the total, dead letters, when they
started, and the workers alive now with their last heartbeat. With JOB it
shows that job in detail, with its dead letters.

Exit codes: 2 for an unknown JOB, 3 when NATS cannot be reached (or the
embedded store is in use by a running job: ask that job's server instead).`,
		Example: `  jetmr status --nats nats://127.0.0.1:4222
  jetmr status 3fo8k2 --nats nats://127.0.0.1:4222`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("status takes at most one JOB")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			bc := nats.brokerConfig(zerolog.Nop())
			bc.StoreDir, bc.Name = store, "jetmr status"
			b, err := broker.Open(ctx, bc)
			if err != nil {
				return err
			}
			defer b.Close()
			workers, err := job.Workers(ctx, b)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				st, err := job.JobStatus(ctx, b, args[0])
				if err != nil {
					return err
				}
				printJob(out, st, workers)
				return nil
			}
			jobs, err := job.Jobs(ctx, b)
			if err != nil {
				return err
			}
			printJobs(out, jobs)
			printWorkers(out, workers)
			return nil
		},
	}
	nats.register(cmd.Flags())
	cmd.Flags().StringVar(&store, "store", "", "without --nats: the embedded store (default: $XDG_STATE_HOME/jetmr)")
	return cmd
}

func printJobs(out io.Writer, jobs []job.Status) {
	if len(jobs) == 0 {
		fmt.Fprintln(out, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATE\tTASKS\tDEAD\tSTARTED")
	for _, st := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", st.Record.ID, st.Record.Kind, st.Record.State,
			taskProgress(st), st.Dead+st.Malformed, started(st.Record))
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

func printJob(out io.Writer, st job.Status, workers []schema.WorkerStatus) {
	r := st.Record
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job:\t%s\n", r.ID)
	fmt.Fprintf(tw, "kind:\t%s\n", r.Kind)
	fmt.Fprintf(tw, "state:\t%s\n", r.State)
	fmt.Fprintf(tw, "started:\t%s\n", started(r))
	if len(r.Inputs) > 0 {
		fmt.Fprintf(tw, "inputs:\t%s\n", strings.Join(r.Inputs, " "))
	}
	if r.Output != "" {
		fmt.Fprintf(tw, "output:\t%s\n", r.Output)
	}
	switch {
	case len(r.Command) > 0:
		fmt.Fprintf(tw, "command:\t%s\n", strings.Join(r.Command, " "))
	case r.Kind.Traits().Keyed:
		fmt.Fprintf(tw, "map:\t%s\n", r.Map+strings.Join(r.MapCommand, " "))
		fmt.Fprintf(tw, "reduce:\t%s\n", r.Reduce+strings.Join(r.ReduceCommand, " "))
	}
	fmt.Fprintf(tw, "tasks:\t%s done, %d queued, %d running\n", taskProgress(st), st.Queued-min(st.InFlight, st.Queued), st.InFlight)
	fmt.Fprintf(tw, "dead letters:\t%d\n", st.Dead+st.Malformed)
	var running, refusing []string
	for _, w := range workers {
		for _, id := range w.Jobs {
			if id == r.ID {
				running = append(running, fmt.Sprintf("%s (%d slots, seen %s ago)", w.Name, w.Slots, time.Since(time.Unix(0, w.Seen)).Round(time.Second)))
			}
		}
		if why, ok := w.Refused[r.ID]; ok {
			refusing = append(refusing, w.Name+": "+why)
		}
	}
	fmt.Fprintf(tw, "workers:\t%s\n", orDash(strings.Join(running, ", ")))
	for _, why := range refusing {
		fmt.Fprintf(tw, "refused by:\t%s\n", why)
	}
	tw.Flush()
	printDeadLetters(out, st.DeadLetters)
	if st.Malformed > 0 {
		fmt.Fprintf(out, "jetmr: dead letter: %d malformed task message(s)\n", st.Malformed)
	}
}

func taskProgress(st job.Status) string {
	if st.Record.Tasks > 0 {
		return fmt.Sprintf("%d/%d", min(st.Done, st.Record.Tasks), st.Record.Tasks)
	}
	return fmt.Sprintf("%d/%d+", st.Done, st.Published) // still splitting
}

func started(r schema.JobRecord) string {
	t := time.Unix(0, r.Created)
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.DateTime), time.Since(t).Round(time.Second))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
