package migrate

import "context"

// Check validates spec against db before any batch runs, and prepares db
// for the migration: every problem with spec is an error wrapping
// [ErrBadInput] whose message names the table, column, clause or
// statement at fault and the flag to fix.
//
// It checks that the job is named; that the table exists and has the key
// column, of an integer or text type; that the where clause and the SQL
// compile against the table (they are compiled, never run); that the SQL
// is one statement using exactly $1 and $2. It then creates the
// [ProgressTable] if it is missing, which is idempotent and safe to run
// from several processes at once; on a DB from [OpenReadOnly] it changes
// nothing.
func Check(ctx context.Context, db DB, spec Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if _, err := db.Inspect(ctx, spec); err != nil {
		return err
	}
	return db.Prepare(ctx, spec)
}
