package schema_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// BenchmarkKeysCompare sorts keys of two fields by the text order: the
// whole key bytewise (a job recorded before TextByField), field by field
// by the fast comparison, and field by field by the per-field loop of an
// explicit order, for scale.
//
//	go test -run '^$' -bench KeysCompare -count 5 ./schema
func BenchmarkKeysCompare(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([][]byte, 100_000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user-%08d\t%d", rng.IntN(20_000), rng.IntN(1_000_000))
	}
	for _, k := range []struct {
		name string
		keys schema.Keys
	}{
		{"bytewise", schema.Keys{Fields: 2}},
		{"by-field", schema.Keys{Fields: 2, TextByField: true}},
		{"order-loop", schema.Keys{Fields: 2, Order: []schema.FieldOrder{{}}}},
	} {
		b.Run(k.name, func(b *testing.B) {
			work := make([][]byte, len(keys))
			for range b.N {
				copy(work, keys)
				slices.SortFunc(work, k.keys.Compare)
			}
		})
	}
}
