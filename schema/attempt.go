package schema

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// AttemptNote is what a worker of a speculative job announces on
// [AttemptSubject] as an attempt of a task starts and as it ends, so that
// the job knows which tasks are running, since when, and how many slots
// are busy.
type AttemptNote struct {
	V     int    `msgpack:"v"`
	Index uint64 `msgpack:"i"`
	// Worker and Slot name where the attempt runs; Slots is how many tasks
	// the worker runs at once.
	Worker string `msgpack:"w"`
	Slot   int    `msgpack:"slot"`
	Slots  int    `msgpack:"slots"`
	// Start is when the attempt started, in Unix nanoseconds.
	Start int64 `msgpack:"start"`
	// Ended marks the note sent as the attempt ends, whatever its outcome.
	Ended bool `msgpack:"end,omitempty"`
	// Backup marks a backup attempt (see [Task.Backup]).
	Backup bool `msgpack:"backup,omitempty"`
}

// EncodeAttemptNote encodes n, stamping the current [Version].
func EncodeAttemptNote(n AttemptNote) ([]byte, error) {
	n.V = Version
	return msgpack.Marshal(&n)
}

// DecodeAttemptNote decodes and validates an attempt note.
func DecodeAttemptNote(data []byte) (AttemptNote, error) {
	var n AttemptNote
	if err := decode(data, &n); err != nil {
		return AttemptNote{}, fmt.Errorf("decoding attempt note: %w", err)
	}
	if err := checkVersion(n.V); err != nil {
		return AttemptNote{}, fmt.Errorf("decoding attempt note: %w", err)
	}
	if n.Worker == "" || n.Slots < 0 || n.Slot < 0 {
		return AttemptNote{}, fmt.Errorf("decoding attempt note: %w: no worker, or a negative slot", ErrMalformed)
	}
	return n, nil
}
