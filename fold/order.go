package fold

import (
	"slices"

	"github.com/jetmr/jetmr/schema"
)

// SortedBy is [Table.Sorted] for a job whose keys partition and sort as k
// says (schema.Keys: partition fields, key order): the entries split by
// k.Partition, each partition sorted by k.Compare.
func SortedBy(t *Table, k schema.Keys, partitions int) [][]uint32 {
	if k.Default() {
		return t.Sorted(partitions)
	}
	all := t.Sorted(1)[0]
	out := make([][]uint32, partitions)
	for _, i := range all {
		p := k.Partition(t.Key(int(i)), partitions)
		out[p] = append(out[p], i)
	}
	if cmp := k.Comparer(); cmp != nil {
		for _, idx := range out {
			slices.SortFunc(idx, func(a, b uint32) int { return cmp(t.Key(int(a)), t.Key(int(b))) })
		}
	}
	return out
}

// SortedPartitionBy is [Table.SortedPartition] for a job whose keys
// partition and sort as k says: SortedBy(t, k, partitions)[part].
func SortedPartitionBy(t *Table, k schema.Keys, partitions, part int) []uint32 {
	if k.Default() {
		return t.SortedPartition(partitions, part)
	}
	return SortedBy(t, k, partitions)[part]
}
