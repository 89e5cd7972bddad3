// Package sender puts calls on the wire for capture to take: Send encodes
// WAV files (one per leg) as G.711 RTP, and Replay sends the RTP streams of
// a packet capture with their original timing. Both can announce the call
// first (over NATS or HTTP) so capture knows each leg's role, and both end
// each stream with an RTCP BYE. earshot send and earshot replay are thin
// wrappers; tests call these functions in-process.
package sender
