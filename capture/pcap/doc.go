// Package pcap reads packet captures (classic pcap and pcapng, Ethernet,
// Linux cooked SLL/SLL2, raw IP and BSD loopback links) down to their UDP
// datagrams, and finds the RTP streams in them, paired into calls by the SIP
// Call-ID and SDP of the capture when present, else by endpoint pair.
//
// It is pure Go and owns no goroutines; earshot replay is its user.
package pcap
