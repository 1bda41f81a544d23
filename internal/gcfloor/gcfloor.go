// Package gcfloor gives a process's garbage collector a heap floor: the
// collector lets the heap grow to at least a given size before it
// collects, and to twice the live heap (GOGC=100) once that is more.
//
// A jetmr worker's live heap is little more than the chunk it maps and
// that chunk's table: a few megabytes. With GOGC=100 alone the collector
// then runs after every few megabytes allocated, every task or two, and
// its marking, its write barriers and the memory it hands back to be
// faulted in again cost the worker as much as shipping it the chunk. A
// floor of tens of megabytes makes those collections rare, at the price
// of that much heap, and changes nothing for a process whose live heap
// is larger (a reduce partition's state, say).
//
// Go has no setting for a floor; [Start] keeps one by setting GOGC after
// each collection from the live heap it left.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// maxPercent bounds the GOGC that a tiny live heap would ask for.
const maxPercent = 10000

// heapMinimum is the runtime's least heap goal at GOGC=100; it scales
// with GOGC like the rest of the goal.
const heapMinimum = 4 << 20

// running is the floor in force, or nil; mu orders it with the GOGC
// that floors set.
var (
	mu      sync.Mutex
	running *floor
)

type floor struct {
	bytes   uint64
	percent int // the GOGC in force when Start was called
	stopped atomic.Bool
}

// Start makes the collector let the heap reach floor bytes before it
// collects, for as long as the live heap is under half of it, and returns
// what stops that and gives GOGC its value back. It does nothing (and
// stop does nothing) when GOGC or GOMEMLIMIT is set in the environment,
// (env is os.LookupEnv, or a stand-in in tests), which says how the
// collector is wanted, when GOGC is off, or when a floor is running
// already. A memory limit (debug.SetMemoryLimit) still
// bounds the heap below the floor.
func Start(floorBytes int64, env func(string) (string, bool)) (stop func()) {
	_, gogc := env("GOGC")
	_, limit := env("GOMEMLIMIT")
	if floorBytes <= 0 || gogc || limit {
		return func() {}
	}
	f := start(uint64(floorBytes))
	if f == nil {
		return func() {}
	}
	f.adjust()
	f.arm()
	return f.stop
}

// start makes f the running floor, or returns nil when there is one or
// the collector is off.
func start(bytes uint64) *floor {
	mu.Lock()
	defer mu.Unlock()
	if running != nil {
		return nil
	}
	percent := debug.SetGCPercent(100)
	if percent < 0 {
		debug.SetGCPercent(percent)
		return nil
	}
	running = &floor{bytes: bytes, percent: percent}
	return running
}

// stop ends the floor: the next collection's cleanup no longer re-arms,
// and GOGC is what it was.
func (f *floor) stop() {
	mu.Lock()
	defer mu.Unlock()
	if f.stopped.Swap(true) {
		return
	}
	running = nil
	debug.SetGCPercent(f.percent)
}

// sentinel is allocated to learn of the next collection: its cleanup runs
// once a collection found it unreachable. It is larger than the tiny
// allocator's blocks, which may hold an object (and delay its cleanup)
// for as long as a neighbour lives.
type sentinel struct{ _ [64]byte }

// arm runs adjust after the next collection, and again after each one
// until the floor stops.
func (f *floor) arm() {
	runtime.AddCleanup(new(sentinel), func(f *floor) {
		if f.stopped.Load() {
			return
		}
		f.adjust()
		f.arm()
	}, f)
}

// adjust sets GOGC so that the next collection comes when the heap is
// max(floor, 2 × live). The collector's goal is the live heap plus GOGC
// percent of the live heap, the goroutine stacks and the globals, and at
// least GOGC percent of heapMinimum: GOGC is worked out from those.
func (f *floor) adjust() {
	sample := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}
	metrics.Read(sample)
	var live, scan uint64
	for i, s := range sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return // an unknown metric: GOGC stays as it is
		}
		if i == 0 {
			live = s.Value.Uint64()
		}
		scan += s.Value.Uint64()
	}
	percent := 100
	if live < f.bytes/2 && scan > 0 {
		p := min((f.bytes-live)*100/scan, f.bytes*100/heapMinimum)
		percent = int(min(max(p, 100), maxPercent))
	}
	mu.Lock()
	defer mu.Unlock()
	if !f.stopped.Load() {
		debug.SetGCPercent(percent)
	}
}
