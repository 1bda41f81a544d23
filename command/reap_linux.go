package command

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// awaitExit returns once the process of a started command has exited,
// without reaping it (so that its process group keeps its ID until Wait),
// after killing the group: a background child that holds the command's
// stdout or stderr open would otherwise keep Wait waiting, and outlive
// the task.
//
// It waits in the runtime's poller on a pidfd of the process, so that no
// thread sits in a system call for the whole run of the command: a thread
// blocked that long is handed off by the Go scheduler and woken again, and
// the scheduler's monitor then polls every few microseconds, each time
// taking a core from the command. Where the kernel has no pidfd, a
// goroutine waits in waitid instead and kills the group; it ends when the
// process exits.
func awaitExit(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	if pollExit(pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return
	}
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

// pollExit waits in the runtime's poller for process pid to exit and
// reports whether it could: false if no pollable pidfd could be had.
func pollExit(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	err = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			return false
		case err != nil:
			return true // Wait will tell
		}
		// With WNOHANG, a process still running leaves si_signo 0; one
		// that exited gives SIGCHLD.
		return info.Signo != 0
	})
	return err == nil
}
