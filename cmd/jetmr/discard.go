package main

import (
	"fmt"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/job"
)

func newDiscardCommand() *cobra.Command {
	var (
		nats  natsFlags
		store string
	)
	cmd := &cobra.Command{
		Use:   "discard JOB [--store DIR | --nats URL]",
		Short: "Drop a job: its state, temporary files, staged output and spill files",
		Long: `discard drops a job that failed or stopped, or one that is done: its
streams, object store and records, its spill files, the output staged next
to its -o (the hidden .jetmr-JOB.tmp file or folder) and its join file. A
job run in its own store under the default root loses that store folder.
The job can then no longer be resumed. A migrate job's rows in its
database's jetmr_batches stay: a new run of the same job ID migrates every
batch again, whatever they say.

A running job is refused: stop it first. Exit codes: 2 for an unknown JOB
or a running one, 3 when NATS cannot be reached.`,
		Example: `  jetmr discard 3fo8k2
  jetmr discard nightly --store /var/lib/jetmr
  JETMR_TOKEN=... jetmr discard nightly --nats nats://10.0.0.5:4222`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("discard needs one JOB: jetmr status lists the jobs")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			bc := nats.brokerConfig(zerolog.Nop())
			bc.StoreDir, bc.Name = store, "jetmr discard"
			if bc.URL != "" && store != "" {
				return usageErr("discard looks in --nats or --store, not both")
			}
			freed, err := job.Discard(cmd.Context(), bc, args[0])
			if err != nil {
				return unknownJobHint(err, bc, args[0])
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "jetmr: discarded job %s; %s freed\n", args[0], humanize.IBytes(uint64(freed)))
			return nil
		},
	}
	nats.register(cmd.Flags())
	cmd.Flags().StringVar(&store, "store", "", "the embedded store holding the job (default: the job's store under $XDG_STATE_HOME/jetmr)")
	return cmd
}
