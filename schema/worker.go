package schema

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// WorkersBucket is the key-value bucket where every running worker pool
// keeps a [WorkerStatus] under its own key. Entries expire when a worker
// stops refreshing them, so the bucket lists the workers alive now.
const WorkersBucket = "jetmr_workers"

// FailedHeader marks a failure result (a dead letter) in the results
// stream, so that jetmr status can count dead letters from headers alone;
// its value is the result's retry round.
const FailedHeader = "Jetmr-Failed"

// WorkerStatus is a worker's heartbeat: who it is, which jobs it runs, and
// which it refuses, with the reason (typically a map function it lacks).
type WorkerStatus struct {
	V    int    `msgpack:"v"`
	Name string `msgpack:"name"`
	// Slots is how many tasks the worker runs at once per job.
	Slots int `msgpack:"slots"`
	// Started and Seen are the worker's start and this heartbeat, in Unix
	// nanoseconds.
	Started int64 `msgpack:"started"`
	Seen    int64 `msgpack:"seen"`
	// Jobs are the IDs of the jobs the worker takes tasks of.
	Jobs []string `msgpack:"jobs,omitempty"`
	// Refused maps the ID of a job the worker cannot run to why.
	Refused map[string]string `msgpack:"refused,omitempty"`
}

// EncodeWorkerStatus encodes s, stamping the current [Version].
func EncodeWorkerStatus(s WorkerStatus) ([]byte, error) {
	s.V = Version
	return msgpack.Marshal(&s)
}

// DecodeWorkerStatus decodes and validates a worker's heartbeat.
func DecodeWorkerStatus(data []byte) (WorkerStatus, error) {
	var s WorkerStatus
	if err := decode(data, &s); err != nil {
		return WorkerStatus{}, fmt.Errorf("decoding worker status: %w", err)
	}
	if err := checkVersion(s.V); err != nil {
		return WorkerStatus{}, fmt.Errorf("decoding worker status: %w", err)
	}
	if s.Name == "" || s.Slots < 0 {
		return WorkerStatus{}, fmt.Errorf("decoding worker status: %w: no name or negative slots", ErrMalformed)
	}
	return s, nil
}
