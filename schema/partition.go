package schema

// Partition returns the reduce partition, in [0, partitions), of a key. It
// is FNV-1a (32 bit) of the key modulo the partition count: every worker
// and reducer of a job must agree on it, so it is part of the wire format.
// partitions < 1 is a programming error and panics.
func Partition(key []byte, partitions int) int {
	if partitions < 1 {
		panic("schema.Partition: partitions must be at least 1")
	}
	if partitions == 1 {
		return 0
	}
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for _, c := range key {
		h ^= uint32(c)
		h *= prime32
	}
	return int(h % uint32(partitions))
}
