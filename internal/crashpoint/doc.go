// Package crashpoint lets tests kill a jetmr process at a named point of
// its commit protocol, to prove that a crash between any two steps is safe.
//
// A point fires when the environment variable JETMR_CRASHPOINT names it,
// optionally with the hit to fire on: "output.checkpointed" fires on the
// first hit, "output.checkpointed:3" on the third. Firing sends SIGKILL to
// the process itself: no deferred function or buffer flush runs, as in a
// real crash. A point armed with "=INT" or "=TERM" ("commit.renamed=INT")
// sends SIGINT or SIGTERM instead and goes on once the process has
// received it: a user's interrupt that arrives at exactly that step.
// Without the variable a point costs one atomic load.
package crashpoint
