//go:build !linux

package command

import "os/exec"

// killGroupOnExit does nothing where a process cannot be waited for
// without reaping it; the command's group is killed after Wait instead.
func killGroupOnExit(*exec.Cmd) {}
