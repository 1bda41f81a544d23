package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

func newMigrateCommand() *cobra.Command {
	var (
		f      commonFlags
		m      job.Migration
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "migrate [flags] --db URL --table T --key COL --sql 'SQL with $1 (lo) and $2 (hi)'",
		Short: "Migrate or backfill a table in key-range batches, each committed exactly once",
		Long: `migrate splits a table into batches of about --chunk-size rows by keyset
pagination over its key column (integer or text; gaps and sparse keys are
fine), and runs SQL once per batch with $1 = the batch's low key
(inclusive) and $2 = its high key (exclusive); the last batch's $2 is a
key above every key of the table, read when that batch runs:

  UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2

Each batch's SQL commits in one transaction with the batch's row in the
table jetmr_batches, so a batch runs exactly once whatever crashes or
retries: even non-idempotent SQL touches every row once. The rows belong
to this run of the job: --resume uses them, a new run of the same --job
(after jetmr discard, or the next night) migrates every batch again. Transient errors
(serialization failures, deadlocks, lock timeouts, SQLite busy) are
retried; other SQL errors make the batch a dead letter naming its key
range, and the key whose rows fail alone when there is one. --where only sizes the batches: the SQL must filter its own rows.
A batch whose range holds rows but whose SQL changed none is reported
after the run: such SQL most likely does not use $1 and $2 as above.

--timeout bounds each transaction. A batch whose SQL times out is retried
whole once; from its second attempt on, a timeout splits it in half by
rows instead, and halves of halves, down to a single key, each part
committed in its own transaction with its own row in jetmr_batches. A
batch stopped half-way through its parts goes on after the ones that
committed. Progress counts rows against the table's estimated size.

Databases: sqlite:PATH (an existing file) or postgres://USER:PASS@HOST/DB.`,
		Example: `  jetmr migrate --db sqlite:app.db --table users --key id --sql 'UPDATE users SET n = n + 1 WHERE id >= $1 AND id < $2'
  jetmr migrate --db postgres://app@localhost/app --table events --key id --chunk-size 5000 -j 4 \
      --max-rate 20 --pause-when 'SELECT count(*) > 50 FROM pg_stat_activity' --sql '...'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.DB == "" || m.Table == "" || m.Key == "" || m.SQL == "" {
				return usageErr("migrate needs --db, --table, --key and --sql (see jetmr migrate --help)")
			}
			rows, err := parseRows(f.chunkSize)
			if err != nil {
				return err
			}
			f.chunkSize = ""
			f.inputs = []string{"(table)"} // a migrate job reads a table, not files
			cfg, err := f.config(cmd, schema.KindMigrate, false)
			if err != nil {
				return err
			}
			cfg.Inputs, cfg.ChunkSize, cfg.Migration = nil, rows, &m
			if dryRun {
				return job.DryRun(cmd.Context(), cfg, cmd.OutOrStdout())
			}
			return f.runJob(cmd.Context(), cmd, cfg)
		},
	}
	f.register(cmd)
	_ = cmd.Flags().MarkHidden("force") // a migration writes no output file
	skipUsage(cmd, "leave up to N keys whose rows the SQL fails on alone unmigrated (the rest of their batch commits), and exit 0",
		"with --skip-bad-records: the file that receives the keys left out, with the database's error (required)")
	fs := cmd.Flags()
	fs.StringVar(&m.DB, "db", "", "database URL: sqlite:PATH or postgres://...")
	fs.StringVar(&m.Table, "table", "", "table to migrate (may be schema-qualified)")
	fs.StringVar(&m.Key, "key", "", "integer or text column the batches are ranges of (should be indexed)")
	fs.StringVar(&m.SQL, "sql", "", "SQL run per batch with $1 = low key (inclusive) and $2 = high key (exclusive), e.g. WHERE id >= $1 AND id < $2")
	fs.StringVar(&m.Where, "where", "", "SQL condition: size the batches by the rows it selects")
	fs.Float64Var(&m.MaxRate, "max-rate", 0, "start at most this many batches per second (default: no limit)")
	fs.StringVar(&m.PauseWhen, "pause-when", "", "health query returning a boolean: while true, no new batch starts")
	fs.BoolVar(&dryRun, "dry-run", false, "print the batches and the SQL; change nothing")
	if flag := fs.Lookup("chunk-size"); flag != nil {
		flag.Usage = "rows per batch (default 1000)"
	}
	if flag := fs.Lookup("timeout"); flag != nil {
		flag.Usage = "wall-time limit per transaction, e.g. 30s; a batch that times out again is split in half (default: none)"
	}
	return cmd
}

// parseRows reads a migrate job's --chunk-size: a number of rows.
func parseRows(s string) (int64, error) {
	return parseCount(s, "migrate", "rows per batch, e.g. 1000")
}

// parseCount reads a --chunk-size that counts things (rows, items) rather
// than bytes; what names them for the message.
func parseCount(s, command, what string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageErr("--chunk-size %q is not valid for %s: give a number of %s", s, command, what)
	}
	return n, nil
}
