package schema

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// ItemBatch is the inline data of an each task: consecutive items of the
// job's item list, the first of them item number First (0-based).
type ItemBatch struct {
	V     int      `msgpack:"v"`
	First uint64   `msgpack:"first"`
	Items []string `msgpack:"items"`
}

// ItemResult is the outcome of one item of an each task.
type ItemResult struct {
	// Seq is the item's 0-based number in the job's item list.
	Seq  uint64 `msgpack:"seq"`
	Item string `msgpack:"item"`
	// Exit is the command's exit status: 0 on success, -1 when it did not
	// exit (it could not start, or was killed: see Signal and Error).
	Exit   int    `msgpack:"exit"`
	Signal string `msgpack:"sig,omitempty"`
	Error  string `msgpack:"err,omitempty"`
	// Accepted is the exit status of a command that --ok-exit counted as
	// success (Exit is 0 then), for the job log of the submitter; 0
	// otherwise. A jetmr that predates it ignores it.
	Accepted int `msgpack:"acc,omitempty"`
	Attempts int `msgpack:"att"`
	// Start and End bound the item's last attempt, in Unix nanoseconds.
	Start int64 `msgpack:"start"`
	End   int64 `msgpack:"end"`
	// Output is the command's stdout and stderr, in the order written.
	Output []byte `msgpack:"out,omitempty"`
}

// Failed reports whether the item failed for good.
func (r *ItemResult) Failed() bool { return r.Exit != 0 || r.Signal != "" || r.Error != "" }

// ItemResults is the result payload of an each task: one entry per item
// of its batch, in item order.
type ItemResults struct {
	V     int          `msgpack:"v"`
	Items []ItemResult `msgpack:"items"`
}

// EncodeItemBatch encodes b, stamping the current [Version].
func EncodeItemBatch(b ItemBatch) ([]byte, error) {
	b.V = Version
	return msgpack.Marshal(&b)
}

// DecodeItemBatch decodes and validates an each task's batch.
func DecodeItemBatch(data []byte) (ItemBatch, error) {
	var b ItemBatch
	if err := decode(data, &b); err != nil {
		return ItemBatch{}, fmt.Errorf("decoding item batch: %w", err)
	}
	if err := checkVersion(b.V); err != nil {
		return ItemBatch{}, fmt.Errorf("decoding item batch: %w", err)
	}
	if len(b.Items) == 0 {
		return ItemBatch{}, fmt.Errorf("decoding item batch: %w: no items", ErrMalformed)
	}
	return b, nil
}

// EncodeItemResults encodes r, stamping the current [Version].
func EncodeItemResults(r ItemResults) ([]byte, error) {
	r.V = Version
	return msgpack.Marshal(&r)
}

// DecodeItemResults decodes and validates an each task's result payload.
func DecodeItemResults(data []byte) (ItemResults, error) {
	var r ItemResults
	if err := decode(data, &r); err != nil {
		return ItemResults{}, fmt.Errorf("decoding item results: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return ItemResults{}, fmt.Errorf("decoding item results: %w", err)
	}
	for i := range r.Items {
		if r.Items[i].End < r.Items[i].Start {
			return ItemResults{}, fmt.Errorf("decoding item results: %w: item %d ends before it starts", ErrMalformed, r.Items[i].Seq)
		}
	}
	return r, nil
}
