package crashpoint

import (
	"os"
	"os/signal"
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
	sig      = syscall.SIGKILL
	loadOnce sync.Once
)

func load() {
	v := os.Getenv(EnvVar)
	if v == "" {
		return
	}
	v, s, _ := strings.Cut(v, "=")
	switch s {
	case "INT":
		sig = syscall.SIGINT
	case "TERM":
		sig = syscall.SIGTERM
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
// process if that point is armed and this is the hit to fire on. A point
// armed with a signal other than SIGKILL sends it and returns once the
// process's signal handlers have received it.
func Hit(p string) {
	loadOnce.Do(load)
	if !armed.Load() || p != name {
		return
	}
	if hits.Add(1) != fireOn {
		return
	}
	if sig == syscall.SIGKILL {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	got := make(chan os.Signal, 1)
	signal.Notify(got, sig)
	defer signal.Stop(got)
	syscall.Kill(os.Getpid(), sig)
	<-got
}
