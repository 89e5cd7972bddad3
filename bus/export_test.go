package bus

// Partition is partition, for the tests.
var Partition = partition
