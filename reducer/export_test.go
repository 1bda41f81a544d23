package reducer

// SetKeep makes s keep runs after folding after pairs of mostly new keys,
// and merge every max kept runs, so that small tests reach both.
func SetKeep(s *KeyedSink, after int64, max int) { s.keepAfter, s.keepMax = after, max }

// SetRangeMin splits the final merge of a partition whose runs hold at
// least min bytes by key ranges, so that small tests reach it.
func SetRangeMin(s *KeyedSink, min int64) { s.rangeMin = min }
