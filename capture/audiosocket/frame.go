package audiosocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The frame kinds.
const (
	KindHangup  = 0x00
	KindUUID    = 0x01
	KindDTMF    = 0x03
	KindSlin    = 0x10 // 8 kHz
	KindSlin12  = 0x11
	KindSlin16  = 0x12 // 16 kHz
	KindSlin192 = 0x18
	KindError   = 0xff
)

// maxAudio bounds an audio frame's payload: 100 ms at 16 kHz.
const maxAudio = 3200

// ErrFrame marks a frame that is not of the protocol.
var ErrFrame = errors.New("audiosocket: bad frame")

// Frame is one AudioSocket message.
type Frame struct {
	Kind    byte
	Payload []byte
}

// ReadFrame reads one frame into buf (grown as needed, at most 64 KiB) and
// checks its length against its kind.
func ReadFrame(r io.Reader, buf []byte) (Frame, []byte, error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, buf, err
	}
	f := Frame{Kind: h[0]}
	n := int(binary.BigEndian.Uint16(h[1:]))
	if err := checkLen(f.Kind, n); err != nil {
		return f, buf, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	f.Payload = buf[:n]
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return f, buf, fmt.Errorf("%w: kind 0x%02x: payload of %d bytes cut short: %v", ErrFrame, f.Kind, n, err)
	}
	if f.Kind == KindDTMF && !strings.ContainsRune("0123456789*#ABCD", rune(f.Payload[0])) {
		return f, buf, fmt.Errorf("%w: DTMF %q: want 0-9, *, #, A-D", ErrFrame, f.Payload[0])
	}
	return f, buf, nil
}

func checkLen(kind byte, n int) error {
	want := ""
	switch kind {
	case KindHangup:
		if n != 0 {
			want = "0"
		}
	case KindUUID:
		if n != 16 {
			want = "16"
		}
	case KindDTMF:
		if n != 1 {
			want = "1"
		}
	case KindError:
		if n > 16 {
			want = "at most 16"
		}
	default:
		if kind < KindSlin || kind > KindSlin192 {
			return fmt.Errorf("%w: kind 0x%02x is not of the protocol", ErrFrame, kind)
		}
		if n%2 != 0 || n > maxAudio {
			want = fmt.Sprintf("an even number up to %d", maxAudio)
		}
	}
	if want != "" {
		return fmt.Errorf("%w: kind 0x%02x with %d payload bytes: want %s", ErrFrame, kind, n, want)
	}
	return nil
}

// AppendFrame appends a frame of kind with payload to dst, as Asterisk
// writes it.
func AppendFrame(dst []byte, kind byte, payload []byte) []byte {
	dst = append(dst, kind, 0, 0)
	binary.BigEndian.PutUint16(dst[len(dst)-2:], uint16(len(payload)))
	return append(dst, payload...)
}

// uuidText formats a 16-byte UUID as 8-4-4-4-12 lower-case hex.
func uuidText(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
