package reducer

import (
	"context"
	"errors"

	"github.com/jetmr/jetmr/schema"
)

// Session is the job a reducer merges for: what the reducer tells it as
// results arrive, and what it asks of it. The reducer calls it from its
// own goroutine, one call at a time.
type Session interface {
	// Retired is told the tasks each merge or failure retired, so that
	// the splitter can publish more.
	Retired(Span)
	// Merged is told the result of each task merged in full (for keyed
	// jobs, its last partition), replays included: --task-time sizes the
	// next chunks from them.
	Merged(res *schema.Result)
	// Ended is told the result that decided each task (the last of its
	// partitions merged, or its failure for good) with the bytes of output
	// of the task's results merged, replays excluded: the job reports the
	// attempt to its observers when it ran in another process.
	Ended(res *schema.Result, bytesOut int64)
	// Counted is told the counters and status of each result merged that
	// carries some, replays included (see schema.Result.Counters).
	Counted(counters []schema.Counter, status string)
	// Fetch makes a result's output object (transport "object") a local
	// spill file: it sets Spill and clears Object.
	Fetch(ctx context.Context, res *schema.Result) error
	// Retry publishes again, in a --retry-failed round, a task that failed
	// in an earlier round. retried is false when this run retries nothing:
	// the failure stays final.
	Retry(res *schema.Result) (retried bool, err error)
	// Failed is told, after each task that failed for good, how many have
	// so far (for --halt).
	Failed(n int)
	// Committing is called once every task is complete and none failed,
	// before the sink publishes the output: the job records that it is
	// committing, so that a crash during the commit is recognised on
	// resume.
	Committing(ctx context.Context) error
}

// errNoFetch is the error of a result whose output is an object, merged
// by a reducer whose session cannot fetch objects.
var errNoFetch = errors.New("this reducer cannot fetch objects")

// NopSession is a [Session] that is told nothing and does nothing: it
// fetches no object and retries no task.
type NopSession struct{}

var _ Session = NopSession{}

func (NopSession) Retired(Span)                                {}
func (NopSession) Merged(*schema.Result)                       {}
func (NopSession) Ended(*schema.Result, int64)                 {}
func (NopSession) Counted([]schema.Counter, string)            {}
func (NopSession) Fetch(context.Context, *schema.Result) error { return errNoFetch }
func (NopSession) Retry(*schema.Result) (bool, error)          { return false, nil }
func (NopSession) Failed(int)                                  {}
func (NopSession) Committing(context.Context) error            { return nil }
