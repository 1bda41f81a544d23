//go:build unix

package observe

import "golang.org/x/sys/unix"

func platformSignal(name string) int { return int(unix.SignalNum(name)) }
