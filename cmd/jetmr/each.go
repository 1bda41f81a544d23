package main

import (
	"io"
	"os"
	"slices"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// itemsMark separates the command from items given on the command line.
const itemsMark = ":::"

// eachFlags are the flags of jetmr each beyond the common ones.
type eachFlags struct {
	items   string
	null    bool
	join    string
	builtin string
}

func newEachCommand() *cobra.Command {
	var (
		f  commonFlags
		ef eachFlags
		// cfg collects the each-specific fields of job.Config.
		cfg job.Config
	)
	cmd := &cobra.Command{
		Use:   "each [flags] [--items FILE | ::: ITEM...] -- CMD [ARG...] [::: ITEM...]",
		Short: "Run CMD once per item, with retries, grouped output and a job log",
		Long: `each runs CMD once per item. Items come from --items FILE (one per line;
with -0, separated by NUL bytes, for items holding newlines), from the
words after ::: (before -- or after the command), or from stdin.

In CMD, {} is the item, {.} the item without its extension, {/} its base
name, {//} its directory, {/.} the base name without extension and {#} its
sequence number (from 1). Each argument stays exactly one argument whatever
the item holds: nothing is split, globbed or run through a shell. A CMD
without any placeholder gets the item appended as its last argument.

--shell runs CMD (its words joined by spaces) as one sh -c script; the
placeholders become quoted positional parameters ({} is "$1", {.} "$2",
{/} "$3", {//} "$4", {#} "$5", {/.} "$6"), so the item is still never
script text. Do not put placeholders inside single quotes then.

Each item's stdout and stderr are kept together and printed as one group,
never interleaved with another item's; -k prints the groups in item order,
otherwise as their batches complete. Items are batched into tasks (about
16 per slot, at most 512 items each; --chunk-size N sets the items per
task); a failed item is retried alone (--retries), --timeout limits each
item, and an item that fails every attempt makes its task a dead letter
naming the item, its exit status and the tail of its output. Exit 1 then.

--join CMD runs CMD once after every item succeeded, with the join file:
one JSON object per line per item, in item order,
  {"seq":1,"item":"a.txt","exit":0,"output":"..."}
given in place of {} in CMD, or on CMD's stdin when CMD has no {}. CMD is
split into words like a shell would, but never run through one.`,
		Example: `  jetmr each ::: a.txt b.txt -- gzip -k {}
  find . -name '*.png' | jetmr each -k -- convert {} {.}.jpg
  go list -f '{{.Dir}}' ./... | jetmr each --dir {} -k -- gofmt -l .
  jetmr each --items hosts.txt --timeout 30s --join 'jq -s length' -- ssh {} uptime`,
		RunE: func(cmd *cobra.Command, args []string) error {
			before, argv := inputsAndCommand(cmd, args)
			argv, items, err := splitItems(before, argv)
			if err != nil {
				return err
			}
			if len(argv) == 0 && ef.builtin == "" {
				return usageErr("each needs a command after --, e.g. jetmr each ::: a b -- echo {}")
			}
			if items == nil {
				if items, err = ef.readItems(cmd.InOrStdin()); err != nil {
					return err
				}
			} else if ef.items != "" {
				return usageErr("give items either after ::: or with --items, not both")
			}
			per, err := parseCount(f.chunkSize, "each", "items per task, e.g. 100")
			if err != nil {
				return err
			}
			f.chunkSize = ""
			f.inputs = []string{"(items)"} // an each job reads items, not files
			base, err := f.config(cmd, schema.KindEach, ef.builtin == "")
			if err != nil {
				return err
			}
			base.Inputs, base.ChunkSize, base.Command, base.Items = nil, per, argv, items
			base.Shell, base.Dir, base.KeepOrder, base.Builtin = cfg.Shell, cfg.Dir, cfg.KeepOrder, ef.builtin
			if ef.join != "" {
				if base.Join, err = command.Split(ef.join); err != nil || len(base.Join) == 0 {
					return usageErr("--join %q is not a command line: give a command, e.g. --join 'jq -s length'", ef.join)
				}
			}
			return f.runJob(cmd.Context(), cmd, base)
		},
	}
	f.register(cmd)
	skipUsage(cmd, "leave up to N items whose command fails on every attempt out of the output, and exit 0",
		"with --skip-bad-records: the file that receives the items left out (default: the output's path plus .rejected; required with output on stdout)")
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "write the items' output to this file, which appears only when every item succeeded (default: stdout)")
	fs.StringVar(&ef.items, "items", "", "read items from this file, one per line ('-' for stdin)")
	fs.BoolVarP(&ef.null, "null", "0", false, "items are separated by NUL bytes, not newlines (find -print0)")
	fs.BoolVar(&cfg.Shell, "shell", false, "run the command as one sh -c script; placeholders become \"$1\"...")
	fs.StringVar(&cfg.Dir, "dir", "", "run each command in this directory, e.g. {} (placeholders allowed)")
	fs.BoolVarP(&cfg.KeepOrder, "keep-order", "k", false, "print the items' output groups in item order")
	fs.StringVar(&ef.join, "join", "", "run this command once after every item succeeded, with the join file as {} or on stdin")
	fs.StringVar(&ef.builtin, "builtin", "", "run a built-in per item instead of a command: echo (prints the item) or noop")
	if flag := fs.Lookup("chunk-size"); flag != nil {
		flag.Usage = "items per task (default: about 16 tasks per slot, at most 512 items each)"
	}
	for _, name := range []string{"input", "task-time", "transport"} {
		if flag := fs.Lookup(name); flag != nil {
			flag.Hidden = true // items travel in the tasks: no input files to size or ship
		}
	}
	return cmd
}

// splitItems finds items given after ::: on the command line: at the
// start of the arguments before --, or after the command. items is nil
// when there is no :::.
func splitItems(before, argv []string) (cmdArgv, items []string, err error) {
	if len(before) > 0 {
		if before[0] != itemsMark {
			return nil, nil, usageErr("unexpected argument %q: give items after ::: (or with --items) and the command after --", before[0])
		}
		items = append([]string{}, before[1:]...)
	}
	if i := slices.Index(argv, itemsMark); i >= 0 {
		if items != nil {
			return nil, nil, usageErr("::: appears twice: give the items once")
		}
		items = append([]string{}, argv[i+1:]...)
		argv = argv[:i]
	}
	if items != nil && len(items) == 0 {
		return nil, nil, usageErr("no items after :::")
	}
	return argv, items, nil
}

// readItems reads the items from --items FILE, or from stdin.
func (ef eachFlags) readItems(stdin io.Reader) ([]string, error) {
	name := ef.items
	switch name {
	case "", "-":
		if f, ok := stdin.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			return nil, usageErr("no items: give --items FILE, items after :::, or pipe them in on stdin")
		}
		name = "stdin"
	default:
		f, err := os.Open(name)
		if err != nil {
			return nil, usageErr("cannot read --items %s: %v", name, unwrapPathError(err))
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return nil, usageErr("--items %s is a directory: give a file with one item per line", name)
		}
		stdin = f
	}
	items, err := splitter.ReadItems(stdin, ef.null)
	if err != nil {
		return nil, usageErr("items from %s: %v", name, err)
	}
	return items, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
