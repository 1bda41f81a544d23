package job

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	sysmem "github.com/jetmr/jetmr/internal/memory"
)

// SlotOptions describe the tasks a -j value is chosen for.
type SlotOptions struct {
	// Command is set when tasks run a command (pipe, a map command)
	// rather than a built-in Go function.
	Command bool
	// IO marks commands that mostly wait (network, disk): auto runs three
	// per core.
	IO bool
	// ChunkSize is the bytes a task holds; 0 means the largest default.
	ChunkSize int64
	// Cores and Memory override what the machine reports, for tests.
	// Memory returns the bytes available to this process.
	Cores  int
	Memory func() (int64, error)
}

// Per-task memory the auto rule budgets for: a task's own base (a Go
// map's working set, or a command's process) plus twice its chunk (input
// and output buffers).
const (
	baseBuiltin = 8 << 20
	baseCommand = 32 << 20
)

// Slots reads a -j value: N tasks, N% of the cores, or auto (also the
// default, ""). Auto is the number of cores for CPU-bound tasks and three
// per core for IO-bound commands, and never more than the available
// memory / (base per task + 2 x chunk size), memory being the cgroup's
// limit when there is one. It returns the number and why it was chosen.
func Slots(spec string, o SlotOptions) (int, string, error) {
	cores := o.Cores
	if cores <= 0 {
		cores = runtime.NumCPU()
	}
	bad := badInput("-j %q is not valid: use a number of tasks (4), a share of the cores (50%%) or auto", spec)
	switch {
	case spec == "" || spec == "auto":
		return autoSlots(cores, o)
	case strings.HasSuffix(spec, "%"):
		pct, err := strconv.ParseFloat(strings.TrimSuffix(spec, "%"), 64)
		if err != nil || pct <= 0 {
			return 0, "", bad
		}
		n := max(1, int(float64(cores)*pct/100))
		return n, fmt.Sprintf("-j %s of %d cores", spec, cores), nil
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 1 {
		return 0, "", bad
	}
	return n, fmt.Sprintf("-j %d", n), nil
}

func autoSlots(cores int, o SlotOptions) (int, string, error) {
	n, why := cores, fmt.Sprintf("%d cores", cores)
	if o.IO {
		n, why = 3*cores, fmt.Sprintf("3 x %d cores for IO-bound commands (--io)", cores)
	}
	memory := o.Memory
	if memory == nil {
		memory = sysmem.Available
	}
	avail, err := memory()
	if err != nil || avail <= 0 {
		return n, "auto: " + why + " (available memory unknown)", nil
	}
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = 8 << 20
	}
	base := int64(baseBuiltin)
	if o.Command {
		base = baseCommand
	}
	perTask := base + 2*chunk
	if byMemory := int(max(avail/perTask, 1)); byMemory < n {
		return byMemory, fmt.Sprintf("auto: %d, not %s: %d MiB available / %d MiB per task", byMemory, why, avail>>20, perTask>>20), nil
	}
	return n, fmt.Sprintf("auto: %s (%d MiB available, %d MiB per task)", why, avail>>20, perTask>>20), nil
}
