package runfile_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/internal/runfile"
)

// pairsSource reads sorted pairs.
type pairsSource struct{ keys [][]byte }

func (s *pairsSource) Next() (key, value []byte, err error) {
	if len(s.keys) == 0 {
		return nil, nil, io.EOF
	}
	k := s.keys[0]
	s.keys = s.keys[1:]
	return k, []byte{byte(len(s.keys))}, nil
}

// TestMergeOrdersKeysThatShareTheirFirst8Bytes merges sources of keys
// that are prefixes of one another, with zero bytes, 0xff bytes and
// lengths around 8, the merge's shortcut on first 8 bytes: the order
// must be bytewise.
func TestMergeOrdersKeysThatShareTheirFirst8Bytes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	alphabet := []byte{0, 1, 'a', 0xff}
	for range 200 {
		var srcs []runfile.Source
		var all [][]byte
		for range 1 + rng.IntN(5) {
			var keys [][]byte
			for range rng.IntN(40) {
				k := make([]byte, rng.IntN(12))
				for i := range k {
					k[i] = alphabet[rng.IntN(len(alphabet))]
				}
				keys = append(keys, k)
			}
			slices.SortFunc(keys, bytes.Compare)
			all = append(all, keys...)
			srcs = append(srcs, &pairsSource{keys: keys})
		}
		slices.SortFunc(all, bytes.Compare)
		var got [][]byte
		err := runfile.Merge(context.Background(), srcs, nil, false, func(k, _ []byte) error {
			got = append(got, bytes.Clone(k))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, all, bytes.Equal) {
			t.Fatalf("merged %q, want %q", got, all)
		}
	}
}
