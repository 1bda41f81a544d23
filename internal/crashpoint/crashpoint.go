// Package crashpoint lets tests kill a jetmr process at a named point of
// its commit protocol, to prove that a crash between any two steps is safe.
//
// A point fires when the environment variable JETMR_CRASHPOINT names it,
// optionally with the hit to fire on: "output.checkpointed" fires on the
// first hit, "output.checkpointed:3" on the third. Firing sends SIGKILL to
// the process itself: no deferred function or buffer flush runs, as in a
// real crash. Without the variable a point costs one atomic load.
package crashpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// EnvVar names the environment variable that arms a crash point.
const EnvVar = "JETMR_CRASHPOINT"

var (
	armed    atomic.Bool
	name     string
	fireOn   int64
	hits     atomic.Int64
	loadOnce sync.Once
)

func load() {
	v := os.Getenv(EnvVar)
	if v == "" {
		return
	}
	n, count, _ := strings.Cut(v, ":")
	fireOn = 1
	if c, err := strconv.ParseInt(count, 10, 64); err == nil && c > 0 {
		fireOn = c
	}
	name = n
	armed.Store(true)
}

// Hit marks that the process reached the point named p, and kills the
// process if that point is armed and this is the hit to fire on.
func Hit(p string) {
	loadOnce.Do(load)
	if !armed.Load() || p != name {
		return
	}
	if hits.Add(1) == fireOn {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
