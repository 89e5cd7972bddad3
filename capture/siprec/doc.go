// Package siprec is capture's SIPREC intake (RFC 7866): a SIP user agent
// server, built on github.com/emiago/sipgo, that a session recording
// client (an SBC such as Cisco CUBE, or a PBX) sends a recording session
// to. An INVITE carries the offer's SDP and the RFC 7865 metadata
// (application/rs-metadata+xml) in a multipart/mixed body; the server
// answers with a local RTP port per offered stream, maps each stream to
// its participant (participantstreamassoc) and each participant to a role
// by the configured rules, and feeds the RTP to capture through
// capture.Leg.RTP, so the call takes the RTP path (jitter buffer, G.711,
// RFC 4733 DTMF).
//
// A session's streams get media ports two apart from a configured range
// (stream i at base+2i), as media servers answer, so a client that plays
// one capture of several streams at port offsets (SIPp) reaches each. A
// session that has neither RTP nor SIP of its own for Config.Idle ends,
// reason timeout. What the SIP stack cannot parse is counted, reason
// "malformed", over UDP (a read filter) and over TCP and TLS (a stream
// parser beside the stack's on each connection).
package siprec
