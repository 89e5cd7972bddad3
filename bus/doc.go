// Package bus owns Earshot's NATS wiring: the embedded NATS server with
// JetStream, connecting to an external server or cluster, the JetStream
// streams every stage relies on, and the one consume loop (ack after the work
// is done, retry with backoff, dead-letter after bounded retries) that stages
// share. It knows the subjects from package msg and nothing of the stages.
package bus
