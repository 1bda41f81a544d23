package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// These tests change the collector of the test process: none runs in
// parallel.

func readUint(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("metric %s not supported", name)
	}
	return s[0].Value.Uint64()
}

func cycles(t *testing.T) uint64 { return readUint(t, "/gc/cycles/total:gc-cycles") }

func gogc(t *testing.T) uint64 { return readUint(t, "/gc/gogc:percent") }

var sink []byte

// churn allocates n bytes of garbage in 64 KiB pieces and returns the
// collections that ran meanwhile.
func churn(t *testing.T, n int) uint64 {
	t.Helper()
	before := cycles(t)
	for range n / (64 << 10) {
		sink = make([]byte, 64<<10)
	}
	sink = nil
	return cycles(t) - before
}

func noEnv(string) (string, bool) { return "", false }

func goal(t *testing.T) uint64 { return readUint(t, "/gc/heap/goal:bytes") }

// goalAfterCollection collects until the heap goal is as ok wants, for up
// to 10 s, and returns the last goal.
func goalAfterCollection(t *testing.T, ok func(uint64) bool) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		g := goal(t)
		if ok(g) || time.Now().After(deadline) {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFloorSetsTheHeapGoal(t *testing.T) {
	const floor = 64 << 20
	near := func(g uint64) bool { return g > floor*7/8 && g < floor*9/8 }
	small := func(g uint64) bool { return g < floor/4 }
	if g := goalAfterCollection(t, small); !small(g) {
		t.Fatalf("heap goal %d without a floor, want a small heap's (under %d)", g, floor/4)
	}
	stop := Start(floor, noEnv)
	if g := goalAfterCollection(t, near); !near(g) {
		t.Errorf("heap goal %d with a floor of %d, want it near the floor", g, floor)
	}
	runtime.GC()
	with := churn(t, 256<<20)
	t.Logf("%d collections while 256 MiB of garbage were allocated with a 64 MiB floor", with)
	if with > 8 {
		t.Errorf("with a 64 MiB floor: %d collections for 256 MiB of garbage, want at most 8", with)
	}
	stop()
	if g := goalAfterCollection(t, small); !small(g) {
		t.Errorf("heap goal %d once the floor stopped, want a small heap's again (under %d)", g, floor/4)
	}
	if p := gogc(t); p != 100 {
		t.Errorf("GOGC after stop = %d, want 100 back", p)
	}
}

func TestFloorLeavesLargeHeapsAlone(t *testing.T) {
	stop := Start(16<<20, noEnv)
	defer stop()
	live := make([]byte, 32<<20) // twice the floor
	for i := range live {
		live[i] = 1 // touched: a live heap, not untouched address space
	}
	if p := collectUntil(t, func(p uint64) bool { return p == 100 }); p != 100 {
		t.Errorf("GOGC with a live heap of twice the floor = %d, want 100", p)
	}
	runtime.KeepAlive(live)
	live = nil
	if p := collectUntil(t, func(p uint64) bool { return p > 100 }); p <= 100 {
		t.Errorf("GOGC with a small live heap = %d, want more than 100", p)
	}
}

// collectUntil collects until GOGC is as ok wants, for up to 10 s, and
// returns the last GOGC: a collection's cleanups run after it returns.
func collectUntil(t *testing.T, ok func(uint64) bool) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		p := gogc(t)
		if ok(p) || time.Now().After(deadline) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartLeavesTheCollectorAsTheEnvironmentSetsIt(t *testing.T) {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(name, func(t *testing.T) {
			before := gogc(t)
			stop := Start(64<<20, func(k string) (string, bool) {
				if k == name {
					return "200", true
				}
				return "", false
			})
			runtime.GC()
			time.Sleep(50 * time.Millisecond) // a cleanup, were there one, has run
			if p := gogc(t); p != before {
				t.Errorf("GOGC = %d with %s set, want %d unchanged", p, name, before)
			}
			stop()
		})
	}
	t.Run("off", func(t *testing.T) {
		old := debug.SetGCPercent(-1)
		defer debug.SetGCPercent(old)
		stop := Start(64<<20, os.LookupEnv)
		defer stop()
		if p := debug.SetGCPercent(-1); p != -1 {
			t.Errorf("GOGC = %d after Start with the collector off, want it left off", p)
		}
	})
}

func TestStartTwice(t *testing.T) {
	stop := Start(64<<20, noEnv)
	again := Start(8<<20, noEnv)
	again() // the second did nothing: stopping it leaves the first running
	if p := collectUntil(t, func(p uint64) bool { return p > 100 }); p <= 100 {
		t.Errorf("GOGC = %d after a second Start stopped, want the first floor's", p)
	}
	stop()
	if p := gogc(t); p != 100 {
		t.Errorf("GOGC after stop = %d, want 100", p)
	}
}
