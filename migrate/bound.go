package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// errNoBound means that no value of the key column's type lies above the
// largest key, so the last batch's $2 cannot be given: the key column
// holds its type's largest integer.
var errNoBound = errors.New("no value of the key's type lies above the largest key")

// boundQueries are the queries that find the upper bound of an open part,
// run in the part's transaction.
type boundQueries interface {
	// maxFrom returns the largest key at or above lo, among all the rows
	// of the table (the where clause does not apply: the bound must be
	// above every key); ok is false when there is none.
	maxFrom(ctx context.Context, lo Key) (k Key, ok bool, err error)
	// anyFrom reports whether a row's key is at or above k, in the key
	// column's own order (its collation, for text).
	anyFrom(ctx context.Context, k Key) (bool, error)
}

// textBoundSuffixes are appended in turn to the largest text key to find
// a value above it: a longer string sorts after its prefix in bytewise
// and in nearly every linguistic collation, and the database confirms
// each candidate in the column's own collation.
var textBoundSuffixes = []string{"~", "z", "\U0010FFFF"}

// openBound is the $2 of a part without an upper key (the last batch's):
// a real value above every key of the table at or above lo, found in the
// part's transaction, so that "key >= $1 AND key < $2" holds every row
// of the part. With no key at or above lo it is lo itself: the range is
// empty, and so is the part. maxInt is the largest value of the integer
// key column's type.
func openBound(ctx context.Context, q boundQueries, lo Key, maxInt int64) (Key, error) {
	top, ok, err := q.maxFrom(ctx, lo)
	if err != nil || !ok {
		return lo, err
	}
	if top.Kind == KindInteger {
		if top.Int >= maxInt {
			return Key{}, fmt.Errorf("%w: the table holds the key %d, the largest value of the key column's type, and $2 must lie above every key: split on another --key, or give that row a smaller key", errNoBound, top.Int)
		}
		return IntKey(top.Int + 1), nil
	}
	for _, suffix := range textBoundSuffixes {
		cand := TextKey(top.Text + suffix)
		above, err := q.anyFrom(ctx, cand)
		if err != nil {
			return Key{}, err
		}
		if !above {
			return cand, nil
		}
	}
	return Key{}, fmt.Errorf("%w: no text sorts above the largest key %s in the column's collation: split on another --key", errNoBound, strconv.Quote(top.Text))
}
