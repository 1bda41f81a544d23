package schema_test

import (
	"testing"

	"github.com/jetmr/jetmr/schema"
)

func TestKinds(t *testing.T) {
	t.Parallel()
	for _, k := range schema.Kinds {
		if !k.Valid() || k.Traits().Split == 0 {
			t.Errorf("kind %s: valid %v, traits %+v", k, k.Valid(), k.Traits())
		}
	}
	for _, k := range []schema.Kind{"", "Pipe", "map-reduce"} {
		if k.Valid() || k.Traits() != (schema.Traits{}) {
			t.Errorf("kind %q is valid (%v) or has traits %+v", k, k.Valid(), k.Traits())
		}
	}
	// Exactly one kind merges each way.
	var ordered, keyed, perItem, rows int
	for _, k := range schema.Kinds {
		tr := k.Traits()
		for _, c := range []struct {
			on bool
			n  *int
		}{{tr.Ordered, &ordered}, {tr.Keyed, &keyed}, {tr.PerItem, &perItem}, {tr.Rows, &rows}} {
			if c.on {
				*c.n++
			}
		}
	}
	if ordered != 1 || keyed != 1 || perItem != 1 || rows != 1 {
		t.Errorf("ordered %d, keyed %d, per item %d, rows %d kinds; want one each", ordered, keyed, perItem, rows)
	}
}
