// Command jetmr runs large parallel jobs — file transformations, keyed
// map-reduce aggregations — as chunks on NATS JetStream, with an embedded
// server on one machine or workers on a NATS cluster.
//
// The command is thin: each subcommand parses its flags, builds a
// job.Config (or a pipeline, a worker pool, a server) and calls the library
// package that does the work; exit.go maps the error it returns to the
// documented exit code. imports_test.go keeps it so.
package main
