//go:build !linux

package command

import "os"

// growPipe does nothing where a pipe's size is fixed.
func growPipe(*os.File, int64) int64 { return 0 }

// pipeBudgetBytes is unused where pipes cannot grow.
func pipeBudgetBytes() int64 { return 0 }
