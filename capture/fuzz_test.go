package capture_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
)

// FuzzHandle feeds datagrams (each prefixed by its length byte) from two
// sources through the whole packet path: parse, jitter buffer, DTMF, G.711,
// VAD and jobs. It must never panic.
func FuzzHandle(f *testing.F) {
	c, err := capture.New(capture.Config{
		Listen:    []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		RateLimit: -1, InterimEvery: 200 * time.Millisecond,
	}, capturetest.Discard{})
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	local := c.Addrs()[0]
	srcs := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:4002")}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; len(b) > 0; i++ {
			n := int(b[0])
			b = b[1:]
			if n > len(b) {
				n = len(b)
			}
			c.Handle(b[:n], srcs[i%2], local)
			b = b[n:]
		}
	})
}
