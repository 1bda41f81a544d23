// Package transfer moves the bytes of a fetched chunk (schema.Task.Fetch)
// from a job's submitter to the worker that runs the task, over core NATS
// request and reply: nothing is stored on the way.
//
// The submitter runs a [Server] for the job: it answers each
// [schema.RangeRequest] on [schema.RangeSubject] with the bytes of the
// range, read from an input file that its [Files] allows, or with an error
// header saying why not. A worker calls [Fetch], which asks for the chunk
// in pieces that fit the connection's maximum payload, a few at once, and
// assembles them into the caller's buffer. A piece lost or late on the way
// is asked for again; the worker checks the whole chunk against the
// task's CRC-32C, so a damaged or changed chunk fails its task and is
// never merged. A submitter that does not answer is [ErrUnavailable]: the
// task waits for it (the job resumes), it is not the task's failure.
//
// Goroutines: [Server.Run] owns its handler goroutines and waits for them
// before it returns; [Fetch] owns the requests of one chunk and returns
// once all have ended. Both are safe for concurrent use.
package transfer
