package main

import (
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

func newMapReduceCommand() *cobra.Command {
	var (
		f          commonFlags
		rf         recordFlags
		mapSpec    string
		reduceSpec string
		partitions int
		memSize    string
		streaming  job.MapReduceConfig
	)
	cmd := &cobra.Command{
		Use:   "mapreduce [flags] -i PATH... -o DIR --map M --reduce R",
		Short: "Keyed map-reduce: map chunks to key<TAB>value pairs, reduce by key",
		Long: `mapreduce maps chunks of the input to key/value pairs and reduces the
values of each key. M and R are built-ins or commands in Hadoop Streaming
style (key<TAB>value lines; a reducer command reads its partition's lines
sorted by key on stdin). Built-in reduces also run map-side as combiners.

Built-in maps:    wordcount, lines, grep:REGEX
Built-in reduces: sum, count, min, max, concat
--reduce none:    map-only; each partition's pairs sorted by key

DIR must not exist; it appears complete, holding part-00000 ... one file
per partition, each with key<TAB>value lines sorted by key.

Hadoop Streaming options: --combiner, --key-fields, --partition-fields
(secondary sort), --key-order; a command's stderr lines
reporter:counter:GROUP,NAME,AMOUNT and reporter:status:MSG are counted in
the run report and shown in the progress line.`,
		Example: `  jetmr mapreduce -i books/ -o counts --map wordcount --reduce sum
  jetmr mapreduce -i logs/ -o errors --map 'grep:ERROR [a-z]+' --reduce count --partitions 4
  jetmr mapreduce -i data/ -o out --map ./mapper.py --reduce ./reducer.py
  jetmr mapreduce -i logs/ -o by-user --map ./events.sh --reduce ./sessions.sh --key-fields 2 --partition-fields 1 --key-order text,numeric`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.inputs = append(f.inputs, args...)
			if partitions < 1 {
				return usageErr("--partitions %d is not valid: use 1 or more", partitions)
			}
			if streaming.KeyFields < 1 {
				return usageErr("--key-fields %d is not valid: the key is a line's first N TAB-separated fields, N 1 or more (default 1)", streaming.KeyFields)
			}
			if cmd.Flags().Changed("partition-fields") && streaming.PartitionFields < 1 {
				return usageErr("--partition-fields %d is not valid: use 1 to %d (--key-fields)", streaming.PartitionFields, streaming.KeyFields)
			}
			if f.output == "" {
				return usageErr("mapreduce needs an output directory: add -o DIR")
			}
			_, builtin, _ := mapper.NewRegistry().Map(mapSpec)
			cfg, err := f.config(cmd, schema.KindMapReduce, !builtin)
			if err != nil {
				return err
			}
			streaming.Map, streaming.Reduce, streaming.Partitions = mapSpec, reduceSpec, partitions
			cfg.MapReduceConfig = streaming
			if err := rf.apply(cmd, &cfg); err != nil {
				return err
			}
			if memSize != "" {
				if cfg.Memory, err = splitter.ParseSize(memSize); err != nil {
					return usageErr("--memory: %s", strings.Replace(err.Error(), "chunk size", "size", 1))
				}
			}
			setMemoryLimit(cfg.Memory)
			return f.runJob(cmd.Context(), cmd, cfg)
		},
	}
	f.register(cmd)
	f.registerS3(cmd)
	rf.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "output directory (must not exist)")
	fs.StringVar(&mapSpec, "map", "", "map: wordcount, lines, grep:REGEX, or a command")
	fs.StringVar(&reduceSpec, "reduce", "", "reduce: sum, count, min, max, concat, or a command")
	fs.IntVar(&partitions, "partitions", 1, "reduce partitions (part files)")
	fs.StringVar(&streaming.Combiner, "combiner", "", "a command run on each map task's sorted key<TAB>value lines before they are shipped (with a reducer command)")
	fs.IntVar(&streaming.KeyFields, "key-fields", 1, "the first N TAB-separated fields of a map output line form the key")
	fs.IntVar(&streaming.PartitionFields, "partition-fields", 0, "partition on the key's first M fields (M <= --key-fields; default: the whole key), so that a reducer sees each group sorted by the rest: secondary sort")
	fs.StringVar(&streaming.KeyOrder, "key-order", "", "key order of the part files and the reducer's input: text, numeric, reverse or numeric-reverse, or one per key field separated by commas (default text)")
	fs.BoolVar(&streaming.ReduceOnWorkers, "reduce-on-workers", false, "run each reduce partition on a worker, which writes its part file into the output folder (with --nats and --transport shared: the workers share the output folder)")
	fs.StringVar(&memSize, "memory", "", "the job's memory budget, e.g. 256MiB; reduce state beyond it spills to sorted runs on disk (default: a quarter of the available memory, at most 128MiB)")
	return cmd
}

// setMemoryLimit makes the garbage collector of this process work to keep
// its heap within the job's memory budget plus 32 MiB of headroom for the
// broker and the runtime (its RSS then stays within the budget plus
// 64 MiB), unless GOMEMLIMIT says otherwise.
func setMemoryLimit(budget int64) {
	if budget <= 0 {
		budget = job.DefaultMemory()
	}
	if budget < job.MinMemory {
		return // refused by the job's validation
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(budget + 32<<20)
	}
}
