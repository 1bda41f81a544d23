// Package job runs jetmr jobs end to end on one machine or against a NATS
// cluster: it validates a [Config] before anything starts, provisions the
// job's streams, and runs the splitter, local mapper workers and the
// reducer under one errgroup until every task is merged exactly once.
//
// Run blocks until the job is complete, failed or its context is
// cancelled; every goroutine it starts has returned when it returns.
// Errors are typed: [ErrBadInput] for the caller's input (nothing was
// started), broker.ErrUnreachable for infrastructure, [ErrTasksFailed] when
// tasks failed for good (the report lists them as dead letters).
package job
