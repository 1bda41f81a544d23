package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
)

// workerHeapFloor is the heap a worker lets its garbage collector reach
// before it collects. A worker's live heap is a chunk or two and their
// tables; with GOGC=100 alone it collected every task or two, and spent
// as much CPU on it as a job's shipping costs (docs/performance.md).
const workerHeapFloor = 64 << 20

func newWorkerCommand() *cobra.Command {
	var (
		nats                natsFlags
		jobID, jobs, spill  string
		drain, ackWait      time.Duration
		logLevel, logFormat string
	)
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--job ID] [-j N] [--spill DIR]",
		Short: "Run the tasks of jobs submitted to a NATS server, with the built-in functions",
		Long: `worker joins a NATS server with JetStream (jetmr server, or any
nats-server -js) and runs the tasks of every running job (or of --job ID
only), -j tasks at once per job. Several workers, on one machine or many,
share each job's tasks. A job naming a function this worker lacks is left
to other workers; jetmr status shows the refusal, and the job fails when no
live worker can run it. Commands of pipe and mapreduce jobs run here, so
they must exist on this machine.

Jobs submitted with --nats use --transport object by default: chunks
travel in the task messages or are fetched from the submitter, on a TCP
port it opens for the job when this worker can connect, else over NATS,
and outputs too large for a message are spilled to --spill DIR and shipped through the
object store, so no disk is shared. A job with --transport shared sends
byte ranges of the submitter's files and leaves large outputs in --spill
DIR for the submitter to read: both must then be at the same paths on a
filesystem the submitter shares.

SIGTERM or SIGINT drains the worker: it takes no new task, lets running
ones finish for up to --drain-timeout, hands back the rest and exits 0.
The connection reconnects by itself when a server of a cluster fails over.`,
		Example: `  jetmr worker --nats nats://TOKEN@10.0.0.5:4222 -j 8
  jetmr worker --nats nats://127.0.0.1:4222 --job nightly-counts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nats.url == "" {
				return usageErr("worker needs --nats URL: the NATS server jobs are submitted to (jetmr server prints it)")
			}
			if drain <= 0 {
				return usageErr("--drain-timeout %s is not valid: use a positive duration such as 30s", drain)
			}
			log, err := newLogger(logLevel, logFormat, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			slots, why, err := job.Slots(jobs, job.SlotOptions{})
			if err != nil {
				return err
			}
			log.Info().Int("slots", slots).Str("why", why).Msg("concurrency per job")
			bc := nats.brokerConfig(log)
			bc.Name = "jetmr worker"
			bc.UnreachableHint = "a worker needs a running NATS server: start one with jetmr server (it prints the URL), or fix --nats"
			b, err := broker.Open(cmd.Context(), bc)
			if err != nil {
				return err
			}
			defer b.Close()
			pool, err := mapper.NewPool(mapper.PoolConfig{
				Broker: b, Job: jobID, Slots: slots, SpillDir: spill, DrainTimeout: drain, AckWait: ackWait, Logger: log,
				HeapFloor: workerHeapFloor,
			})
			if err != nil {
				return usageErr("--job: %v", err)
			}
			return pool.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	nats.register(fs)
	fs.StringVar(&jobID, "job", "", "run only this job's tasks (default: every running job)")
	fs.StringVarP(&jobs, "jobs", "j", "auto", "tasks run at once per job: N, N% of the cores, or auto (the cores)")
	fs.StringVar(&spill, "spill", mapper.DefaultSpillDir(), "folder for outputs too large for a message (shipped through the object store; with --transport shared the submitter reads them here, at the same path)")
	fs.DurationVar(&drain, "drain-timeout", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are handed back")
	fs.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "console", "log format of stderr: console (plain lines) or json")
	// --ack-wait lets tests see a killed worker's tasks redelivered in
	// seconds; it is hidden because every worker of a job must agree on it.
	fs.DurationVar(&ackWait, "ack-wait", 0, "how long a task may go without a heartbeat before it is redelivered (default 30s)")
	fs.MarkHidden("ack-wait")
	return cmd
}
