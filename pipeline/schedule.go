package pipeline

// Stage states in a pipeline run and its report.
const (
	StatePending     = "pending"
	StateResumable   = "resumable" // pending, with a job record to resume
	StateRunning     = "running"
	StateDone        = "done"
	StateAlreadyDone = "already done" // done by an earlier run (--resume)
	StateFailed      = "failed"
	StateStopped     = "stopped" // interrupted; --resume continues it
	StateNotRun      = "not run" // a stage it depends on failed
)

// allocation is the slots a stage starts with.
type allocation struct {
	stage *StagePlan
	slots int
}

// allocate shares free slots among the ready stages, given most work
// ahead first. Each started stage gets at least one slot, so when slots
// are short the first stages start and the others wait. The slots left
// over go one at a time to the stage with the most estimated work ahead
// of it (Rest: its own and its longest chain of dependents) per slot,
// within its cap (caps[name], 0 for none), ties to the earlier stage: the
// critical path gets the larger share.
func allocate(free int, ready []*StagePlan, caps map[string]int) []allocation {
	n := min(free, len(ready))
	if n <= 0 {
		return nil
	}
	out := make([]allocation, n)
	for i := range out {
		out[i] = allocation{stage: ready[i], slots: 1}
	}
	for left := free - n; left > 0; left-- {
		best := -1
		var bestLoad float64
		for i, a := range out {
			if c := caps[a.stage.Name]; c > 0 && a.slots >= c {
				continue
			}
			load := float64(a.stage.Rest) / float64(a.slots)
			if best < 0 || load > bestLoad {
				best, bestLoad = i, load
			}
		}
		if best < 0 {
			break // every stage is at its cap
		}
		out[best].slots++
	}
	return out
}
