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

// AttemptEnd is what a worker announces on [AttemptEndSubject] when an
// attempt of a task ends without storing a result that the job merges: a
// failure that is retried, an attempt whose task's result came from
// another attempt (Superseded), a failed backup, an attempt handed back
// because the worker stopped (Stopped), or one whose results were all
// stored before by another attempt. The job's submitter reports it to
// its observers (job log, trace, run report), which otherwise hear only
// of the attempts it merges: a lost announcement costs a line of the job
// log, never a result.
type AttemptEnd struct {
	V     int    `msgpack:"v"`
	Index uint64 `msgpack:"i"`
	// Attempt counts from 1, as the task's deliveries do.
	Attempt int `msgpack:"att"`
	// Round is the job's retry round the attempt belongs to (see
	// [Result.Round]).
	Round  int    `msgpack:"round,omitempty"`
	Worker string `msgpack:"w"`
	Slot   int    `msgpack:"slot"`
	// Slots is how many tasks the worker runs at once.
	Slots int `msgpack:"slots,omitempty"`
	// Start and End bound the attempt, in Unix nanoseconds of the
	// worker's clock.
	Start    int64 `msgpack:"start"`
	End      int64 `msgpack:"end"`
	BytesIn  int64 `msgpack:"in,omitempty"`
	BytesOut int64 `msgpack:"out,omitempty"`
	// Rows is the number of rows a migrate batch committed.
	Rows int64 `msgpack:"rows,omitempty"`
	// Exit and Signal say how the task's command ended, when it failed.
	Exit   int    `msgpack:"exit,omitempty"`
	Signal string `msgpack:"sig,omitempty"`
	// Failed, Retried, Superseded and Stopped are the attempt's outcome,
	// with the meanings of the observers' attempt events.
	Failed     bool `msgpack:"failed,omitempty"`
	Retried    bool `msgpack:"retried,omitempty"`
	Superseded bool `msgpack:"superseded,omitempty"`
	Stopped    bool `msgpack:"stopped,omitempty"`
	// Backup marks a backup attempt (see [Task.Backup]).
	Backup bool `msgpack:"backup,omitempty"`
	// Command is the command line of an attempt of an each job's item,
	// whose Index is then the item's number (0-based) in the job's item
	// list; empty for the tasks of other jobs, whose submitter knows it.
	Command string `msgpack:"cmd,omitempty"`
}

// EncodeAttemptEnd encodes e, stamping version 1: a jetmr that predates
// the message does not subscribe to its subject.
func EncodeAttemptEnd(e AttemptEnd) ([]byte, error) {
	e.V = baseVersion
	return msgpack.Marshal(&e)
}

// DecodeAttemptEnd decodes and validates an attempt's end.
func DecodeAttemptEnd(data []byte) (AttemptEnd, error) {
	var e AttemptEnd
	if err := decode(data, &e); err != nil {
		return AttemptEnd{}, fmt.Errorf("decoding attempt end: %w", err)
	}
	if err := checkVersion(e.V); err != nil {
		return AttemptEnd{}, fmt.Errorf("decoding attempt end: %w", err)
	}
	if e.Worker == "" || e.Slot < 0 || e.Attempt < 1 || e.End < e.Start {
		return AttemptEnd{}, fmt.Errorf("decoding attempt end: %w: no worker, a negative slot or attempt, or an end before the start", ErrMalformed)
	}
	return e, nil
}

// AttemptStart is what a worker in another process than the job's
// submitter announces on [AttemptStartSubject] as an attempt of a task
// starts (each attempt of an item, for an each job), so that the
// submitter's observers count it running until its end arrives (its
// result, or its [AttemptEnd]). A lost announcement costs the attempt's
// place among the running ones, never a result; one whose end is lost is
// dropped by the submitter when the task is merged, when a later attempt
// of the task or another attempt on the same slot starts, when its worker
// is gone, and when the job ends.
type AttemptStart struct {
	V int `msgpack:"v"`
	// Index and Attempt name the attempt as its [AttemptEnd] and its
	// result will: the task's index and delivery, or, for an each job's
	// item, the item's number (0-based) in the job's item list and its
	// attempt within the task's delivery.
	Index   uint64 `msgpack:"i"`
	Attempt int    `msgpack:"att"`
	// Task and Delivery are the index of the task the attempt runs and
	// the task's delivery (counting from 1): Index and Attempt, but for
	// an each job's item.
	Task     uint64 `msgpack:"task"`
	Delivery int    `msgpack:"dlv"`
	// Round is the job's retry round the attempt belongs to (see
	// [Result.Round]).
	Round  int    `msgpack:"round,omitempty"`
	Worker string `msgpack:"w"`
	Slot   int    `msgpack:"slot"`
	// Slots is how many tasks the worker runs at once.
	Slots int `msgpack:"slots,omitempty"`
	// Start is when the attempt started, in Unix nanoseconds of the
	// worker's clock: its result and [AttemptEnd] carry the same.
	Start   int64 `msgpack:"start"`
	BytesIn int64 `msgpack:"in,omitempty"`
	// Backup marks a backup attempt (see [Task.Backup]).
	Backup bool `msgpack:"backup,omitempty"`
	// Command is the command line of an each job's item, as in
	// [AttemptEnd].
	Command string `msgpack:"cmd,omitempty"`
}

// EncodeAttemptStart encodes s, stamping version 1: a jetmr that
// predates the message does not subscribe to its subject.
func EncodeAttemptStart(s AttemptStart) ([]byte, error) {
	s.V = baseVersion
	return msgpack.Marshal(&s)
}

// DecodeAttemptStart decodes and validates an attempt's start.
func DecodeAttemptStart(data []byte) (AttemptStart, error) {
	var s AttemptStart
	if err := decode(data, &s); err != nil {
		return AttemptStart{}, fmt.Errorf("decoding attempt start: %w", err)
	}
	if err := checkVersion(s.V); err != nil {
		return AttemptStart{}, fmt.Errorf("decoding attempt start: %w", err)
	}
	if s.Worker == "" || s.Slot < 0 || s.Slots < 0 || s.Attempt < 1 || s.Delivery < 1 || s.BytesIn < 0 {
		return AttemptStart{}, fmt.Errorf("decoding attempt start: %w: no worker, a negative slot or size, or an attempt or delivery below 1", ErrMalformed)
	}
	return s, nil
}
