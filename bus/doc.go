// Package bus owns Earshot's NATS wiring: the embedded NATS server with
// JetStream (alone or as a cluster node), connecting to an external server
// or cluster, the JetStream streams every stage relies on and their
// replicas, the one consume loop (ack after the work is done, retry with
// backoff, dead-letter after bounded retries) that stages share, and the
// partitions, leased in NATS KV, over which several processes of a stage
// share the calls. It knows the subjects from package msg and nothing of
// the stages.
package bus
