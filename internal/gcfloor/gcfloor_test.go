package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
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

func TestFloorMakesCollectionsRare(t *testing.T) {
	runtime.GC()
	without := churn(t, 256<<20)
	stop := Start(64<<20, noEnv)
	runtime.GC() // the floor takes the live heap this leaves
	with := churn(t, 256<<20)
	stop()
	after := churn(t, 256<<20)
	t.Logf("collections while 256 MiB of garbage are allocated: %d without a floor, %d with a 64 MiB floor, %d once it stopped", without, with, after)
	if with > 8 {
		t.Errorf("with a 64 MiB floor: %d collections for 256 MiB of garbage, want at most 8", with)
	}
	if without < 2*with || after < 2*with {
		t.Errorf("collections: %d without the floor, %d with it, %d after it: the floor did not make them rarer, or stop did not end it", without, with, after)
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
	runtime.GC()
	runtime.GC() // the cleanup of the first has run by the second's end
	if p := gogc(t); p != 100 {
		t.Errorf("GOGC with a live heap of twice the floor = %d, want 100", p)
	}
	runtime.KeepAlive(live)
	live = nil
	runtime.GC()
	runtime.GC()
	if p := gogc(t); p <= 100 {
		t.Errorf("GOGC with a small live heap = %d, want more than 100", p)
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
			runtime.GC()
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
	runtime.GC()
	runtime.GC()
	if p := gogc(t); p <= 100 {
		t.Errorf("GOGC = %d after a second Start stopped, want the first floor's", p)
	}
	stop()
	if p := gogc(t); p != 100 {
		t.Errorf("GOGC after stop = %d, want 100", p)
	}
}
