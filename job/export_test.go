package job

import "time"

// SetWaitLogEvery changes how often a job without local workers logs that
// it waits for workers, and returns the function restoring it. Tests using
// it must not run in parallel with jobs that have no local workers.
func SetWaitLogEvery(d int64) (restore func()) {
	old := waitLogEvery
	waitLogEvery = time.Duration(d)
	return func() { waitLogEvery = old }
}

// EncodeSnapshot and DecodeSnapshot are the codec of the snapshot files a
// running job writes in its store.
var (
	EncodeSnapshot = encodeSnapshot
	DecodeSnapshot = decodeSnapshot
)

// InputsChanged is inputsChanged, for the resume check of records written
// with and without input fingerprints.
var InputsChanged = inputsChanged

// InputsDiff is inputsDiff, for the message of a resume whose inputs differ.
var InputsDiff = inputsDiff

// Speculates reports whether a job of cfg runs backup attempts.
func Speculates(cfg Config) bool { return cfg.speculative() }
