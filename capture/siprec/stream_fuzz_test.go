package siprec

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzStreamCheck: any bytes of a SIP stream, in any two chunks, parse or
// fail as the stack's stream parser does, never a panic; after a failure
// nothing more is parsed.
func FuzzStreamCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		c := &countingConn{s: &Server{parser: sip.NewParser()}}
		at := int(cut) % (len(b) + 1)
		for _, chunk := range [][]byte{b[:at], b[at:]} {
			if len(chunk) == 0 {
				continue
			}
			if err := c.check(chunk); err != nil {
				break
			}
		}
		if c.par != nil {
			c.par.Close()
		}
	})
}
