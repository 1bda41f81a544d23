// Package runfile writes, reads and merges the sorted runs a reducer
// spills to its work folder when its fold state passes its memory budget,
// and those a map task's combiner spills past its share of the budget.
//
// A run file holds key/value pairs sorted by key (bytewise, see
// [Compare]), each key at most once in a fold's runs: a 10-byte magic,
// then for each pair the key's length plus one and the value's length as
// uvarints, each followed by its bytes, then a zero uvarint and the
// number of pairs as a uvarint. The end marker and count make a file cut
// short (a crash while writing) an error, never a shorter run. Files are
// written under a temporary name and renamed into place once complete.
// A [Reader] tells where each pair starts ([Reader.Offset]) and reads a
// run from any such pair on ([NewReaderAt]), as a merge split by key ranges
// does, with the same checks as from the run's start.
//
// [Merge] merges runs k-way, folding the values of equal keys with a
// [fold.Merger], or keeping every pair without a fold; [MergeFiles]
// merges any number of run files while keeping at most a fan-in of them
// open, in several passes.
package runfile
