package reducer

// SetKeep makes s keep runs after folding after pairs of mostly new keys,
// and merge every max kept runs, so that small tests reach both.
func SetKeep(s *KeyedSink, after int64, max int) { s.keepAfter, s.keepMax = after, max }
