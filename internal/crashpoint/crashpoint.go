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
