package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// profileEnv names the file jetmr writes a CPU profile of its own process
// to, for the engineers who profile it (go tool pprof jetmr FILE); unset,
// nothing is profiled. It is left out of the help on purpose.
const profileEnv = "JETMR_CPUPROFILE"

// startProfile starts the CPU profile $JETMR_CPUPROFILE asks for and
// returns what stops it. At the stop, jetmr's own CPU time (user and
// system, the commands it ran excluded) is printed to stderr.
func startProfile() (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "jetmr: %s: %v\n", profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			fmt.Fprintf(os.Stderr, "jetmr: own CPU %.3fs user, %.3fs system; context switches %d voluntary, %d involuntary\n",
				time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds(), ru.Nvcsw, ru.Nivcsw)
		}
	}
}
