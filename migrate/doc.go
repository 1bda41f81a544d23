// Package migrate is the database layer of "jetmr migrate": a migration
// or backfill of one table, split into key-range batches that workers run
// in parallel, each committed exactly once. It works on SQLite
// ("sqlite:PATH") and PostgreSQL ("postgres://..."), behind the [DB]
// interface that [Open] returns.
//
// The contract:
//
//   - [Check] validates a [Spec] before anything runs: every problem with
//     it (unknown scheme, missing table or key column, a key that is
//     neither integer nor text, a where clause or SQL that does not
//     compile, SQL without $1 and $2) is an error wrapping [ErrBadInput]
//     whose message names the culprit and the flag to fix. A database
//     that cannot be reached or rejects the credentials is an error
//     wrapping [ErrUnreachable]. User identifiers are always quoted, never
//     spliced in as they are; Table may be schema-qualified.
//   - [Batches] splits the table by keyset pagination over the real keys,
//     integer or text: each [Batch] is the half-open key range [Lo, Hi)
//     holding about the requested number of rows, whatever the gaps in
//     the keys. Batches are contiguous: together they cover every key from
//     the first one up, each exactly once. Splitting never holds more than
//     one key in memory and scans the key index once in all.
//   - The SQL's contract is: $1 and $2 have the key column's type, are
//     never NULL, and the statement handles exactly the rows with
//     $1 <= key < $2 (example below). $2 is the next batch's first key,
//     and for the last batch, whose Hi is [Unbounded], a key above every
//     key of the table that [RunBatch] reads in the batch's own
//     transaction, so that rows appended after splitting (a growing
//     serial key) are migrated too. The statement is sent as written,
//     never rewritten; on PostgreSQL its parameters are declared with the
//     key column's type.
//   - A part whose SQL changes no row although its range holds some is
//     reported in Outcome.Unchanged: such SQL most likely does not select
//     its rows with $1 and $2.
//   - The where clause (--where) only shapes the batches, so that each
//     holds about the same number of rows of interest; the SQL must do its
//     own filtering, since a batch's range also holds the rows in between
//     that the where clause rejects.
//   - Exactly once: [RunBatch] runs a batch in one transaction that also
//     writes the batch's row (job, run, lo, hi) in the [ProgressTable],
//     claimed before the SQL runs. A batch whose row is there is not run
//     again (Outcome.AlreadyDone); concurrent runs of one batch serialize
//     on the claim; a failed batch commits nothing. Redelivering or
//     retrying a batch is therefore always safe, and a job's progress
//     survives crashes. The guarantee is per (job, run, batch lower key):
//     the batches of a run must come from one split ([BatchesAfter]
//     resumes one), and a fresh run of a job takes a new Spec.Run so that
//     an earlier run's rows do not count as its own.
//   - Splitting on timeouts: with [SplitOnTimeout], a batch whose SQL
//     runs out of time ([PartTimeout]) is run in parts instead, halves of
//     halves by rows, each part one transaction with its own progress row.
//     The progress rows of a batch chain from its Lo to its Hi, and
//     RunBatch runs only the parts that the chain does not cover yet, so
//     a batch stopped half-way through its parts, by an error or a crash,
//     goes on where it stopped, and nothing runs twice.
//   - Failures of a batch are *[BatchError] values naming the batch's key
//     range and wrapping the database's error; [Retriable] tells transient
//     ones (serialization failures, deadlocks, lock and statement
//     timeouts, SQLite BUSY/LOCKED, lost connections) from the rest, and
//     [IsTimeout] those where time ran out. When the batch's own SQL
//     failed for good ([SQLFailed]), [FailingKey] finds the key whose rows
//     make it fail, by running halves of the batch in transactions that it
//     rolls back.
//   - [OpenReadOnly] opens a database for a look that changes nothing (a
//     dry run): [Check] and [Batches] work, no batch runs.
//     [CheckHealthQuery] checks a --pause-when query: one row of one
//     boolean column.
//
// A typical statement:
//
//	UPDATE t SET n = n + 1 WHERE id >= $1 AND id < $2
//
// A DB is safe for concurrent use by many goroutines; the package keeps no
// global state and logs nothing. Package [github.com/jetmr/jetmr/migrate/pgtest]
// starts throwaway PostgreSQL servers for tests.
//
// The package must not know about tasks or the broker: package mapper runs
// batches through [RunBatch], package job splits through [Batches].
package migrate
