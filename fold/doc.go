// Package fold holds jetmr's built-in reduces (sum, count, min, max,
// concat) and the compact table that folds keyed values under a memory
// bound, map-side as a combiner and reduce-side before a spill.
//
// A [Fold] combines the values of one key. Folds are associative, so a
// partial state (AppendPartial) can be merged into another (Merge) in any
// grouping; jetmr relies on that to fold map-side, to spill partial states
// to sorted runs and to merge those runs later.
//
// A [Table] is not safe for concurrent use; each goroutine keeps its own.
package fold
