// Package observe turns the engine's task-attempt events into what people
// and tools watch a run with: a progress bar or progress log lines, Prometheus
// metrics, a GNU parallel style job log, a Chrome trace-event timeline, and a
// self-contained HTML run report.
//
// The engine reports each attempt of each task to an [Observer]; [Multi] fans
// the events out to several of them. An attempt that ran in another
// process and whose end was lost is dropped ([DropObserver]): it leaves
// the running ones without an end. Every Observer in this package is safe
// for concurrent use, and none of them ever writes to standard output.
//
// Goroutines: a [Progress] owns its ticker goroutine until [Progress.Close], which waits for it;
// [Serve] owns its HTTP server until its context ends, and its wait function
// returns when the server has shut down. The other observers start none.
//
// The package only watches: it must not change a job's course (acknowledge,
// retry or fail tasks), and it reads the run report only to render it.
package observe
