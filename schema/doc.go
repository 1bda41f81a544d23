// Package schema defines jetmr's wire format: the messages that travel over
// NATS JetStream between the splitter, the mappers and the reducer, and the
// names of the subjects, streams and buckets they travel on.
//
// Every message is msgpack-encoded and carries a version field V. Encoders
// write the oldest version that carries the message (1, or [Version] for
// one that older readers would misread). Decoders accept any version from 1
// to [Version] and
// return [ErrNewerVersion] for a message written by a newer jetmr, so an old
// worker can leave such a task for a newer one instead of misreading it.
// Decoders never panic on malformed input: garbage yields an error wrapping
// [ErrMalformed].
//
// Stable contract: field names (msgpack keys) are never reused with a
// different meaning; new optional fields may appear within a version; a
// change that an older reader would misinterpret bumps [Version].
//
// The package is a leaf: it starts no goroutine, does no I/O and imports no
// other jetmr package, so that every other package may import it.
package schema
