// Package broker opens jetmr's connection to NATS JetStream: an embedded
// nats-server in this process (the single-machine default) or an external
// server or cluster given by URL, and provisions the per-job streams and the
// jobs bucket whose names package schema defines.
//
// A [Broker] owns its connection and, when embedded, its server and the lock
// on the store directory; [Broker.Close] releases all of them. A Broker is
// safe for concurrent use once opened.
package broker
