package counter_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/schema"
)

// TestSetSumsConcurrently adds from several goroutines at once, as the
// partitions of a reduce do, and lists the sums sorted.
func TestSetSumsConcurrently(t *testing.T) {
	t.Parallel()
	var s counter.Set
	ctx := counter.NewContext(context.Background(), &s)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				counter.Add(ctx, "g", "n", 1)
				s.Counter("a", "m", 2)
			}
			counter.SetStatus(ctx, "worker done")
		})
	}
	wg.Wait()
	s.AddList([]schema.Counter{{Group: "g", Name: "n", Value: -8000}, {Group: "z", Name: "", Value: 0}})
	want := []schema.Counter{{Group: "a", Name: "m", Value: 16000}, {Group: "g", Name: "n", Value: 0}, {Group: "z", Name: "", Value: 0}}
	if got := s.List(); !slices.Equal(got, want) {
		t.Errorf("List() = %+v, want %+v", got, want)
	}
	if s.LastStatus() != "worker done" {
		t.Errorf("status %q", s.LastStatus())
	}
}

// TestAddOutsideATask checks that Add and SetStatus do nothing with a
// context that carries no set.
func TestAddOutsideATask(t *testing.T) {
	t.Parallel()
	counter.Add(context.Background(), "g", "n", 1)
	counter.SetStatus(context.Background(), "x")
	if counter.FromContext(context.Background()) != nil {
		t.Error("a set out of nowhere")
	}
	var empty counter.Set
	if empty.List() != nil {
		t.Error("an empty set lists counters")
	}
}
