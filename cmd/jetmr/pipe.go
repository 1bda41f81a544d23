package main

import (
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/schema"
)

func newPipeCommand() *cobra.Command {
	var f commonFlags
	var rf recordFlags
	cmd := &cobra.Command{
		Use:   "pipe [flags] -i FILE... [-o OUT] -- CMD [ARG...]",
		Short: "Run CMD over chunks of the input; join its output in input order",
		Long: `pipe splits the input files on line boundaries into chunks, runs CMD
(argv, never a shell) on each chunk with the chunk on stdin, and writes the
outputs in input order to OUT (or stdout). The output file appears only
when the job is complete. --format csv, -0, --recend and --recstart cut
chunks between records instead of lines; --header N gives every chunk's
CMD each input's first N lines first.`,
		Example: `  jetmr pipe -i access.log -o upper.log -- tr a-z A-Z
  jetmr pipe -i logs/ -j 8 --chunk-size 4MiB -- grep -v DEBUG > filtered.log
  jetmr pipe -i sales.csv --header 1 --header-once -- cut -d, -f2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			more, argv := inputsAndCommand(cmd, args)
			f.inputs = append(f.inputs, more...)
			if len(argv) == 0 {
				return usageErr("pipe needs a command after --, e.g. jetmr pipe -i in.log -- tr a-z A-Z")
			}
			cfg, err := f.config(cmd, schema.KindPipe, true)
			if err != nil {
				return err
			}
			cfg.Command = argv
			if err := rf.apply(cmd, &cfg); err != nil {
				return err
			}
			return f.runJob(cmd.Context(), cmd, cfg)
		},
	}
	f.register(cmd)
	f.registerS3(cmd)
	rf.register(cmd, true)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output file (default: stdout)")
	return cmd
}
