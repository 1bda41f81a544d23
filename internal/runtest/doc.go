// Package runtest checks readers of sorted runs that tell where each pair
// starts and read a run from any of its pairs on (schema.RunScanner,
// runfile.Reader): started at a pair, a reader must read what a reader
// from the run's start read from there, and one skipping values the same
// keys. It is for tests only.
package runtest
