package command

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// killGroupOnExit kills the process group of a started command as soon as
// its own process exits (without reaping it, so that the group's ID stays
// its own until Wait): a background child that holds the command's stdout
// or stderr open would otherwise keep Wait waiting, and outlive the task.
// The goroutine ends when the process exits.
func killGroupOnExit(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	go func() {
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}()
}
