// Package audiosocket is capture's intake for Asterisk AudioSocket (the
// AudioSocket() dialplan application and channel, Asterisk 18+): one TCP
// connection per leg, carrying frames of a one-byte kind, a two-byte
// big-endian payload length and the payload.
//
// The first frame is the UUID (kind 0x01, 16 bytes). It names the call
// and the leg. When an announce (msg.CallAnnounce, over NATS or HTTP)
// named a leg by this UUID (msg.LegSpec.ID), the leg joins that call in
// the announced role, and the call has the announce's agent, queue and
// attributes. Otherwise a convention: the call id is the UUID in its text
// form with its last hex digit set to 0, and that last digit is the leg's
// role: a for the agent, c for the customer, any other for legs a and b
// in the order they connect. So a dialplan gives both legs of a call one
// UUID that differs only in its last digit. Audio is signed linear 16-bit little-endian mono
// at 8 kHz (kind 0x10) or 16 kHz (0x12, low-pass filtered and decimated to
// 8 kHz); DTMF (0x03) is one ASCII digit; a hangup (0x00) or the
// connection closing ends the leg, and the call ends once all its legs
// have. An error frame (0xff) ends the leg too, logged.
//
// A frame of another kind, a length that does not fit its kind, or
// anything before the UUID closes the connection, counted by capture
// (intake audiosocket) with the reason; other connections go on.
//
// The protocol's authors' Go package (github.com/CyCoreSystems/audiosocket)
// is not served by the Go module proxy, so the few lines of framing are
// here.
package audiosocket
