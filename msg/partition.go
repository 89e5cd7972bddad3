package msg

import "hash/fnv"

// Partition is the partition, of n, that call belongs to: FNV-1a (64-bit)
// of the call id, modulo n. Every process of a partitioned stage must
// agree on it, so it is part of the contract; n < 2 is partition 0.
func Partition(call string, n int) int {
	if n < 2 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(call))
	return int(h.Sum64() % uint64(n))
}
