// Package broker opens jetmr's connection to NATS JetStream: an embedded
// nats-server in this process (the single-machine default) or an external
// server or cluster given by URL, and provisions the per-job streams and the
// jobs bucket whose names package schema defines.
//
// A [Broker] owns its connection and, when embedded, its server and the lock
// on the store directory; [Broker.Close] releases all of them. A Broker is
// safe for concurrent use once opened.
//
// An external connection authenticates with the credentials in its URL or
// a [Config.Creds] file, trusts TLS certificates signed by [Config.TLSCA],
// and reconnects for ever, to any node of a cluster, except when the server
// refuses its credentials: refused credentials fail [Open] at once with
// [ErrAuthentication], an untrusted certificate with [ErrTLS] (both wrapped
// with [ErrUnreachable]). [Config.Replicas] sets the replicas of the job
// streams and jobs bucket it creates. [Broker.Answering] tells, without
// waiting on the connection, whether the server still answers, and
// [Broker.Hurry] keeps a process that stops from waiting seconds for a
// server that does not (one whose process is suspended).
//
// [StartServer] runs a listening server for other machines (jetmr server):
// JetStream, required client authentication (token, user and password, or
// nkeys), optional TLS, and cluster routes with their own password and TLS.
// The caller owns the returned [Server] and must call [Server.Shutdown].
//
// The package starts no goroutine of its own beyond the embedded server's,
// which [Broker.Close] stops, and the round trip of [Broker.Answering],
// which Close waits for. It must not read or write task, result or
// record messages: their format belongs to package schema, their use to
// the packages that run jobs.
package broker
