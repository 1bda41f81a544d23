// Command sleepworker is the worker of the bench's IO-bound tasks: a jetmr
// worker binary whose map function "sleep20ms" waits 20 ms per task, as a
// task blocked on the network or a disk would, and emits one pair.
//
//	sleepworker NATS_URL SLOTS
package main
