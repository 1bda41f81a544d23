package observe

import (
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// portableSignals are the signals whose numbers POSIX fixes on every
// platform; the rest are looked up per platform.
var portableSignals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6,
	"FPE": 8, "KILL": 9, "SEGV": 11, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

var (
	describedOnce sync.Once
	described     map[string]int // "killed" -> 9, as syscall.Signal.String spells them
)

// SignalNumber maps a signal as the engine reports it to its number: a name
// with or without the SIG prefix in any case ("KILL", "sigkill"), Go's
// description of it ("killed", "segmentation fault"), or a number ("9").
// It returns 0 for "" and for names it does not know.
func SignalNumber(sig string) int {
	s := strings.TrimSpace(sig)
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, ok := portableSignals[name]; ok {
		return n
	}
	if n := platformSignal("SIG" + name); n > 0 {
		return n
	}
	describedOnce.Do(func() {
		described = make(map[string]int)
		for n := 1; n < 65; n++ {
			d := strings.ToLower(syscall.Signal(n).String())
			if _, dup := described[d]; !dup && !strings.HasPrefix(d, "signal ") {
				described[d] = n
			}
		}
	})
	return described[strings.ToLower(s)]
}
