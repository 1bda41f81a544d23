package counter_test

import (
	"context"
	"math"
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

// TestSetSaturates checks that a sum past the range of an int64 stays at
// the bound it passed, listed as saturated, instead of wrapping around,
// and that a saturated counter added to another set saturates it.
func TestSetSaturates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		amounts []int64
		want    int64
		sat     bool
	}{
		{"up to the bound", []int64{math.MaxInt64 - 1, 1}, math.MaxInt64, false},
		{"past the top", []int64{math.MaxInt64, 1}, math.MaxInt64, true},
		{"past the top stays", []int64{math.MaxInt64, math.MaxInt64, math.MinInt64}, math.MaxInt64, true},
		{"past the bottom", []int64{math.MinInt64, -1}, math.MinInt64, true},
		{"down to the bound", []int64{math.MinInt64 + 1, -1}, math.MinInt64, false},
		{"back and forth", []int64{math.MaxInt64, math.MinInt64, math.MaxInt64}, math.MaxInt64 - 1, false},
	}
	for _, tt := range tests {
		var s counter.Set
		for _, n := range tt.amounts {
			s.Add("g", "n", n)
		}
		want := []schema.Counter{{Group: "g", Name: "n", Value: tt.want, Saturated: tt.sat}}
		if got := s.List(); !slices.Equal(got, want) {
			t.Errorf("%s: List() = %+v, want %+v", tt.name, got, want)
		}
		if tt.sat {
			var merged counter.Set
			merged.Add("g", "n", -tt.want/2) // back in range, were the flag lost
			merged.AddList(s.List())
			if got := merged.List()[0]; !got.Saturated || got.Value != tt.want {
				t.Errorf("%s: merged into another set: %+v, want it saturated at %d", tt.name, got, tt.want)
			}
		}
	}
}
