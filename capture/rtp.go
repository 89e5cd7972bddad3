package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Reasons a packet is refused, for errors.Is and as metric labels.
var (
	ErrMalformed   = errors.New("malformed packet")
	ErrPayloadType = errors.New("payload type not taken")
	ErrRateLimited = errors.New("rate limited")
	ErrNoRoom      = errors.New("no room for a new stream")
)

// Payload types capture takes.
const (
	ptPCMU = 0
	ptPCMA = 8
	ptCN   = 13
)

// isRTCP reports whether b is RTCP rather than RTP (RFC 5761: the second
// byte of RTCP is 192..223, which RTP with a marker bit never uses for the
// payload types taken).
func isRTCP(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}

// rtcpByeSSRCs returns the SSRCs a compound RTCP packet says goodbye for.
func rtcpByeSSRCs(b []byte) ([]uint32, error) {
	var out []uint32
	for len(b) > 0 {
		if len(b) < 4 {
			return out, fmt.Errorf("%w: rtcp: %d bytes left, shorter than a header", ErrMalformed, len(b))
		}
		if b[0]>>6 != 2 {
			return out, fmt.Errorf("%w: rtcp: version %d", ErrMalformed, b[0]>>6)
		}
		n := 4 * (int(binary.BigEndian.Uint16(b[2:4])) + 1)
		if n > len(b) {
			return out, fmt.Errorf("%w: rtcp: packet claims %d bytes, %d left", ErrMalformed, n, len(b))
		}
		if b[1] == 203 { // BYE
			count := int(b[0] & 0x1f)
			if 4+4*count > n {
				return out, fmt.Errorf("%w: rtcp bye: %d sources in %d bytes", ErrMalformed, count, n)
			}
			for i := 0; i < count; i++ {
				out = append(out, binary.BigEndian.Uint32(b[4+4*i:]))
			}
		}
		b = b[n:]
	}
	return out, nil
}

// telephoneEvent is one RFC 4733 event payload.
type telephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8
	Duration uint16
}

// parseTelephoneEvent reads the first event of an RFC 4733 payload
// (redundant generations after it repeat earlier events).
func parseTelephoneEvent(p []byte) (telephoneEvent, error) {
	if len(p) < 4 || len(p)%4 != 0 {
		return telephoneEvent{}, fmt.Errorf("%w: telephone-event payload of %d bytes, want a multiple of 4", ErrMalformed, len(p))
	}
	return telephoneEvent{
		Event:    p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(p[2:4]),
	}, nil
}

// digit names a DTMF event (0-15); other events (tones, flash) are "".
func digit(e uint8) string {
	const digits = "0123456789*#ABCD"
	if int(e) < len(digits) {
		return digits[e : e+1]
	}
	return ""
}

// isEventPayload reports whether a packet of a dynamic payload type carries
// telephone events (capture does not see the SDP; 4-byte-multiple payloads
// of a dynamic type are taken as RFC 4733).
func isEventPayload(pt uint8, payload []byte) bool {
	return pt >= 96 && pt <= 127 && len(payload) >= 4 && len(payload)%4 == 0
}

// codecName names the audio payload types taken.
func codecName(pt uint8) string {
	switch pt {
	case ptPCMU:
		return "PCMU"
	case ptPCMA:
		return "PCMA"
	}
	return ""
}

// staticNames names static payload types in refusals.
var staticNames = map[uint8]string{3: "GSM", 4: "G723", 9: "G722", 10: "L16", 11: "L16", 15: "G728", 18: "G729", 34: "H263"}

func ptName(pt uint8) string {
	if n, ok := staticNames[pt]; ok {
		return fmt.Sprintf("%d (%s)", pt, n)
	}
	return fmt.Sprint(pt)
}
