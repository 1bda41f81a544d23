package reducer

import "github.com/jetmr/jetmr/report"

// The run's statistics and report live in package report; these names
// remain so that code written against their old place still compiles.
type (
	// Deprecated: use report.Report.
	Report = report.Report
	// Deprecated: use report.Stats.
	Stats = report.Stats
	// Deprecated: use report.DeadLetter.
	DeadLetter = report.DeadLetter
	// Deprecated: use report.WorkerReport.
	WorkerReport = report.WorkerReport
)
