package reducer

// SetKeep makes s keep runs after folding after pairs of mostly new keys,
// and merge every max kept runs, so that small tests reach both.
func SetKeep(s *KeyedSink, after int64, max int) { s.keepAfter, s.keepMax = after, max }

// Crash stops s's lanes, once they have merged what they were handed,
// and leaves its files as a process killed there would.
func Crash(s *KeyedSink) { s.stopLanes() }

// SetRangeMin splits the final merge of a partition whose runs hold at
// least min bytes by key ranges, so that small tests reach it.
func SetRangeMin(s *KeyedSink, min int64) { s.rangeMin = min }

// CPUTime is the process's user and system time so far.
var CPUTime = cpuTime
