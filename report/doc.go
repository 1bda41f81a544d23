// Package report holds a run's statistics and its report: the reducer
// feeds [Stats] with every task it merges or fails; [Stats.Report] turns
// them into a [Report] with the run's speedup, efficiency, worker
// utilization, task-time percentiles, dead letters and advice against the
// targets; [Report.Summary] is the line printed at the end of a run, and
// [Report.WriteFile] writes it as the JSON of --report.
//
// The package starts no goroutine and does no I/O but WriteFile. Stats is
// not safe for concurrent use: its owner (the reducer's goroutine) feeds
// it, and reads it once the run is over. It must not know how results are
// merged or rendered: package reducer merges, package observe renders.
package report
