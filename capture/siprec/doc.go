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
package siprec
