// Package transfer moves the bytes of a fetched chunk (schema.Task.Fetch)
// from a job's submitter to the worker that runs the task: nothing is
// stored on the way.
//
// The submitter runs a [Server] for the job. It answers on
// [schema.RangeSubject] over NATS, and, unless told not to, on a TCP port
// of its own, the direct path. A worker calls [Fetch], which first asks
// the submitter over NATS for the direct path's address and secret (once
// per job, kept while the path works) and reads the whole chunk on one
// connection, which the server answers with sendfile(2) from the input
// file: the bytes cross the loopback or the network once, instead of
// twice through the NATS server and its clients' buffers. A worker that
// cannot connect, or whose connection breaks, fetches the chunk over NATS
// instead: it asks for each [schema.RangeRequest] in pieces that fit the
// connection's maximum payload, a few at once, and assembles them into the
// caller's buffer; a piece lost or late on the way is asked for again.
//
// Either way the server serves only ranges of input files that its
// [Files] allows, or says why not; the worker checks the whole chunk
// against the task's CRC-32C, so a damaged or changed chunk fails its
// task and is never merged. A submitter that does not answer is
// [ErrUnavailable]: the task waits for it (the job resumes), it is not the
// task's failure.
//
// Goroutines: [Server.Run] owns its handler goroutines, the direct path's
// listener and one goroutine per connection, and waits for them before it
// returns; [Fetch] owns the requests of one chunk and returns once all
// have ended. Both are safe for concurrent use.
package transfer
