package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

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

// CheckHealthQuery runs query, a --pause-when health query, once, and
// checks that it returns one row of one boolean column: any other answer,
// or a query that fails, is an error wrapping [ErrBadInput] naming the
// query and the fix (a database that cannot be reached, [ErrUnreachable]).
// It returns the query's answer.
func CheckHealthQuery(ctx context.Context, db DB, query string) (bool, error) {
	if strings.TrimSpace(query) == "" {
		return false, badInput("--pause-when is empty: give a query returning one boolean, e.g. %s", healthExample)
	}
	return db.Healthy(ctx, query)
}

// healthExample is a health query, for messages.
const healthExample = `'SELECT count(*) > 50 FROM pg_stat_activity'`

// healthFailed adds the fix to the error of a health query that failed
// because of what it says.
func healthFailed(err error) error {
	if errors.Is(err, ErrBadInput) {
		return fmt.Errorf("%w: fix it to return one row of one boolean column, true to pause, e.g. %s", err, healthExample)
	}
	return err
}

// healthShape checks the columns and rows a health query returned.
func healthShape(query string, columns, rows int) error {
	switch {
	case columns != 1:
		return badHealth(query, fmt.Sprintf("returns %d columns", columns))
	case rows != 1:
		return badHealth(query, fmt.Sprintf("returned %d rows", rows))
	}
	return nil
}

// badHealth is the error of a health query whose answer is not one
// boolean: what it did, and the fix.
func badHealth(query, what string) error {
	return badInput("--pause-when %q %s: it must return one row of one boolean column, true to pause, e.g. %s", query, what, healthExample)
}
