package fold

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestTableMatchesAccumulators folds random values of random keys into a
// Table (as raw values, as integers and as partials, with resets that
// spill its state through a Merger) and checks every key's final value
// against an Accumulator fed the same values.
func TestTableMatchesAccumulators(t *testing.T) {
	t.Parallel()
	for _, f := range []Fold{Sum, Count, Min, Max, Concat} {
		t.Run(f.Name(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(len(f.Name()))))
			want := map[string]Accumulator{}
			tab := NewTable(f)
			spilled := map[string][][]byte{} // partials of reset tables
			spill := func() {
				for _, idx := range tab.Sorted(1) {
					for _, i := range idx {
						k := string(tab.Key(int(i)))
						spilled[k] = append(spilled[k], tab.AppendPartial(nil, int(i)))
					}
				}
				tab.Reset(1 << 20)
			}
			for n := range 20000 {
				key := []byte(fmt.Sprintf("k%d", rng.IntN(3000)))
				if rng.IntN(4) == 0 {
					key = append(key, "-a-longer-key"...)
				}
				acc := want[string(key)]
				if acc == nil {
					acc = f.New()
					want[string(key)] = acc
				}
				switch rng.IntN(3) {
				case 0:
					v := randomValues(rng, f, 1)[0]
					if err := acc.Add([]byte(v)); err != nil {
						t.Fatal(err)
					}
					if err := tab.Add(key, []byte(v)); err != nil {
						t.Fatal(err)
					}
				case 1:
					v := rng.Int64N(2000) - 1000
					acc.Add(strconv.AppendInt(nil, v, 10))
					if err := tab.AddInt(key, v); err != nil {
						t.Fatal(err)
					}
				default:
					part := f.New()
					for _, v := range randomValues(rng, f, 3) {
						part.Add([]byte(v))
					}
					p := part.AppendPartial(nil)
					acc.Merge(p)
					if err := tab.Merge(key, p); err != nil {
						t.Fatal(err)
					}
				}
				if n%3001 == 3000 {
					spill()
				}
			}
			spill()
			if len(spilled) != len(want) {
				t.Fatalf("%d keys, want %d", len(spilled), len(want))
			}
			m := NewMerger(f)
			for k, parts := range spilled {
				m.Reset()
				for _, p := range parts {
					if err := m.Merge(p); err != nil {
						t.Fatal(err)
					}
				}
				if got, w := m.AppendFinal(nil), want[k].AppendFinal(nil); !bytes.Equal(got, w) {
					t.Errorf("key %s: %q, want %q", k, got, w)
				}
			}
		})
	}
}

func TestTableSortedPartitions(t *testing.T) {
	t.Parallel()
	tab := NewTable(Count)
	keys := []string{"", "a", "a\x00", "ab", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgg", "b", "\xff"}
	for _, k := range slices.Backward(keys) {
		tab.Add([]byte(k), nil)
	}
	for _, parts := range []int{1, 3} {
		var all []string
		for _, idx := range tab.Sorted(parts) {
			var run []string
			for _, i := range idx {
				run = append(run, string(tab.Key(int(i))))
			}
			if !slices.IsSorted(run) {
				t.Errorf("%d partitions: run %q is not sorted", parts, run)
			}
			all = append(all, run...)
		}
		slices.Sort(all)
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(all, want) {
			t.Errorf("%d partitions: keys %q, want %q", parts, all, want)
		}
	}
}

// TestTableResetLeavesRoom checks that a table reset once full holds at
// most the bytes Reset may keep: otherwise its owner, finding it full
// again at once, would spill a run per key.
func TestTableResetLeavesRoom(t *testing.T) {
	t.Parallel()
	for _, limit := range []int64{64 << 10, 1 << 20, 3 << 20, 5 << 20, 12 << 20, 32 << 20} {
		tab := NewTable(Sum)
		for round := range 3 {
			n := 0
			for !tab.Full(limit) {
				tab.AddInt([]byte(fmt.Sprintf("k%023d-%d", n, round)), 1)
				n++
			}
			tab.Reset(limit / 2)
			if tab.Size() > limit/2 || tab.Len() != 0 {
				t.Fatalf("limit %d, round %d: after Reset the table holds %d bytes and %d keys, full again", limit, round, tab.Size(), tab.Len())
			}
		}
	}
}

// TestTableSortedLongPrefixes sorts many keys that share long prefixes,
// differ in length, and hold zero bytes, and checks the order bytewise.
func TestTableSortedLongPrefixes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	tab := NewTable(Count)
	seen := map[string]bool{}
	for range 20000 {
		var k []byte
		switch rng.IntN(4) {
		case 0:
			k = fmt.Appendf(nil, "k%023d", rng.IntN(5000))
		case 1:
			k = fmt.Appendf(nil, "/var/log/app/%d/%d", rng.IntN(50), rng.IntN(300))
		case 2:
			k = bytes.Repeat([]byte{0}, rng.IntN(20))
		default:
			k = append(bytes.Repeat([]byte("ab"), rng.IntN(12)), byte(rng.IntN(3)))
		}
		seen[string(k)] = true
		tab.Add(k, nil)
	}
	var got []string
	for _, i := range tab.Sorted(1)[0] {
		got = append(got, string(tab.Key(int(i))))
	}
	want := slices.Sorted(maps.Keys(seen))
	if !slices.Equal(got, want) {
		t.Fatalf("%d keys out of order or missing (want %d)", len(got), len(want))
	}
}

func TestAppendIntPartialIsTheTablesPartial(t *testing.T) {
	t.Parallel()
	for _, f := range []Fold{Sum, Max, Min} {
		for _, v := range []int64{0, 1, 7, -3, 1 << 40} {
			tab := NewTable(f)
			if err := tab.AddInt([]byte("k"), v); err != nil {
				t.Fatal(err)
			}
			want := tab.AppendPartial(nil, 0)
			if got := AppendIntPartial(f, nil, v); string(got) != string(want) {
				t.Errorf("%s of %d: AppendIntPartial %q, table %q", f.Name(), v, got, want)
			}
		}
	}
}
