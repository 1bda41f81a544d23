package schema

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
)

// ErrChecksum means shipped data does not match the checksum it travels
// with: it was damaged or replaced on the way.
var ErrChecksum = errors.New("checksum mismatch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the checksum a task carries for its shipped data: the
// CRC-32C of data, 4 bytes big-endian.
func Checksum(data []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, castagnoli))
}

// NewChecksum returns a hash whose Sum(nil) is the [Checksum] of the
// bytes written to it, for data read as a stream.
func NewChecksum() hash.Hash32 { return crc32.New(castagnoli) }

// VerifyChecksum checks data against the task's Sum, returning an error
// wrapping [ErrChecksum] that names the task when they differ.
func VerifyChecksum(t *Task, data []byte) error {
	return VerifySum(t, Checksum(data), int64(len(data)))
}

// VerifySum checks got, the [Checksum] of n bytes, against the task's
// Sum, returning an error wrapping [ErrChecksum] that names the task when
// they differ.
func VerifySum(t *Task, got []byte, n int64) error {
	if !bytes.Equal(got, t.Sum) {
		return fmt.Errorf("task %d of job %s: %w: %d bytes have CRC-32C %x, the task says %x",
			t.Index, t.Job, ErrChecksum, n, got, t.Sum)
	}
	return nil
}
