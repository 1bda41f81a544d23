package mapper

import (
	"context"
	"testing"

	"github.com/jetmr/jetmr/broker"
)

// TestMissedRecord: a record the bucket holds at a revision the watch did
// not deliver is reported at the second check that finds it, not at the
// first (it may be on its way); one delivered meanwhile is not.
func TestMissedRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jobs, err := b.Jobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(PoolConfig{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) uint64 {
		t.Helper()
		rev, err := jobs.Put(ctx, key, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	a, c := put("a"), put("c")
	put("a.checkpoint") // not a job record
	seen, missed := map[string]uint64{"a": a}, map[string]uint64{}
	check := func(want string) {
		t.Helper()
		if got := p.missedRecord(ctx, jobs, "*", seen, missed); got != want {
			t.Fatalf("missedRecord = %q, want %q", got, want)
		}
	}
	check("")
	seen["c"] = c // delivered between the checks
	check("")
	d := put("d")
	check("")
	check("the watch did not deliver the record of job d")
	seen["d"] = d
	a = put("a") // a new revision of a record the watch delivered before
	check("")
	check("the watch did not deliver the record of job a")
}
