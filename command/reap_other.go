//go:build !linux

package command

import "os/exec"

// awaitExit returns at once where a process cannot be waited for without
// reaping it; the command's group is killed after Wait instead.
func awaitExit(*exec.Cmd) {}
