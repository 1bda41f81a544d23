package migrate

import "context"

// RunBatch runs spec's SQL for batch b, exactly once per job: in one
// transaction it claims b in the [ProgressTable] (row spec.Job, b.Lo),
// runs the SQL with $1 = b.Lo and $2 = b.Hi (NULL when unbounded), records
// the number of rows the SQL affected, and commits.
//
// If the progress table already holds the claim, RunBatch runs nothing,
// commits nothing, and returns Outcome{AlreadyDone: true}: a redelivered
// batch is harmless. Two runs of the same batch at the same moment
// serialize on the claim: the second waits for the first and then finds
// the batch done, or claims it if the first failed. Since the claim and
// the SQL's changes commit together or not at all, retrying a batch after
// any error, even a lost connection during the commit, is safe.
//
// A failure returns a *[BatchError] naming b's key range and wrapping the
// database's error, and nothing of b is committed; [Retriable] says
// whether trying again may help. Errors in spec or b wrap [ErrBadInput].
func RunBatch(ctx context.Context, db DB, spec Spec, b Batch) (Outcome, error) {
	if err := spec.validate(); err != nil {
		return Outcome{}, err
	}
	if err := b.validate(); err != nil {
		return Outcome{}, badInput("%v", err)
	}
	return db.RunBatch(ctx, spec, b)
}

// DoneBatches calls yield for each batch of job that is committed, as the
// [ProgressTable] records it, in commit order, and returns yield's error
// unchanged.
func DoneBatches(ctx context.Context, db DB, job string, yield func(Done) error) error {
	return db.DoneBatches(ctx, job, yield)
}
