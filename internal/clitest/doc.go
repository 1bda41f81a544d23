// Package clitest runs the jetmr binary in tests: [Build] compiles it once
// per test binary, [Start] and [Run] run it with a private state
// directory, and [Proc] reports how it ended, with 128+N for a death by
// signal N, as a shell would. It also holds the checks of jetmr's output
// that several packages' tests share ([ReadParts]).
//
// Every process a test starts is killed and waited for when the test ends;
// the goroutine waiting for it belongs to its Proc. The package is for
// tests only.
package clitest
